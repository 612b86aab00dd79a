/**
 * Distances between replicate outputs, all in [0, 1] and symmetric, so a
 * pairwise matrix can be averaged and compared against a single epsilon no
 * matter whether the outputs are free text or schema-shaped objects.
 */
import { canonicalJson } from './canonical.ts';
import { compareText } from './order.ts';
import type { TextComparer } from './textComparer.ts';
import { multisetJaccard, profileDistance, textProfile, type TextProfile } from './textProfile.ts';

/** How outputs are compared: `auto` is textual when both are strings, structural otherwise. */
export type DistanceMetric = 'auto' | 'structural' | 'textual';

/** A caller-supplied distance (e.g. cosine over embeddings); results are clamped to [0, 1]. */
export type DistanceFunction = (a: unknown, b: unknown) => number;

/** Either a built-in metric name or a custom distance function. */
export type MetricLike = DistanceMetric | DistanceFunction;

/**
 * Text distance: the mean of (1 − multiset Jaccard) over words and over
 * character trigrams of the normalised texts. Words catch reordering and
 * paraphrase overlap, trigrams catch spelling variants; both are linear in
 * the text length. 0 exactly when the normalised texts are equal.
 */
export function textualDistance(a: string, b: string): number {
  if (a === b) return 0;
  return profileDistance(textProfile(a), textProfile(b));
}

/**
 * Distance between JSON values: 0 for deep-equal values, 1 across JSON
 * types, the mean over the union of keys for objects (missing key = 1),
 * 1 − Jaccard for arrays of primitives (order-insensitive), element-wise
 * means with length mismatch counted as 1 per missing element otherwise,
 * |a − b| / max(|a|, |b|) for numbers, {@link textualDistance} for unequal
 * strings. `undefined` counts as `null` (callers decide what "missing" means).
 */
export function structuralDistance(a: unknown, b: unknown): number {
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka !== kb) return 1;
  switch (ka) {
    case 'null':
      return 0;
    case 'boolean':
      return a === b ? 0 : 1;
    case 'number':
      return numberDistance(a as number, b as number);
    case 'string':
      return a === b ? 0 : textualDistance(a as string, b as string);
    case 'array':
      return arrayDistance(a as readonly unknown[], b as readonly unknown[]);
    case 'object':
      return objectDistance(a as Record<string, unknown>, b as Record<string, unknown>);
  }
}

/**
 * Cosine distance mapped into [0, 1] as (1 − cos) / 2, for a semantic metric
 * over embeddings. Identical vectors are 0; a zero vector against a non-zero
 * one is 1 because it carries no direction to agree with.
 *
 * @throws RangeError when the vectors have different lengths.
 */
export function cosineDistance(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) {
    throw new RangeError(`cosineDistance: length mismatch (${a.length} vs ${b.length})`);
  }
  let dot = 0;
  let na = 0;
  let nb = 0;
  let same = true;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) same = false;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  if (same) return 0;
  if (na === 0 || nb === 0) return 1;
  const cos = dot / (Math.sqrt(na) * Math.sqrt(nb));
  return clamp01((1 - cos) / 2);
}

/**
 * Distance used for the pairwise matrix. A missing output (`null` or
 * `undefined`, i.e. a failed or invalid replicate) is at distance 1 from
 * everything, including another missing output, so failures never look
 * like agreement. The `textual` metric compares non-strings by their
 * canonical JSON text.
 */
export function distanceBetween(a: unknown, b: unknown, metric: MetricLike = 'auto'): number {
  return preparedDistance(prepareOutput(a, metric), prepareOutput(b, metric), metric);
}

/** An output with its text features precomputed for repeated comparisons under one metric. */
export interface PreparedOutput {
  /** The raw output. */
  readonly output: unknown;
  /** `null`/`undefined` output: a failed or invalid replicate. */
  readonly missing: boolean;
  /** Set when the metric compares this output as text. */
  readonly profile: TextProfile | null;
}

/**
 * Prepares an output once so comparing it against n others does not redo
 * text normalisation n times. The text profile is built on the first
 * comparison: an output never compared (a lone replicate) costs nothing.
 */
export function prepareOutput(output: unknown, metric: MetricLike = 'auto', texts?: TextComparer): PreparedOutput {
  const missing = output === null || output === undefined;
  if (!missing && typeof metric !== 'function' && metric !== 'structural') {
    if (typeof output === 'string') return new ProfiledOutput(output, output, texts);
    if (metric === 'textual') return new ProfiledOutput(output, null, texts);
  }
  return { output, missing, profile: null };
}

/** A prepared output compared as text; its profile is computed when first asked for. */
class ProfiledOutput implements PreparedOutput {
  readonly output: unknown;
  readonly missing = false;
  /** The text to profile; null means the output's canonical JSON. */
  readonly #text: string | null;
  readonly #texts: TextComparer | undefined;
  #profile: TextProfile | null = null;

  constructor(output: unknown, text: string | null, texts: TextComparer | undefined) {
    this.output = output;
    this.#text = text;
    this.#texts = texts;
  }

  get profile(): TextProfile {
    if (this.#profile === null) {
      const text = this.#text ?? canonicalJson(this.output);
      this.#profile = this.#texts ? this.#texts.profile(text) : textProfile(text);
    }
    return this.#profile;
  }
}

/**
 * {@link distanceBetween} over prepared outputs; both must have been
 * prepared with the same `metric`.
 */
export function preparedDistance(a: PreparedOutput, b: PreparedOutput, metric: MetricLike = 'auto', texts?: TextComparer): number {
  if (a.missing || b.missing) return 1;
  if (typeof metric === 'function') return clamp01(metric(a.output, b.output));
  // Under `auto` only strings get profiles, so two profiles mean "both strings"; under `textual` everything has one.
  if (a.profile !== null && b.profile !== null) return texts ? texts.distance(a.profile, b.profile) : profileDistance(a.profile, b.profile);
  return structuralDistance(a.output, b.output);
}

type Kind = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object';

function kindOf(v: unknown): Kind {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'boolean':
      return 'boolean';
    case 'number':
      return 'number';
    case 'string':
      return 'string';
    default:
      return 'object';
  }
}

function isPrimitive(v: unknown): boolean {
  const k = kindOf(v);
  return k !== 'array' && k !== 'object';
}

function clamp01(x: number): number {
  if (Number.isNaN(x)) return 1;
  return Math.min(1, Math.max(0, x));
}

function numberDistance(a: number, b: number): number {
  if (a === b) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return 1;
  return clamp01(Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b)));
}

function arrayDistance(a: readonly unknown[], b: readonly unknown[]): number {
  if (a.length === 0 && b.length === 0) return 0;
  if (a.every(isPrimitive) && b.every(isPrimitive)) {
    return 1 - multisetJaccard(countBy(a, (v) => canonicalJson(v ?? null)), countBy(b, (v) => canonicalJson(v ?? null)));
  }
  const shorter = Math.min(a.length, b.length);
  const longer = Math.max(a.length, b.length);
  let sum = longer - shorter;
  for (let i = 0; i < shorter; i++) sum += structuralDistance(a[i], b[i]);
  return clamp01(sum / longer);
}

function objectDistance(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const keys = new Set<string>();
  for (const k of Object.keys(a)) if (a[k] !== undefined) keys.add(k);
  for (const k of Object.keys(b)) if (b[k] !== undefined) keys.add(k);
  if (keys.size === 0) return 0;
  // Summing in sorted key order keeps the floating-point result identical for (a, b) and (b, a).
  let sum = 0;
  for (const k of [...keys].sort(compareText)) {
    const inA = Object.hasOwn(a, k) && a[k] !== undefined;
    const inB = Object.hasOwn(b, k) && b[k] !== undefined;
    sum += inA && inB ? structuralDistance(a[k], b[k]) : 1;
  }
  return clamp01(sum / keys.size);
}

function countBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) {
    const k = keyOf(item);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}
