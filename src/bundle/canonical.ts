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
  return write(value, '', new Set<object>()) ?? 'null';
}

/**
 * Deep-copies a value into plain JSON (same rules as {@link canonicalJson}),
 * so the merge only ever sees the six JSON kinds and never `undefined`.
 */
export function toJsonValue(value: unknown): JsonValue {
  return JSON.parse(canonicalJson(value)) as JsonValue;
}

/** `undefined` means "omit", exactly like `JSON.stringify`'s internal SerializeJSONProperty. */
function write(raw: unknown, key: string, stack: Set<object>): string | undefined {
  let value = raw;
  if (value !== null && (typeof value === 'object' || typeof value === 'bigint')) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') value = (toJSON as (k: string) => unknown).call(value, key);
  }
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalJson: BigInt value cannot be serialized');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      break;
  }
  if (value === null) return 'null';
  const obj = value as object;
  // Boxed primitives serialise as their primitive value in JSON.stringify.
  if (obj instanceof Number || obj instanceof String || obj instanceof Boolean) {
    return write(obj.valueOf(), key, stack);
  }
  if (stack.has(obj)) throw new TypeError('canonicalJson: cyclic structure');
  stack.add(obj);
  try {
    if (Array.isArray(obj)) {
      const parts: string[] = [];
      for (let i = 0; i < obj.length; i++) {
        parts.push(write(obj[i] as unknown, String(i), stack) ?? 'null');
      }
      return `[${parts.join(',')}]`;
    }
    const record = obj as Record<string, unknown>;
    const parts: string[] = [];
    for (const k of Object.keys(record).sort(compareText)) {
      const text = write(record[k], k, stack);
      if (text !== undefined) parts.push(`${JSON.stringify(k)}:${text}`);
    }
    return `{${parts.join(',')}}`;
  } finally {
    stack.delete(obj);
  }
}
