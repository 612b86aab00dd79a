/**
 * Shapes shared by every merge strategy. Kept apart from the voting merge so
 * that third-party strategies can depend on the contract without the
 * implementation.
 */

import type { Disagreement as DisagreementShape } from '../schemas/bundle.ts';
import type { TextComparer } from './textComparer.ts';

/** One replicate's output; `null`/`undefined` output marks a failed or invalid replicate. */
export interface MergeEntry {
  /** Replicate index (an integer, unique within one merge). */
  readonly index: number;
  /** Parsed output: any JSON value, or a free-text string. */
  readonly output: unknown;
}

/**
 * Where replicates differ (DisagreementSchema, src/schemas/bundle.ts, is its
 * one source): `path` is an RFC 6901 JSON Pointer (`''` the root); `values`
 * are ordered by number of replicates (desc), then canonical JSON of the
 * value. A path listed because some replicates lack the key lists only the
 * replicates that have it; the absent ones are the rest.
 */
export type Disagreement = DisagreementShape;

/** One distinct value seen at a path and the replicate indices (ascending) that produced it. */
export type DisagreementValue = Disagreement['values'][number];

/** Outcome of merging the valid replicates. */
export interface MergeResult {
  /** The merged output; `null` when no replicate was valid. */
  consensus: unknown;
  /** Mean of `agreement` over its paths, in [0, 1]; 0 when no replicate was valid. */
  confidence: number;
  /** Sorted by path. */
  disagreements: Disagreement[];
  /**
   * Per decided path (JSON Pointer): the share of valid replicates whose
   * value there matches the consensus (an absent key matches an absent key).
   */
  agreement: Record<string, number>;
}

/** Tuning for the built-in merges. */
export interface MergeOptions {
  /**
   * Distance for the medoid fallback of a free-text root when no answer has
   * a majority; `textualDistance` by default.
   */
  readonly textMetric?: (a: string, b: string) => number;
  /**
   * Relative tolerance within which a number counts as agreeing with the
   * median for `agreement`/`confidence`; 0.01 (1%) by default.
   */
  readonly numberTolerance?: number;
  /**
   * Memo of text profiles and distances, shared by the merges of one run's
   * growing set of answers (partial summaries); results are the same without.
   */
  readonly texts?: TextComparer;
}

/** A pluggable way of turning replicate outputs into one consensus. */
export interface MergeStrategy {
  /** Stable name, e.g. for metrics and the bundle's provenance. */
  readonly name: string;
  /** Must be deterministic and independent of the order of `entries`. */
  merge(entries: readonly MergeEntry[], opts?: MergeOptions): MergeResult;
}
