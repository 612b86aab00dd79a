import { intBetween, type Rng } from './prng.ts';

/**
 * Plausible-content generators for `auto` answers. They only need to look
 * like model output and satisfy the requested schema; realism beyond that
 * would cost benchmark time for nothing.
 */

const WORDS = [
  'amber', 'balance', 'harbor', 'signal', 'quiet', 'river', 'summit', 'lantern', 'meadow', 'vector',
  'orbit', 'canvas', 'thread', 'ember', 'granite', 'willow', 'beacon', 'cedar', 'prism', 'tidal',
  'clear', 'steady', 'bright', 'simple', 'likely', 'useful', 'careful', 'direct', 'modest', 'solid',
];
const FILLER = ['the', 'answer', 'is', 'that', 'it', 'depends', 'on', 'a', 'clear', 'and', 'likely', 'result'];

type Json = Record<string, unknown>;
const MAX_DEPTH = 12;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)] as T;
}

/** A sentence mixing words of the prompt with filler, so answers visibly relate to questions. */
export function sentence(prompt: string, rng: Rng): string {
  const promptWords = prompt.toLowerCase().match(/[\p{L}\p{N}']{3,}/gu) ?? [];
  const n = intBetween(rng, 6, 13);
  const words: string[] = [];
  for (let i = 0; i < n; i++) {
    const fromPrompt = promptWords.length > 0 && rng() < 0.4;
    words.push(fromPrompt ? pick(rng, promptWords) : pick(rng, rng() < 0.5 ? FILLER : WORDS));
  }
  const first = words[0] ?? 'ok';
  words[0] = first.charAt(0).toUpperCase() + first.slice(1);
  return `${words.join(' ')}.`;
}

function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return {};
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/')) {
    if (raw === '') continue;
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObj(node) ? node[key] : undefined;
  }
  return node ?? {};
}

function mergeAllOf(schema: Json, parts: unknown[]): Json {
  const merged: Json = { ...schema };
  delete merged.allOf;
  for (const p of parts) {
    if (!isObj(p)) continue;
    const props = { ...(isObj(merged.properties) ? merged.properties : {}), ...(isObj(p.properties) ? p.properties : {}) };
    const required = [
      ...(Array.isArray(merged.required) ? merged.required : []),
      ...(Array.isArray(p.required) ? p.required : []),
    ];
    Object.assign(merged, p, { properties: props, required });
  }
  return merged;
}

function schemaType(s: Json): string | undefined {
  const t = s.type;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return (t.find((x) => x !== 'null') ?? t[0]) as string | undefined;
  if (isObj(s.properties)) return 'object';
  if (s.items !== undefined) return 'array';
  return undefined;
}

function numberIn(s: Json, rng: Rng, integer: boolean): number {
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  const exMin = num(s.exclusiveMinimum);
  const exMax = num(s.exclusiveMaximum);
  const step = integer ? 1 : 0.01;
  let lo = num(s.minimum) ?? (exMin !== undefined ? exMin + step : undefined);
  let hi = num(s.maximum) ?? (exMax !== undefined ? exMax - step : undefined);
  if (lo === undefined && hi === undefined) [lo, hi] = [0, 100];
  else if (lo === undefined) lo = (hi as number) - 100;
  else if (hi === undefined) hi = lo + 100;
  if (integer) {
    const a = Math.ceil(lo as number);
    const b = Math.floor(hi as number);
    return b < a ? a : intBetween(rng, a, b);
  }
  const v = Math.round(((lo as number) + rng() * ((hi as number) - (lo as number))) * 100) / 100;
  const ok = v >= (lo as number) && v <= (hi as number);
  return ok ? v : ((lo as number) + (hi as number)) / 2;
}

function stringFor(s: Json, rng: Rng): string {
  switch (s.format) {
    case 'date-time':
    case 'date':
    case 'time': {
      const iso = new Date(Date.UTC(2020 + intBetween(rng, 0, 5), intBetween(rng, 0, 11), intBetween(rng, 1, 28),
        intBetween(rng, 0, 23), intBetween(rng, 0, 59), intBetween(rng, 0, 59))).toISOString();
      return s.format === 'date' ? iso.slice(0, 10) : s.format === 'time' ? iso.slice(11, 19) : iso;
    }
    case 'email':
      return `${pick(rng, WORDS)}.${pick(rng, WORDS)}@example.com`;
    case 'uri':
    case 'url':
      return `https://example.com/${pick(rng, WORDS)}`;
    case 'uuid': {
      const hex = () => Math.floor(rng() * 0x10000).toString(16).padStart(4, '0');
      return `${hex()}${hex()}-${hex()}-4${hex().slice(1)}-a${hex().slice(1)}-${hex()}${hex()}${hex()}`;
    }
    default:
      break;
  }
  const minLength = typeof s.minLength === 'number' ? s.minLength : 0;
  const maxLength = typeof s.maxLength === 'number' ? s.maxLength : Infinity;
  let out = Array.from({ length: intBetween(rng, 1, 3) }, () => pick(rng, WORDS)).join(' ');
  while (out.length < minLength) out += ` ${pick(rng, WORDS)}`;
  if (out.length > maxLength) out = out.slice(0, maxLength);
  return out;
}

function arrayFor(s: Json, rng: Rng, root: unknown, depth: number): unknown[] {
  const min = typeof s.minItems === 'number' ? s.minItems : 1;
  const max = typeof s.maxItems === 'number' ? s.maxItems : Math.max(min, 3);
  const n = depth > MAX_DEPTH / 2 ? min : intBetween(rng, min, Math.min(max, min + 5));
  const out: unknown[] = [];
  const seen = new Set<string>();
  // uniqueItems over a small enum can run out of candidates; cap attempts instead of looping forever.
  for (let attempts = 0; out.length < n && attempts < n * 10; attempts++) {
    const v = valueFromNode(s.items ?? {}, rng, root, depth + 1);
    if (s.uniqueItems === true) {
      const key = JSON.stringify(v);
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(v);
  }
  return out;
}

function objectFor(s: Json, rng: Rng, root: unknown, depth: number): Json {
  const props = isObj(s.properties) ? s.properties : {};
  const required = new Set(Array.isArray(s.required) ? s.required : []);
  const out: Json = {};
  for (const [key, sub] of Object.entries(props)) {
    // Optional members are included too (a plausible model fills them) unless recursion gets deep.
    if (depth > MAX_DEPTH / 2 && !required.has(key)) continue;
    // defineProperty so a property literally named "__proto__" stays an own key.
    Object.defineProperty(out, key, { value: valueFromNode(sub, rng, root, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function valueFromNode(node: unknown, rng: Rng, root: unknown, depth: number): unknown {
  if (!isObj(node) || depth > MAX_DEPTH) return depth > MAX_DEPTH ? null : pick(rng, WORDS);
  let s = node;
  if (typeof s.$ref === 'string') return valueFromNode(resolveRef(root, s.$ref), rng, root, depth + 1);
  if (Array.isArray(s.allOf)) s = mergeAllOf(s, s.allOf);
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return pick(rng, s.enum);
  const alts = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : undefined;
  if (alts && alts.length > 0) {
    const nonNull = alts.find((a) => !(isObj(a) && a.type === 'null'));
    return valueFromNode(nonNull ?? alts[0], rng, root, depth + 1);
  }
  switch (schemaType(s)) {
    case 'object':
      return objectFor(s, rng, root, depth);
    case 'array':
      return arrayFor(s, rng, root, depth);
    case 'integer':
      return numberIn(s, rng, true);
    case 'number':
      return numberIn(s, rng, false);
    case 'boolean':
      return rng() < 0.5;
    case 'null':
      return null;
    default:
      return stringFor(s, rng);
  }
}

/**
 * A value satisfying the common subset of JSON Schema that structured-output
 * schemas use (types, enum/const, bounds, lengths, items, $ref, anyOf/oneOf/allOf).
 */
export function valueForSchema(schema: unknown, rng: Rng): unknown {
  return valueFromNode(schema, rng, schema, 0);
}
