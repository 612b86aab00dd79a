/**
 * An independent reference model of what the service should do, used to
 * check its early-stop behaviour run by run: which answer each replicate
 * gets from the simulator, when each rule should fire on a sequential
 * (wave_size 1) run, and what the majority vote is. Written from the
 * papers' definitions and the API contract, not from src/bundle.
 */
import { pickWeighted, rngFor } from '../../src/providers/simulator/prng.ts';
import type { Question } from './questions.ts';

/** The `early_stop` block of a request (only what the benchmark uses). */
export interface EarlyStopParams {
  quorum?: number;
  epsilon?: number;
  confidence?: number;
  min_replicates?: number;
  rule?: 'adaptive_consistency' | 'esc' | 'predictive';
  threshold?: number;
  window?: number;
}

export type RuleName = 'epsilon' | 'quorum' | 'confidence' | 'adaptive_consistency' | 'esc' | 'predictive';

/** Replicate seed per the API contract: run seed + index + 1. */
export function replicateSeed(runSeed: number, index: number): number {
  return (runSeed + index + 1) % 2 ** 31;
}

/** The label the simulator answers for replicate `index` of a run seeded `runSeed`. */
export function predictAnswer(q: Question, runSeed: number, index: number): string {
  const rng = rngFor(replicateSeed(runSeed, index), q.prompt);
  return pickWeighted(rng, q.distribution.map((d) => ({ label: d.label, weight: d.p }))).label;
}

function counts(labels: readonly string[]): Array<[string, number]> {
  const m = new Map<string, number>();
  for (const l of labels) m.set(l, (m.get(l) ?? 0) + 1);
  // Largest count first; ties to the label whose JSON sorts first (the service's documented tie-break).
  return [...m].sort((a, b) => b[1] - a[1] || (JSON.stringify(a[0]) < JSON.stringify(b[0]) ? -1 : 1));
}

/** Plurality vote, ties to the canonically first label; null for no votes. */
export function majority(labels: readonly string[]): string | null {
  return counts(labels)[0]?.[0] ?? null;
}

const acCache = new Map<string, number>();

/**
 * Adaptive-Consistency's Beta criterion (Aggarwal et al. 2023): with v1 and
 * v2 votes for the two leading answers, P(p1 > p2) under Beta(v1+1, v2+1),
 * i.e. ∫_{1/2}^{1} x^{v1} (1−x)^{v2} dx / B(v1+1, v2+1), integrated
 * numerically here (Simpson, 2000 panels) rather than via the closed form.
 */
export function acProbability(v1: number, v2: number): number {
  const key = `${v1},${v2}`;
  const cached = acCache.get(key);
  if (cached !== undefined) return cached;
  const f = (x: number) => x ** v1 * (1 - x) ** v2;
  const integrate = (a: number, b: number) => {
    const n = 2000;
    const h = (b - a) / n;
    let s = f(a) + f(b);
    for (let i = 1; i < n; i++) s += f(a + i * h) * (i % 2 === 1 ? 4 : 2);
    return (s * h) / 3;
  };
  const p = integrate(0.5, 1) / integrate(0, 1);
  acCache.set(key, p);
  return p;
}

/**
 * The predictive rule, written independently of src/bundle: enumerate every
 * way the remaining answers can fall under a Pólya urn (uniform prior) over
 * leader / challenger / the rest, and sum the ways the challenger ends level
 * or ahead. Memoised recursion instead of the service's forward DP.
 */
export function predictiveFlip(v1: number, v2: number, rest: number, remaining: number): number {
  const memo = new Map<string, number>();
  const go = (a: number, b: number, c: number, left: number): number => {
    if (left === 0) return b >= a ? 1 : 0;
    const key = `${a},${b},${c},${left}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const total = a + b + c + 3;
    const p = ((a + 1) / total) * go(a + 1, b, c, left - 1) + ((b + 1) / total) * go(a, b + 1, c, left - 1) + ((c + 1) / total) * go(a, b, c + 1, left - 1);
    memo.set(key, p);
    return p;
  };
  return go(v1, v2, rest, remaining);
}

/** Mean pairwise 0/1 distance of categorical answers (1 when they differ). */
function meanPairwise(labels: readonly string[]): number {
  const n = labels.length;
  if (n < 2) return 0;
  let same = 0;
  for (const [, c] of counts(labels)) same += (c * (c - 1)) / 2;
  return 1 - same / ((n * (n - 1)) / 2);
}

/**
 * Whether the configured rule stops a sequential run after exactly the
 * answers in `seen` (all valid), out of `requested`; rules are tried in the
 * documented order epsilon, quorum, confidence, then `rule`.
 */
export function referenceDecision(seen: readonly string[], requested: number, es: EarlyStopParams): RuleName | null {
  const n = seen.length;
  const min = Math.max(1, es.min_replicates ?? 2);
  if (n < min || n >= requested) return null;
  const ranked = counts(seen);
  const v1 = ranked[0]?.[1] ?? 0;
  const v2 = ranked[1]?.[1] ?? 0;
  if (es.epsilon !== undefined && meanPairwise(seen) <= es.epsilon + 1e-12) return 'epsilon';
  if (es.quorum !== undefined && v1 >= es.quorum) return 'quorum';
  if (es.confidence !== undefined && v1 / n >= es.confidence - 1e-12) return 'confidence';
  if (es.rule === 'adaptive_consistency' && acProbability(v1, v2) > (es.threshold ?? 0.95)) return 'adaptive_consistency';
  if (es.rule === 'predictive' && 1 - predictiveFlip(v1, v2, n - v1 - v2, requested - n) >= (es.threshold ?? 0.93) - 1e-12) return 'predictive';
  if (es.rule === 'esc') {
    const w = es.window ?? 4;
    // ESC samples window after window and stops on the first unanimous one.
    if (n % w === 0 && new Set(seen.slice(n - w)).size === 1) return 'esc';
  }
  return null;
}

/** Outcome of a sequential run (one replicate at a time) under `es`. */
export interface SequentialOutcome {
  /** Samples drawn. */
  used: number;
  rule: RuleName | null;
  consensus: string | null;
}

export function referenceSequential(answers: readonly string[], es: EarlyStopParams | undefined): SequentialOutcome {
  if (es) {
    for (let n = 1; n <= answers.length; n++) {
      const seen = answers.slice(0, n);
      const rule = referenceDecision(seen, answers.length, es);
      if (rule) return { used: n, rule, consensus: majority(seen) };
    }
  }
  return { used: answers.length, rule: null, consensus: majority(answers) };
}
