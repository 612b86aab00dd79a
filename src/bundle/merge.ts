/**
 * The default merge: a deterministic per-field vote over the valid
 * replicates. Every tie is broken by canonical JSON, never by replicate index
 * or arrival order, so the same replicates always yield the same consensus.
 */
import { canonicalJson, type JsonValue } from './canonical.ts';
import { appendPointer } from './jsonPointer.ts';
import type { Disagreement, MergeEntry, MergeOptions, MergeResult } from './mergeTypes.ts';
import { compareNumbers, compareText } from './order.ts';
import { groupSamples, prepareSamples, type Group, type Sample } from './samples.ts';
import { TextComparer } from './textComparer.ts';
import { voteFreeText } from './textVote.ts';

const DEFAULT_NUMBER_TOLERANCE = 0.01;
/**
 * Objects nested deeper than this are voted on whole instead of field by
 * field: the per-field merge recurses, and a model's answer can nest as deep
 * as it likes. Well past any schema a caller writes (MAX_SCHEMA_DEPTH is 32).
 */
export const MAX_MERGE_DEPTH = 64;

interface Context {
  /** Number of valid replicates: the denominator of every agreement share. */
  readonly total: number;
  /** `null` means the default textual distance, computed over cached profiles. */
  readonly textMetric: ((a: string, b: string) => number) | null;
  readonly numberTolerance: number;
  readonly texts: TextComparer;
  readonly agreement: Map<string, number>;
  readonly disagreements: Map<string, Disagreement>;
}

type Kind = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object';

/**
 * Merges replicate outputs field by field. Failed replicates (output
 * `null`/`undefined`) are ignored. Per path:
 * - strings, booleans, null: plurality vote, ties by canonical JSON;
 * - numbers: median (mean of the two middle values for an even count);
 * - objects: recursive over the union of keys; a key is kept when more than
 *   half of the replicates that produced an object there have it;
 * - arrays of primitives: items held by more than half of the replicates,
 *   ordered by support (desc) then canonical JSON;
 * - other arrays and mixed JSON types: plurality vote over whole values;
 * - a free-text root: vote over normalised text; without a strict majority
 *   the medoid answer (least summed text distance) wins.
 *
 * `agreement[path]` is the share of valid replicates whose value at a
 * decided path matches the consensus there; a number matches when within
 * `numberTolerance` (relative) of the median, a primitive array when it holds
 * the same set. `confidence` is the mean of those shares.
 *
 * @throws RangeError on a non-integer or duplicate replicate index.
 */
export function mergeOutputs(entries: readonly MergeEntry[], opts: MergeOptions = {}): MergeResult {
  const samples = prepareSamples(entries);
  if (samples.length === 0) return { consensus: null, confidence: 0, disagreements: [], agreement: {} };
  const ctx: Context = {
    total: samples.length,
    textMetric: opts.textMetric ?? null,
    numberTolerance: opts.numberTolerance ?? DEFAULT_NUMBER_TOLERANCE,
    texts: opts.texts ?? new TextComparer(),
    agreement: new Map(),
    disagreements: new Map(),
  };
  const consensus = mergeNode('', samples, ctx, true, 0);
  const paths = [...ctx.agreement.keys()].sort(compareText);
  let sum = 0;
  for (const p of paths) sum += ctx.agreement.get(p) ?? 0;
  return {
    consensus,
    confidence: paths.length === 0 ? 0 : sum / paths.length,
    disagreements: [...ctx.disagreements.values()].sort((a, b) => compareText(a.path, b.path)),
    agreement: Object.fromEntries(paths.map((p) => [p, ctx.agreement.get(p) ?? 0])),
  };
}

function kindOf(v: JsonValue): Kind {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v as 'boolean' | 'number' | 'string' | 'object';
}

function isPrimitive(v: JsonValue): boolean {
  return v === null || typeof v !== 'object';
}

function mergeNode(path: string, samples: readonly Sample[], ctx: Context, root: boolean, depth: number): JsonValue {
  const first = samples[0];
  if (first === undefined) return null;
  const kind = kindOf(first.value);
  if (samples.some((s) => kindOf(s.value) !== kind)) return voteWhole(path, samples, ctx);
  switch (kind) {
    case 'object':
      return depth >= MAX_MERGE_DEPTH ? voteWhole(path, samples, ctx) : mergeObject(path, samples, ctx, depth);
    case 'array':
      return samples.every((s) => (s.value as JsonValue[]).every(isPrimitive))
        ? mergeSet(path, samples, ctx)
        : voteWhole(path, samples, ctx);
    case 'number':
      return mergeNumbers(path, samples, ctx);
    case 'string':
      return root ? mergeFreeText(samples, ctx) : voteWhole(path, samples, ctx);
    default:
      return voteWhole(path, samples, ctx);
  }
}

function disagree(path: string, groups: readonly Group[], ctx: Context): void {
  if (ctx.disagreements.has(path)) return;
  ctx.disagreements.set(path, {
    path,
    values: groups.map((g) => ({ value: g.value, replicates: [...g.replicates] })),
  });
}

function voteWhole(path: string, samples: readonly Sample[], ctx: Context): JsonValue {
  const groups = groupSamples(samples);
  if (groups.length > 1) disagree(path, groups, ctx);
  const winner = groups[0] as Group;
  ctx.agreement.set(path, winner.replicates.length / ctx.total);
  return winner.value;
}

function mergeNumbers(path: string, samples: readonly Sample[], ctx: Context): number {
  const groups = groupSamples(samples);
  if (groups.length > 1) disagree(path, groups, ctx);
  const sorted = samples.map((s) => s.value as number).sort(compareNumbers);
  const mid = sorted.length >> 1;
  const hi = sorted[mid] as number;
  const lo = sorted.length % 2 === 0 ? (sorted[mid - 1] as number) : hi;
  // Halving first cannot overflow for huge values of opposite sign.
  const median = lo === hi ? hi : lo / 2 + hi / 2;
  const tol = ctx.numberTolerance;
  const agreeing = sorted.filter((x) => x === median || Math.abs(x - median) <= tol * Math.max(Math.abs(x), Math.abs(median)));
  ctx.agreement.set(path, agreeing.length / ctx.total);
  return median;
}

function mergeSet(path: string, samples: readonly Sample[], ctx: Context): JsonValue[] {
  const support = new Map<string, { value: JsonValue; count: number }>();
  const setKeyOf = new Map<number, string>();
  const asSet = (v: JsonValue): JsonValue[] => {
    const unique = new Map<string, JsonValue>();
    for (const item of v as JsonValue[]) unique.set(canonicalJson(item), item);
    return [...unique].sort((a, b) => compareText(a[0], b[0])).map(([, item]) => item);
  };
  for (const s of samples) {
    const set = asSet(s.value);
    setKeyOf.set(s.index, canonicalJson(set));
    for (const item of set) {
      const k = canonicalJson(item);
      const entry = support.get(k);
      if (entry === undefined) support.set(k, { value: item, count: 1 });
      else entry.count++;
    }
  }
  const groups = groupSamples(samples, (v) => canonicalJson(asSet(v)), asSet);
  if (groups.length > 1) disagree(path, groups, ctx);
  const kept = [...support]
    .filter(([, e]) => e.count * 2 > samples.length)
    .sort((a, b) => b[1].count - a[1].count || compareText(a[0], b[0]));
  const consensusKey = canonicalJson(asSet(kept.map(([, e]) => e.value)));
  const agreeing = samples.filter((s) => setKeyOf.get(s.index) === consensusKey).length;
  ctx.agreement.set(path, agreeing / ctx.total);
  return kept.map(([, e]) => e.value);
}

function mergeObject(path: string, samples: readonly Sample[], ctx: Context, depth: number): JsonValue {
  const keys = new Set<string>();
  for (const s of samples) for (const k of Object.keys(s.value as object)) keys.add(k);
  if (keys.size === 0) {
    ctx.agreement.set(path, samples.length / ctx.total);
    return {};
  }
  const merged: [string, JsonValue][] = [];
  for (const key of [...keys].sort(compareText)) {
    const childPath = appendPointer(path, key);
    const holders: Sample[] = [];
    for (const s of samples) {
      const obj = s.value as Record<string, JsonValue>;
      if (Object.hasOwn(obj, key)) holders.push({ index: s.index, value: obj[key] as JsonValue });
    }
    if (holders.length * 2 > samples.length) {
      merged.push([key, mergeNode(childPath, holders, ctx, false, depth + 1)]);
    } else {
      // Dropped: everyone without the key agrees with the consensus "absent".
      ctx.agreement.set(childPath, (ctx.total - holders.length) / ctx.total);
    }
    // Presence itself differs; only say so if the subtree did not already flag this exact path.
    if (holders.length < samples.length) disagree(childPath, groupSamples(holders), ctx);
  }
  // fromEntries defines own properties, so a "__proto__" key stays data, not a prototype.
  return Object.fromEntries(merged) as JsonValue;
}

function mergeFreeText(samples: readonly Sample[], ctx: Context): string {
  const { votes, winner } = voteFreeText(samples, ctx.textMetric, ctx.texts);
  if (votes.length > 1) disagree('', votes, ctx);
  ctx.agreement.set('', winner.replicates.length / ctx.total);
  return winner.value;
}
