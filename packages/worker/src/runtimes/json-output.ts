/** Checks that a model's output can be sent as JSON, naming the first part that cannot. */

/**
 * Undefined when `value` is JSON-serialisable as is: null, booleans, strings, finite numbers, arrays and
 * plain objects of those, or objects with a `toJSON` method (such as `Date`). Otherwise a description
 * of the first offending part, e.g. `output.items[2] is a function` or `output is a Map`. Object
 * properties that are `undefined` are allowed (JSON leaves them out).
 *
 * @example describeNonJson({ a: [1, 2n] }) // "output.a[1] is a bigint"
 */
export function describeNonJson(value: unknown, path = "output"): string | undefined {
  try {
    return check(value, path, new Set());
  } catch (error) {
    if (error instanceof RangeError) return `${path} is nested too deeply`;
    throw error;
  }
}

function check(value: unknown, path: string, ancestors: Set<object>): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : `${path} is a non-finite number (${value})`;
    case "undefined":
      return `${path} is undefined`;
    case "function":
      return `${path} is a function`;
    case "symbol":
      return `${path} is a symbol`;
    case "bigint":
      return `${path} is a bigint`;
  }
  if (value === null) return undefined;
  const object = value as object;
  if (typeof (object as { toJSON?: unknown }).toJSON === "function") return undefined;
  if (ancestors.has(object)) return `${path} is a circular reference`;
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      for (let i = 0; i < object.length; i++) {
        const problem = check(object[i], `${path}[${i}]`, ancestors);
        if (problem) return problem;
      }
      return undefined;
    }
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      return `${path} is ${article(typeName(object))} (return plain objects and arrays)`;
    }
    for (const key of Object.keys(object)) {
      const child = (object as Record<string, unknown>)[key];
      if (child === undefined) continue;
      const problem = check(child, `${path}.${key}`, ancestors);
      if (problem) return problem;
    }
    return undefined;
  } finally {
    ancestors.delete(object);
  }
}

/** The constructor name of an object, or its `typeof`. */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor
    ?.name;
  return name && name.length > 0 ? name : "object";
}

function article(name: string): string {
  return /^[aeiouAEIOU]/.test(name) ? `an ${name}` : `a ${name}`;
}
