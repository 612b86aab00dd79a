import { decideEarlyStop, meanPairwiseDistance, voteKey, type PairwiseMatrix } from '../bundle/index.ts';
import type { EarlyStopResult, Replicate } from '../schemas/bundle.ts';
import type { EarlyStopConfig } from '../schemas/request.ts';

/**
 * Watches replicates land against the request's early-stopping rules and
 * says when the answer is settled: once, after which it stays triggered.
 */
export class EarlyStopWatch {
  readonly #rules: EarlyStopConfig | undefined;
  readonly #requested: number;
  /** Vote keys and indices of the valid replicates: only the rules use them. */
  readonly #keys: string[] = [];
  readonly #indices: number[] = [];
  #result: EarlyStopResult = { triggered: false, reason: null, rule: null, after: null };

  constructor(rules: EarlyStopConfig | undefined, requested: number) {
    this.#rules = rules;
    this.#requested = requested;
  }

  get result(): EarlyStopResult {
    return this.#result;
  }

  /** Whether the next observation needs the summary's confidence (computing it costs a summary). */
  get wantsConfidence(): boolean {
    return this.#rules?.confidence !== undefined && !this.#result.triggered;
  }

  /** Notes a replicate that landed. */
  note(replicate: Replicate): void {
    if (this.#rules && replicate.valid) {
      this.#keys.push(voteKey(replicate.output));
      this.#indices.push(replicate.index);
    }
  }

  /**
   * Decides after `finished` replicates, `confidence` being the current
   * summary's when {@link wantsConfidence} asked for it.
   * @returns the stop just decided, or null (no rules, already stopped, or not settled).
   */
  decide(matrix: PairwiseMatrix, finished: number, confidence: number | undefined): EarlyStopResult | null {
    const rules = this.#rules;
    if (!rules || this.#result.triggered) return null;
    const decision = decideEarlyStop(
      {
        keys: this.#keys,
        ...(rules.epsilon !== undefined ? { meanDistance: meanPairwiseDistance(matrix, this.#indices) } : {}),
        ...(confidence !== undefined ? { confidence } : {}),
        finished,
        requested: this.#requested,
      },
      rules,
    );
    if (!decision.stop) return null;
    this.#result = { triggered: true, reason: decision.reason, rule: decision.rule, after: finished };
    return this.#result;
  }
}
