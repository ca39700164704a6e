/** The prefixes of Launch's ids; the part after `_` is a sortable ULID-style id. */
export const ID_PREFIXES = {
  bundle: "bun",
  endpoint: "end",
  task: "tsk",
  delivery: "dlv",
  attempt: "att",
  key: "key",
  upload: "upl",
  batchJob: "job",
  worker: "wrk",
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";

let lastTime = 0;
let lastRandom: Uint8Array = new Uint8Array(10);

/**
 * A 26-character, lexicographically sortable id (48-bit millisecond time, 80 random bits), lower-case
 * Crockford base32. Ids made in the same millisecond by one process still sort in creation order.
 *
 * @example sortableId() // "01jdq9z6v4k3m8n2p5r7s9t1vw"
 */
export function sortableId(now = Date.now()): string {
  let random: Uint8Array;
  if (now <= lastTime) {
    random = increment(lastRandom);
    now = lastTime;
  } else {
    random = globalThis.crypto.getRandomValues(new Uint8Array(10));
  }
  lastTime = now;
  lastRandom = random;
  let out = "";
  let t = now;
  const timeChars: string[] = [];
  for (let i = 0; i < 10; i++) {
    timeChars.push(CROCKFORD[t % 32]!);
    t = Math.floor(t / 32);
  }
  out += timeChars.reverse().join("");
  // 80 bits -> 16 chars of 5 bits.
  let bits = 0;
  let value = 0;
  for (const byte of random) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += CROCKFORD[(value >>> (bits - 5)) & 31]!;
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

function increment(bytes: Uint8Array): Uint8Array {
  const next = new Uint8Array(bytes);
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i]! < 255) {
      next[i]! += 1;
      return next;
    }
    next[i] = 0;
  }
  return next;
}

/**
 * A new id of the given kind.
 *
 * @example newId("bundle") // "bun_01jdq9z6v4k3m8n2p5r7s9t1vw"
 */
export function newId(kind: IdKind): string {
  return `${ID_PREFIXES[kind]}_${sortableId()}`;
}

/** Whether `id` looks like an id of `kind` (prefix only; ids from older servers may differ in length). */
export function isId(kind: IdKind, id: string): boolean {
  return id.startsWith(`${ID_PREFIXES[kind]}_`) && id.length > ID_PREFIXES[kind].length + 1;
}
