/**
 * Pairwise distances between replicates. Built incrementally because the
 * service publishes a partial summary after every finished replicate: each
 * arrival costs one new row (O(n) distances) instead of a full O(n²) redo.
 */
import { compareNumbers } from './order.ts';
import { prepareOutput, preparedDistance, type MetricLike, type PreparedOutput } from './distance.ts';
import type { TextComparer } from './textComparer.ts';

/** Options for {@link PairwiseMatrix}. */
export interface PairwiseMatrixOptions {
  /** Metric for every pair; `auto` by default. */
  readonly metric?: MetricLike;
  /** Memo of text profiles and distances shared with the run's merges. */
  readonly texts?: TextComparer;
}

/**
 * A growing symmetric distance matrix keyed by replicate index. Arrival
 * order is irrelevant to the values: `toArray` always lays rows out in the
 * requested (default: ascending) index order.
 */
export class PairwiseMatrix {
  /** Metric used for every pair added so far and in future. */
  readonly metric: MetricLike;
  readonly #texts: TextComparer | undefined;
  readonly #outputs: PreparedOutput[] = [];
  readonly #slotOf = new Map<number, number>();
  // Lower triangle by arrival slot: #rows[s][t] for t < s.
  readonly #rows: number[][] = [];

  /** Creates an empty matrix. */
  constructor(options: PairwiseMatrixOptions = {}) {
    this.metric = options.metric ?? 'auto';
    this.#texts = options.texts;
  }

  /** Number of replicates added. */
  get size(): number {
    return this.#outputs.length;
  }

  /** Replicate indices added so far, ascending. */
  get indices(): number[] {
    return [...this.#slotOf.keys()].sort(compareNumbers);
  }

  /** Whether replicate `index` has been added. */
  has(index: number): boolean {
    return this.#slotOf.has(index);
  }

  /**
   * Adds one replicate and computes its distances to all earlier ones.
   * Pass `null` for a failed or invalid replicate: it is then at distance 1
   * from every other replicate.
   *
   * @throws RangeError when `index` is not an integer or was already added.
   */
  add(index: number, output: unknown): void {
    if (!Number.isInteger(index)) throw new RangeError(`PairwiseMatrix.add: index must be an integer, got ${index}`);
    if (this.#slotOf.has(index)) throw new RangeError(`PairwiseMatrix.add: replicate ${index} already added`);
    const prepared = prepareOutput(output, this.metric, this.#texts);
    const row: number[] = [];
    for (const earlier of this.#outputs) row.push(preparedDistance(prepared, earlier, this.metric, this.#texts));
    this.#slotOf.set(index, this.#outputs.length);
    this.#outputs.push(prepared);
    this.#rows.push(row);
  }

  /**
   * Distance between two added replicates (0 on the diagonal).
   *
   * @throws RangeError for an index that was never added.
   */
  distance(i: number, j: number): number {
    const si = this.#slot(i);
    const sj = this.#slot(j);
    if (si === sj) return 0;
    const hi = Math.max(si, sj);
    const lo = Math.min(si, sj);
    return this.#rows[hi]?.[lo] ?? 1;
  }

  /**
   * The n×n matrix over `order` (default: every added index, ascending).
   *
   * @throws RangeError when `order` names an index that was never added.
   */
  toArray(order: readonly number[] = this.indices): number[][] {
    return order.map((i) => order.map((j) => this.distance(i, j)));
  }

  #slot(index: number): number {
    const s = this.#slotOf.get(index);
    if (s === undefined) throw new RangeError(`PairwiseMatrix: replicate ${index} was never added`);
    return s;
  }
}

/**
 * One-shot matrix over `outputs`, where position i is replicate i; use
 * `null` for failed replicates.
 */
export function pairwiseDistances(outputs: readonly unknown[], metric: MetricLike = 'auto'): number[][] {
  const m = new PairwiseMatrix({ metric });
  outputs.forEach((output, i) => m.add(i, output));
  return m.toArray();
}

/**
 * Mean distance over unordered pairs among `among` (replicate indices for a
 * {@link PairwiseMatrix}, row positions for a plain array; default: all).
 * Fewer than two members give 0: nothing disagrees yet, and early-stopping
 * rules guard against that case with `min_replicates`.
 *
 * @throws RangeError for an unknown index or position.
 */
export function meanPairwiseDistance(
  matrix: PairwiseMatrix | readonly (readonly number[])[],
  among?: readonly number[],
): number {
  const lookup =
    matrix instanceof PairwiseMatrix
      ? (i: number, j: number) => matrix.distance(i, j)
      : (i: number, j: number) => {
          const d = matrix[i]?.[j];
          if (d === undefined) throw new RangeError(`meanPairwiseDistance: no entry at [${i}][${j}]`);
          return d;
        };
  const members = [...new Set(among ?? (matrix instanceof PairwiseMatrix ? matrix.indices : matrix.map((_, i) => i)))].sort(
    compareNumbers,
  );
  if (members.length < 2) {
    // Still validate a lone member so typos do not silently read as agreement.
    for (const i of members) lookup(i, i);
    return 0;
  }
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < members.length; a++) {
    for (let b = a + 1; b < members.length; b++) {
      sum += lookup(members[a] as number, members[b] as number);
      pairs++;
    }
  }
  return sum / pairs;
}
