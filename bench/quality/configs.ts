/** The stopping strategies the quality benchmark compares. */
import type { EarlyStopParams, RuleName } from './reference.ts';

export interface Launch {
  policy: 'all' | 'waves';
  wave_size?: number;
}

export interface StrategyConfig {
  id: string;
  /** Human label for the table. */
  label: string;
  early_stop?: EarlyStopParams;
  launch: Launch;
  /** The rule name the service should report when it stops. */
  expectRule: RuleName | null;
}

const seq: Launch = { policy: 'waves', wave_size: 1 };

/**
 * Baseline first. Every rule runs sequentially (wave_size 1, like the
 * papers) since that is what saves calls; two extra rows show the cost of
 * waves of 2 (half the round trips) and of launching all at once.
 */
export const STRATEGIES: StrategyConfig[] = [
  { id: 'baseline', label: 'fixed N=10 majority (baseline)', launch: { policy: 'all' }, expectRule: null },
  { id: 'quorum6', label: 'quorum 6 (a majority of 10: lossless)', early_stop: { quorum: 6 }, launch: seq, expectRule: 'quorum' },
  { id: 'quorum5', label: 'quorum 5', early_stop: { quorum: 5 }, launch: seq, expectRule: 'quorum' },
  { id: 'quorum4', label: 'quorum 4', early_stop: { quorum: 4 }, launch: seq, expectRule: 'quorum' },
  { id: 'quorum3', label: 'quorum 3, min 3', early_stop: { quorum: 3, min_replicates: 3 }, launch: seq, expectRule: 'quorum' },
  { id: 'ac90', label: 'Adaptive-Consistency, threshold 0.90', early_stop: { rule: 'adaptive_consistency', threshold: 0.9 }, launch: seq, expectRule: 'adaptive_consistency' },
  { id: 'ac95', label: 'Adaptive-Consistency, threshold 0.95', early_stop: { rule: 'adaptive_consistency', threshold: 0.95 }, launch: seq, expectRule: 'adaptive_consistency' },
  { id: 'ac99', label: 'Adaptive-Consistency, threshold 0.99', early_stop: { rule: 'adaptive_consistency', threshold: 0.99 }, launch: seq, expectRule: 'adaptive_consistency' },
  { id: 'pred93', label: 'predictive, threshold 0.93 (default)', early_stop: { rule: 'predictive' }, launch: seq, expectRule: 'predictive' },
  { id: 'pred97', label: 'predictive, threshold 0.97', early_stop: { rule: 'predictive', threshold: 0.97 }, launch: seq, expectRule: 'predictive' },
  { id: 'esc3', label: 'ESC, window 3', early_stop: { rule: 'esc', window: 3 }, launch: seq, expectRule: 'esc' },
  { id: 'esc4', label: 'ESC, window 4', early_stop: { rule: 'esc', window: 4 }, launch: seq, expectRule: 'esc' },
  { id: 'esc5', label: 'ESC, window 5', early_stop: { rule: 'esc', window: 5 }, launch: seq, expectRule: 'esc' },
  { id: 'eps30', label: 'epsilon 0.3, min 4', early_stop: { epsilon: 0.3, min_replicates: 4 }, launch: seq, expectRule: 'epsilon' },
  { id: 'conf80', label: 'confidence 0.8, min 5', early_stop: { confidence: 0.8, min_replicates: 5 }, launch: seq, expectRule: 'confidence' },
  { id: 'ac95w2', label: 'Adaptive-Consistency, threshold 0.95', early_stop: { rule: 'adaptive_consistency', threshold: 0.95 }, launch: { policy: 'waves', wave_size: 2 }, expectRule: 'adaptive_consistency' },
  { id: 'quorum5all', label: 'quorum 5', early_stop: { quorum: 5 }, launch: { policy: 'all' }, expectRule: 'quorum' },
];

export function launchLabel(l: Launch): string {
  return l.policy === 'all' ? 'all at once' : `waves of ${l.wave_size ?? 'default'}`;
}
