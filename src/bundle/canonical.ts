/**
 * Canonical JSON: one string per JSON value regardless of key insertion order,
 * so that vote keys, tie-breaks and idempotency fingerprints never depend on
 * how a provider (or a caller) happened to order object properties.
 */
import { compareText } from './order.ts';

/** A plain JSON value, as produced by `JSON.parse`. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Stable JSON text with object keys sorted by UTF-16 code units.
 *
 * Mirrors `JSON.stringify` wherever that is defined: `toJSON` is honoured,
 * `undefined`/function/symbol properties are dropped, such array elements and
 * non-finite numbers become `null`. Where `JSON.stringify` would return
 * `undefined` (a top-level `undefined`, function or symbol) this returns
 * `"null"`, because callers use the result as a map key and need a string.
 *
 * @throws TypeError on cycles and BigInt, as `JSON.stringify` does.
 */
export function canonicalJson(value: unknown): string {
  // Iterative (an explicit stack of open containers, text written in order and joined once),
  // so JSON nested deeper than the JS stack is serialised, not a stack overflow.
  const root = prepare(value, '');
  if (typeof root !== 'object') return root ?? 'null';
  const out: string[] = [];
  const stack: Frame[] = [];
  const open = new Set<object>();
  const enter = (obj: object): void => {
    if (open.has(obj)) throw new TypeError('canonicalJson: cyclic structure');
    open.add(obj);
    const isArray = Array.isArray(obj);
    out.push(isArray ? '[' : '{');
    stack.push({ obj, isArray, keys: isArray ? null : Object.keys(obj).sort(compareText), next: 0, first: true });
  };
  enter(root);
  while (stack.length > 0) {
    const f = stack[stack.length - 1] as Frame;
    const size = f.keys === null ? (f.obj as unknown[]).length : f.keys.length;
    if (f.next >= size) {
      out.push(f.isArray ? ']' : '}');
      stack.pop();
      open.delete(f.obj);
      continue;
    }
    const i = f.next++;
    const key = f.keys === null ? String(i) : (f.keys[i] as string);
    const child = prepare(f.keys === null ? (f.obj as unknown[])[i] : (f.obj as Record<string, unknown>)[key], key);
    // Omitted in objects, `null` in arrays: JSON.stringify's rules.
    if (child === undefined && !f.isArray) continue;
    if (!f.first) out.push(',');
    f.first = false;
    if (!f.isArray) out.push(JSON.stringify(key), ':');
    if (child === undefined) out.push('null');
    else if (typeof child === 'string') out.push(child);
    else enter(child);
  }
  return out.join('');
}

/** A container being written. */
interface Frame {
  readonly obj: object;
  readonly isArray: boolean;
  /** Sorted own keys of an object; `null` for an array. */
  readonly keys: string[] | null;
  next: number;
  first: boolean;
}

/**
 * Deep-copies a value into plain JSON (same rules as {@link canonicalJson}),
 * so the merge only ever sees the six JSON kinds and never `undefined`.
 */
export function toJsonValue(value: unknown): JsonValue {
  return JSON.parse(canonicalJson(value)) as JsonValue;
}

/**
 * One value after `toJSON` and unboxing: its JSON text when it is a
 * primitive, `undefined` for "omit" (exactly like `JSON.stringify`'s
 * internal SerializeJSONProperty), or the object or array to open.
 */
function prepare(raw: unknown, key: string): string | undefined | object {
  // Primitives first and without a toJSON lookup: they are nearly every value.
  if (raw === null || (typeof raw !== 'object' && typeof raw !== 'bigint')) return primitive(raw);
  let value: unknown = raw;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') value = (toJSON as (k: string) => unknown).call(value, key);
  // Boxed primitives serialise as their primitive value in JSON.stringify.
  if (value instanceof Number || value instanceof String || value instanceof Boolean) value = value.valueOf();
  return value !== null && typeof value === 'object' ? value : primitive(value);
}

/** JSON text of a primitive, `undefined` to omit; throws on BigInt like JSON.stringify. */
function primitive(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      // String() and JSON.stringify agree on every finite number (both are Number::toString).
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalJson: BigInt value cannot be serialized');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      return 'null';
  }
}
