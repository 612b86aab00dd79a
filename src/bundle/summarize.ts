/**
 * The `summary` block of the Evidence Bundle: consensus, confidence,
 * disagreements and the pairwise distance matrix, from one call so partial
 * and final summaries are computed the same way.
 */
import type { MetricLike } from './distance.ts';
import type { Disagreement, MergeOptions, MergeStrategy } from './mergeTypes.ts';
import { resolveMergeStrategy } from './mergeStrategy.ts';
import { compareNumbers } from './order.ts';
import { PairwiseMatrix } from './pairwise.ts';

/** One replicate as the summary sees it. */
export interface SummaryEntry {
  /** Replicate index (integer, unique). */
  readonly index: number;
  /** Parsed output; ignored when `valid` is false. */
  readonly output: unknown;
  /** False for failed, cancelled or schema-invalid replicates. */
  readonly valid: boolean;
}

/** Options for {@link summarize}. */
export interface SummarizeOptions {
  /** Distance metric when no `matrix` is given; `auto` by default. */
  readonly metric?: MetricLike;
  /**
   * An incrementally built matrix to reuse. Entries it lacks are added to it
   * (so it keeps growing across partial summaries); entries it already has
   * are trusted as they are, with the matrix's own metric.
   */
  readonly matrix?: PairwiseMatrix;
  /** Merge strategy (object or built-in name); voting by default. */
  readonly merge?: MergeStrategy | string;
  /** Passed through to the merge strategy. */
  readonly mergeOptions?: MergeOptions;
}

/** The contract's `summary` object. */
export interface BundleSummary {
  consensus: unknown;
  confidence: number;
  disagreements: Disagreement[];
  /** n×n over all entries in ascending index order, invalid ones included. */
  pairwise_distances: number[][];
}

/**
 * Merges the valid outputs and computes distances over every entry. An
 * invalid entry is treated as a missing output everywhere: it does not vote
 * and sits at distance 1 from every other replicate.
 *
 * @throws RangeError on a non-integer or duplicate index, or an unknown merge name.
 */
export function summarize(entries: readonly SummaryEntry[], opts: SummarizeOptions = {}): BundleSummary {
  const seen = new Set<number>();
  for (const e of entries) {
    if (!Number.isInteger(e.index)) throw new RangeError(`summarize: index must be an integer, got ${e.index}`);
    if (seen.has(e.index)) throw new RangeError(`summarize: duplicate index ${e.index}`);
    seen.add(e.index);
  }
  const sorted = [...entries].sort((a, b) => compareNumbers(a.index, b.index));
  const effective = sorted.map((e) => ({ index: e.index, output: e.valid ? e.output : null }));

  const strategy = resolveMergeStrategy(opts.merge);
  const merged = strategy.merge(effective, opts.mergeOptions);

  const matrix = opts.matrix ?? new PairwiseMatrix({ metric: opts.metric ?? 'auto' });
  for (const e of effective) if (!matrix.has(e.index)) matrix.add(e.index, e.output);

  return {
    consensus: merged.consensus,
    confidence: merged.confidence,
    disagreements: merged.disagreements,
    pairwise_distances: matrix.toArray(effective.map((e) => e.index)),
  };
}
