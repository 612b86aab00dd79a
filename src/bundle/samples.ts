/**
 * Preparation and grouping of replicate values shared by the merge
 * strategies. Sorting by index up front and grouping by canonical JSON is
 * what makes every strategy independent of arrival order.
 */
import { canonicalJson, toJsonValue, type JsonValue } from './canonical.ts';
import type { MergeEntry } from './mergeTypes.ts';
import { compareNumbers, compareText } from './order.ts';

/** A valid replicate value, normalised to plain JSON. */
export interface Sample {
  /** Replicate index. */
  readonly index: number;
  /** Plain JSON (no `undefined`, no class instances). */
  readonly value: JsonValue;
}

/** Replicates sharing one grouping key. */
export interface Group {
  /** Grouping key (canonical JSON unless stated otherwise by the caller). */
  readonly key: string;
  /** The value shown for the group. */
  readonly value: JsonValue;
  /** Replicate indices, ascending. */
  readonly replicates: number[];
}

/**
 * Drops failed replicates (`null`/`undefined` output, or one that only
 * serialises to `null`), normalises the rest to plain JSON and sorts by index.
 *
 * @throws RangeError on a non-integer or duplicate index, since either would
 *   make the result depend on input order.
 */
export function prepareSamples(entries: readonly MergeEntry[]): Sample[] {
  const seen = new Set<number>();
  const samples: Sample[] = [];
  for (const e of entries) {
    if (!Number.isInteger(e.index)) throw new RangeError(`merge: replicate index must be an integer, got ${e.index}`);
    if (seen.has(e.index)) throw new RangeError(`merge: duplicate replicate index ${e.index}`);
    seen.add(e.index);
    if (e.output === null || e.output === undefined) continue;
    const value = toJsonValue(e.output);
    if (value !== null) samples.push({ index: e.index, value });
  }
  return samples.sort((a, b) => compareNumbers(a.index, b.index));
}

/**
 * Groups samples by `keyOf` (canonical JSON by default), largest group
 * first, ties by the canonical JSON of the group's value.
 */
export function groupSamples(
  samples: readonly Sample[],
  keyOf: (value: JsonValue) => string = canonicalJson,
  valueOf: (value: JsonValue) => JsonValue = (v) => v,
): Group[] {
  const byKey = new Map<string, { value: JsonValue; replicates: number[] }>();
  for (const s of samples) {
    const key = keyOf(s.value);
    const group = byKey.get(key);
    if (group === undefined) byKey.set(key, { value: valueOf(s.value), replicates: [s.index] });
    else group.replicates.push(s.index);
  }
  const groups = [...byKey].map(([key, g]) => ({
    key,
    value: g.value,
    replicates: g.replicates.sort(compareNumbers),
    order: canonicalJson(g.value),
  }));
  groups.sort((a, b) => b.replicates.length - a.replicates.length || compareText(a.order, b.order) || compareText(a.key, b.key));
  return groups.map(({ key, value, replicates }) => ({ key, value, replicates }));
}
