/**
 * Pure early-stopping rules: given the valid answers seen so far, decide
 * whether the remaining replicates can be cancelled. The orchestrator owns
 * the cancelling; this file only owns the decision and its explanation.
 */
import { betaStopProbability } from './betaStop.ts';
import { predictiveFlipProbability } from './predictiveStop.ts';
import { canonicalJson } from './canonical.ts';
import { compareText } from './order.ts';
import { normalizeText } from './text.ts';
import type { EarlyStopConfig as EarlyStopRequest } from '../schemas/request.ts';

/**
 * Early-stopping configuration; every rule is off unless configured. The
 * request schema's `early_stop` (EarlyStopSchema, src/schemas/request.ts) is
 * its one source: epsilon (mean pairwise distance ≤ epsilon), quorum (votes
 * of the leader), confidence, min_replicates (default 2), and the sequential
 * `rule` (adaptive_consistency: P(leader stays ahead) > threshold, default
 * 0.95; predictive: P(the full run keeps the leader) ≥ threshold, default
 * 0.93; esc: a unanimous `window`, default 4).
 */
export type EarlyStopConfig = Readonly<EarlyStopRequest>;

/** What the rules look at. */
export interface EarlyStopState {
  /** {@link voteKey} of each valid answer, in arrival order. */
  readonly keys: readonly string[];
  /** Mean pairwise distance among the valid answers (needed by `epsilon`). */
  readonly meanDistance?: number;
  /** Current consensus confidence (needed by `confidence`). */
  readonly confidence?: number;
  /** Replicates finished so far, valid or not. */
  readonly finished: number;
  /** Replicates requested. */
  readonly requested: number;
}

/** Which rule fired. */
export type EarlyStopRule = 'epsilon' | 'quorum' | 'confidence' | 'adaptive_consistency' | 'esc' | 'predictive';

/** The decision and, when stopping, a one-sentence explanation. */
export interface EarlyStopDecision {
  stop: boolean;
  reason: string | null;
  rule: EarlyStopRule | null;
}

const DEFAULT_MIN_REPLICATES = 2;
const DEFAULT_AC_THRESHOLD = 0.95;
/** Chosen with `npm run bench:quality`: the middle of the plateau where calls halve at under 0.5 pp loss. */
const DEFAULT_PREDICTIVE_THRESHOLD = 0.93;
const DEFAULT_ESC_WINDOW = 4;

/**
 * The key answers are counted under: canonical JSON of the value, except
 * that strings are normalised first so "Paris." and "paris" vote together
 * (the same normalisation the merge's free-text vote uses). Strings stay
 * JSON-quoted so the string "1" never collides with the number 1.
 */
export function voteKey(output: unknown): string {
  return typeof output === 'string' ? canonicalJson(normalizeText(output)) : canonicalJson(output);
}

/**
 * Applies the configured rules in a fixed order (epsilon, quorum,
 * confidence, then `rule`) and reports the first that fires. Never stops
 * before `min_replicates` valid answers, nor once every requested replicate
 * has finished (there is nothing left to cancel). A rule whose input is
 * missing from `state` (e.g. no `meanDistance`) does not fire.
 *
 * @throws RangeError for a non-integer `min_replicates` or `window` < 1.
 */
export function decideEarlyStop(state: EarlyStopState, config: EarlyStopConfig): EarlyStopDecision {
  const minReplicates = config.min_replicates ?? DEFAULT_MIN_REPLICATES;
  const window = config.window ?? DEFAULT_ESC_WINDOW;
  if (!Number.isInteger(minReplicates)) throw new RangeError(`min_replicates must be an integer, got ${minReplicates}`);
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer, got ${window}`);
  const n = state.keys.length;
  if (n < Math.max(1, minReplicates) || state.finished >= state.requested) return { stop: false, reason: null, rule: null };

  if (config.epsilon !== undefined && state.meanDistance !== undefined && state.meanDistance <= config.epsilon) {
    return stop(
      'epsilon',
      `mean pairwise distance ${fmt(state.meanDistance)} ≤ epsilon ${fmt(config.epsilon)} over ${n} valid replicates`,
    );
  }
  const ranked = rankVotes(state.keys);
  const v1 = ranked[0] ?? 0;
  const v2 = ranked[1] ?? 0;
  if (config.quorum !== undefined && v1 >= config.quorum) {
    return stop('quorum', `${v1} of ${n} replicates agree (quorum ${config.quorum})`);
  }
  if (config.confidence !== undefined && state.confidence !== undefined && state.confidence >= config.confidence) {
    return stop('confidence', `confidence ${fmt(state.confidence)} ≥ ${fmt(config.confidence)}`);
  }
  if (config.rule === 'adaptive_consistency') {
    const threshold = config.threshold ?? DEFAULT_AC_THRESHOLD;
    const p = betaStopProbability(v1, v2);
    if (p > threshold) {
      return stop(
        'adaptive_consistency',
        `P(leading answer stays ahead) = ${fmt(p)} > ${fmt(threshold)} with ${v1} vs ${v2} votes (Adaptive-Consistency)`,
      );
    }
  }
  if (config.rule === 'predictive') {
    const threshold = config.threshold ?? DEFAULT_PREDICTIVE_THRESHOLD;
    const remaining = state.requested - state.finished;
    const keep = 1 - predictiveFlipProbability(v1, v2, n - v1 - v2, remaining);
    if (keep >= threshold) {
      return stop('predictive', `P(all ${state.requested} replicates would still pick the leader) = ${fmt(keep)} ≥ ${fmt(threshold)} with ${v1} vs ${v2} votes, ${remaining} to go`);
    }
  }
  if (config.rule === 'esc') {
    const complete = Math.floor(n / window);
    if (complete >= 1) {
      const start = (complete - 1) * window;
      const slice = state.keys.slice(start, start + window);
      if (slice.every((k) => k === slice[0])) {
        return stop('esc', `answers ${start + 1}–${start + window} are unanimous (ESC window ${window})`);
      }
    }
  }
  return { stop: false, reason: null, rule: null };
}

/** Vote counts, largest first. */
function rankVotes(keys: readonly string[]): number[] {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || compareText(a[0], b[0]))
    .map(([, c]) => c);
}

function stop(rule: EarlyStopRule, reason: string): EarlyStopDecision {
  return { stop: true, reason, rule };
}

/** Three decimals are plenty for a human-readable reason and keep it stable across runs. */
function fmt(x: number): string {
  return String(Math.round(x * 1000) / 1000);
}
