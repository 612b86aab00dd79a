/**
 * Built-in merge strategies and name resolution. There is deliberately no
 * mutable registry: a custom strategy is just an object passed where a name
 * would go, which keeps this module free of global state.
 */
import { mergeOutputs } from './merge.ts';
import type { MergeEntry, MergeResult, MergeStrategy } from './mergeTypes.ts';
import { groupSamples, prepareSamples } from './samples.ts';

/** Per-field voting merge ({@link mergeOutputs}); the default. */
export const votingMerge: MergeStrategy = {
  name: 'vote',
  merge: (entries, opts) => mergeOutputs(entries, opts),
};

/**
 * Takes the valid output with the smallest replicate index as is (useful
 * when replicates are retries rather than independent samples). Confidence
 * is the share of valid replicates whose whole output equals it.
 */
export const firstValidMerge: MergeStrategy = {
  name: 'first_valid',
  merge: (entries: readonly MergeEntry[]): MergeResult => {
    const samples = prepareSamples(entries);
    const first = samples[0];
    if (first === undefined) return { consensus: null, confidence: 0, disagreements: [], agreement: {} };
    const groups = groupSamples(samples);
    const chosen = groups.find((g) => g.replicates.includes(first.index));
    const share = (chosen?.replicates.length ?? 0) / samples.length;
    return {
      consensus: first.value,
      confidence: share,
      disagreements:
        groups.length > 1
          ? [{ path: '', values: groups.map((g) => ({ value: g.value, replicates: [...g.replicates] })) }]
          : [],
      agreement: { '': share },
    };
  },
};

/** Names accepted by {@link resolveMergeStrategy}. */
export const builtInMergeStrategies: readonly string[] = [votingMerge.name, firstValidMerge.name];

/**
 * Resolves a strategy: `undefined` → voting, a built-in name → that
 * strategy, a strategy object → itself (how tools plug in their own).
 *
 * @throws RangeError for an unknown name.
 */
export function resolveMergeStrategy(nameOrStrategy?: string | MergeStrategy): MergeStrategy {
  if (nameOrStrategy === undefined) return votingMerge;
  if (typeof nameOrStrategy !== 'string') return nameOrStrategy;
  if (nameOrStrategy === votingMerge.name) return votingMerge;
  if (nameOrStrategy === firstValidMerge.name) return firstValidMerge;
  throw new RangeError(
    `unknown merge strategy "${nameOrStrategy}" (built-ins: ${builtInMergeStrategies.join(', ')})`,
  );
}
