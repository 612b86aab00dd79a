/**
 * Exact JSON sizes without serializing the same object again. A run's parts
 * are measured several times over: a replicate in its `replicate_done`, in
 * `bundle_ready`'s bundle, in the final record and in `run_completed`'s
 * result; the bundle three times; the record twice (it is also the
 * idempotency answer). Each is serialized once here: an object measured with
 * `remember` keeps its length (a number, keyed weakly: nothing is retained),
 * and an object holding remembered parts is measured as the JSON of the
 * rest plus the parts' lengths. The result is exactly
 * `JSON.stringify(value).length` (key order does not change a length).
 *
 * Remembered objects must not change afterwards: records, bundles and
 * replicates are built new, never edited, once stored or emitted. Arrays are
 * never remembered (a live record's partial replicates grow); an array of
 * remembered objects is composed from them.
 */

const measured = new WeakMap<object, number>();

/** `JSON.stringify(value).length` of a JSON value (plain data: objects, arrays, strings, numbers, booleans, null). */
export function jsonLength(value: object, remember = false): number {
  const known = measured.get(value);
  if (known !== undefined) return known;
  const length = Array.isArray(value) ? (partLength(value) ?? serialized(value)) : composed(value as Record<string, unknown>);
  if (remember && !Array.isArray(value)) measured.set(value, length);
  return length;
}

/** Remembers `json.length` as the length of `value`, which `json` must be the JSON of (`JSON.stringify(value)`). */
export function rememberJson(value: object, json: string): void {
  measured.set(value, json.length);
}

function serialized(value: unknown): number {
  return JSON.stringify(value).length;
}

/** An object's length from the JSON of its other members plus its remembered parts, or serialized whole when it has none. */
function composed(object: Record<string, unknown>): number {
  if (typeof object.toJSON === 'function') return serialized(object);
  let parts = 0;
  let count = 0;
  const keys = Object.keys(object);
  // Filled only once a part is found: most objects measured have none, and are serialized whole.
  let lengths: Array<number | undefined> | null = null;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const length = partLength(object[key]);
    if (length === undefined) continue;
    lengths ??= new Array<number | undefined>(keys.length);
    lengths[i] = length;
    parts += JSON.stringify(key).length + 1 + length;
    count++;
  }
  if (lengths === null) return serialized(object);
  // The rest built afresh, not copied and `delete`d: a deleted key turns an object into a slow
  // dictionary, which JSON.stringify then walks far more slowly.
  const rest: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) if (lengths[i] === undefined) rest[keys[i]!] = object[keys[i]!];
  // `{rest members` + `,` + `"key":part` joined by commas + `}`; an empty rest is just `{}`.
  const restLength = serialized(rest);
  return restLength + parts + (count - 1) + (restLength > 2 ? 1 : 0);
}

/** A member's remembered length: a remembered object, or a non-empty array made only of remembered objects. */
function partLength(value: unknown): number | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (!Array.isArray(value)) return measured.get(value);
  if (value.length === 0) return undefined;
  let sum = 2 + value.length - 1;
  for (const item of value) {
    const length = item !== null && typeof item === 'object' && !Array.isArray(item) ? measured.get(item) : undefined;
    if (length === undefined) return undefined;
    sum += length;
  }
  return sum;
}

/**
 * `jsonLength(next)` from the length of `prev`, which `next` updates: the
 * same keys in the same order (a record rebuilt as `{ ...prev, status, … }`),
 * so only the members whose values differ are measured, and their lengths'
 * difference is added. Anything else (a key added, dropped or reordered, a
 * value that is or becomes undefined, a `toJSON`) is measured whole. Exact,
 * as {@link jsonLength} is; `next` is remembered like `jsonLength(next, true)`.
 */
export function jsonLengthUpdated(prev: object, prevLength: number, next: object): number {
  const known = measured.get(next);
  if (known !== undefined) return known;
  const length = updatedLength(prev as Record<string, unknown>, prevLength, next as Record<string, unknown>) ?? jsonLength(next);
  if (!Array.isArray(next)) measured.set(next, length);
  return length;
}

function updatedLength(prev: Record<string, unknown>, prevLength: number, next: Record<string, unknown>): number | null {
  if (Array.isArray(prev) || Array.isArray(next) || typeof prev.toJSON === 'function' || typeof next.toJSON === 'function') return null;
  const before = Object.keys(prev);
  const after = Object.keys(next);
  if (before.length !== after.length) return null;
  let length = prevLength;
  for (let i = 0; i < after.length; i++) {
    const key = after[i]!;
    if (key !== before[i]) return null;
    const was = prev[key];
    const now = next[key];
    if (was === now) continue;
    if (was === undefined || now === undefined || typeof was === 'function' || typeof now === 'function') return null;
    length += valueLength(now) - valueLength(was);
  }
  return length;
}

/** JSON length of one member's value (not undefined). */
function valueLength(value: unknown): number {
  return value !== null && typeof value === 'object' ? jsonLength(value) : JSON.stringify(value).length;
}
