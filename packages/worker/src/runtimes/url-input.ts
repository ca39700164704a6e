/** Fetches a task's `url` input (`PredictRequest.url`) for in-process runtimes. */

export interface UrlInputOptions {
  signal?: AbortSignal;
  /** Default 60,000 ms. */
  timeoutMs?: number;
  /** Largest body accepted. Default 64 MiB. */
  maxBytes?: number;
}

export type UrlInput = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * GETs an `http:` or `https:` URL. The body is parsed as JSON when it is JSON, else handed over as raw
 * bytes (`Uint8Array`). Errors name the URL without its query string (which may hold a signature).
 */
export async function fetchUrlInput(url: string, options: UrlInputOptions = {}): Promise<UrlInput> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, error: `url is not a valid URL: ${JSON.stringify(url.slice(0, 200))}.` };
  }
  const shown = `${parsed.origin}${parsed.pathname}`;
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return { ok: false, error: `url must be an http or https URL, not ${parsed.protocol} (${shown}).` };
  }
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 60_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    const response = await fetch(parsed, { signal, redirect: "follow" });
    if (!response.ok) {
      await response.body?.cancel();
      return { ok: false, error: `Fetching the input url ${shown} failed: HTTP ${response.status}.` };
    }
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > maxBytes) {
      await response.body?.cancel();
      return {
        ok: false,
        error: `The input at ${shown} is ${declared} bytes; at most ${maxBytes} are accepted.`,
      };
    }
    const bytes = await readAtMost(response, maxBytes);
    if (!bytes) return { ok: false, error: `The input at ${shown} is larger than ${maxBytes} bytes.` };
    try {
      return { ok: true, value: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) };
    } catch {
      return { ok: true, value: bytes };
    }
  } catch (error) {
    const reason = timeout.aborted ? "timed out" : (error as Error).message;
    return { ok: false, error: `Fetching the input url ${shown} failed: ${reason}.` };
  }
}

async function readAtMost(response: Response, maxBytes: number): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (!response.body) return new Uint8Array(0);
  for await (const chunk of response.body) {
    total += chunk.length;
    if (total > maxBytes) return undefined; // leaving the loop cancels the body
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
