/**
 * A tiny Prometheus registry: counters and histograms with labels, rendered in the text exposition
 * format 0.0.4 (what `GET /metrics` answers). No dependencies, no background work: values are plain
 * numbers updated in place, and rendering walks them once.
 */

/** The `content-type` of {@link MetricsRegistry.render}'s output. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Label values by label name. */
export type Labels = Readonly<Record<string, string>>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "histogram";
  render(): string[];
}

/** A monotonically increasing count, one value per label set. */
export class Counter implements Metric {
  readonly type = "counter";
  readonly #values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** Adds `by` (default 1, never negative) to the series of `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`counter ${this.name} can only go up (got ${by})`);
    const key = seriesKey(this.name, this.labelNames, labels);
    const entry = this.#values.get(key);
    if (entry) entry.value += by;
    else this.#values.set(key, { labels: ordered(this.labelNames, labels), value: by });
  }

  /** The current value of one series (0 when it has never been incremented). */
  get(labels: Labels = {}): number {
    return this.#values.get(seriesKey(this.name, this.labelNames, labels))?.value ?? 0;
  }

  render(): string[] {
    return [...this.#values.values()].map(
      ({ labels, value }) => `${this.name}${formatLabels(labels)} ${formatNumber(value)}`,
    );
  }
}

/** Observations counted into fixed cumulative buckets, with their sum and count, per label set. */
export class Histogram implements Metric {
  readonly type = "histogram";
  readonly buckets: readonly number[];
  readonly #series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    buckets: readonly number[],
    readonly labelNames: readonly string[],
  ) {
    if (
      buckets.length === 0 ||
      buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))
    ) {
      throw new RangeError(`histogram ${name} needs finite buckets in increasing order`);
    }
    if (labelNames.includes("le")) throw new RangeError(`histogram ${name} cannot have a label named 'le'`);
    this.buckets = [...buckets];
  }

  /** Records one observation (seconds, for durations). */
  observe(value: number, labels: Labels = {}): void {
    const key = seriesKey(this.name, this.labelNames, labels);
    let series = this.#series.get(key);
    if (!series) {
      series = {
        labels: ordered(this.labelNames, labels),
        counts: this.buckets.map(() => 0),
        sum: 0,
        count: 0,
      };
      this.#series.set(key, series);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) series.counts[i]!++;
    series.sum += value;
    series.count++;
  }

  /** The number of observations and their sum for one series. */
  get(labels: Labels = {}): { count: number; sum: number } {
    const series = this.#series.get(seriesKey(this.name, this.labelNames, labels));
    return { count: series?.count ?? 0, sum: series?.sum ?? 0 };
  }

  render(): string[] {
    const lines: string[] = [];
    for (const { labels, counts, sum, count } of this.#series.values()) {
      this.buckets.forEach((bound, i) => {
        lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: formatNumber(bound) })} ${counts[i]}`);
      });
      lines.push(`${this.name}_bucket${formatLabels({ ...labels, le: "+Inf" })} ${count}`);
      lines.push(`${this.name}_sum${formatLabels(labels)} ${formatNumber(sum)}`);
      lines.push(`${this.name}_count${formatLabels(labels)} ${count}`);
    }
    return lines;
  }
}

/**
 * A set of metrics that renders as one Prometheus text page. Asking twice for the same name returns the
 * same metric (so several components, or several instances of one, share a series).
 *
 * @example
 * const registry = new MetricsRegistry();
 * const sent = registry.counter("launch_things_total", "Things sent.", ["outcome"]);
 * sent.inc({ outcome: "ok" });
 * registry.render(); // "# HELP launch_things_total Things sent.\n# TYPE launch_things_total counter\n..."
 */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Metric>();

  /** The counter named `name`, created on first use. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#getOrCreate(name, "counter", () => new Counter(name, help, checkLabels(name, labelNames)));
  }

  /** The histogram named `name`, created on first use with these bucket upper bounds. */
  histogram(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly string[] = [],
  ): Histogram {
    return this.#getOrCreate(
      name,
      "histogram",
      () => new Histogram(name, help, buckets, checkLabels(name, labelNames)),
    );
  }

  /** Every metric in the text exposition format 0.0.4 (ends with a newline). */
  render(): string {
    const lines: string[] = [];
    for (const metric of this.#metrics.values()) {
      lines.push(`# HELP ${metric.name} ${escapeHelp(metric.help)}`, `# TYPE ${metric.name} ${metric.type}`);
      lines.push(...metric.render());
    }
    return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
  }

  #getOrCreate<T extends Metric>(name: string, type: Metric["type"], create: () => T): T {
    const existing = this.#metrics.get(name);
    if (existing) {
      if (existing.type !== type)
        throw new Error(`metric ${name} is already registered as a ${existing.type}`);
      return existing as T;
    }
    if (!NAME.test(name))
      throw new RangeError(`metric name ${JSON.stringify(name)} is not a Prometheus name`);
    const metric = create();
    this.#metrics.set(name, metric);
    return metric;
  }
}

/** The process-wide registry that `GET /metrics` renders. */
export const defaultRegistry = new MetricsRegistry();

/**
 * Every metric of the process-wide registry, in Prometheus text format; serve it with
 * {@link PROMETHEUS_CONTENT_TYPE}.
 *
 * @example reply.header("content-type", PROMETHEUS_CONTENT_TYPE).send(renderMetrics());
 */
export function renderMetrics(): string {
  return defaultRegistry.render();
}

function checkLabels(name: string, labelNames: readonly string[]): readonly string[] {
  for (const label of labelNames) {
    if (!LABEL.test(label) || label.startsWith("__")) {
      throw new RangeError(`metric ${name} has an invalid label name ${JSON.stringify(label)}`);
    }
  }
  return [...labelNames];
}

function seriesKey(name: string, labelNames: readonly string[], labels: Labels): string {
  const given = Object.keys(labels);
  if (given.length !== labelNames.length || labelNames.some((label) => typeof labels[label] !== "string")) {
    throw new RangeError(
      `metric ${name} takes labels [${labelNames.join(", ")}] (got [${given.join(", ")}])`,
    );
  }
  return labelNames.map((label) => labels[label]).join("\u0000");
}

/** The labels in declaration order, so rendering is stable. */
function ordered(labelNames: readonly string[], labels: Labels): Labels {
  return Object.fromEntries(labelNames.map((label) => [label, labels[label] as string]));
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatNumber(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}
