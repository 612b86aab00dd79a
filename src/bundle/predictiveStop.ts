/**
 * The predictive stopping rule: stop when the replicates still to come are
 * unlikely to change the plurality answer of the full run. Where
 * Adaptive-Consistency asks "is the leader truly the most likely answer?",
 * this asks what early stopping must preserve: "would the N-replicate vote
 * still pick the leader?", so it uses the budget N (few replicates left can
 * never overturn a lead) as well as the counts.
 *
 * Model: a Pólya urn (the Dirichlet-multinomial posterior predictive, with a
 * uniform prior `alpha`) over three buckets — the leader, its strongest
 * challenger, and every other answer lumped together. The probability that
 * the challenger ends level with or ahead of the leader after the remaining
 * draws is computed exactly by dynamic programming over (leader, challenger)
 * draws: O(remaining³) work, deterministic.
 *
 * Past {@link PREDICTIVE_DP_MAX_REMAINING} replicates left, the cubic DP
 * would stall the event loop (999 left took 2 s), so the same probability
 * is computed in closed form instead, in O(remaining²): the urn's draws are
 * Dirichlet-multinomial, so the leader-plus-challenger count K is
 * beta-binomial and, given K, the leader's share is beta-binomial again.
 * Both ways are exact; they agree to floating-point rounding, and below the
 * cap the DP's results are the ones they always were.
 */

/** Replicates left up to which the exact DP runs (≈45k steps, about a millisecond); past it, the closed form. */
export const PREDICTIVE_DP_MAX_REMAINING = 64;

/** Probability that the challenger finishes ≥ the leader after `remaining` more answers. */
export function predictiveFlipProbability(v1: number, v2: number, rest: number, remaining: number, alpha = 1): number {
  if (remaining <= 0) return v2 >= v1 ? 1 : 0;
  // Leader so far ahead that even every remaining answer going to the challenger cannot catch it.
  if (v2 + remaining < v1) return 0;
  if (remaining > PREDICTIVE_DP_MAX_REMAINING) return closedFormFlip(v1, v2, rest, remaining, alpha);
  return dpFlip(v1, v2, rest, remaining, alpha);
}

/** The Pólya-urn DP over (leader, challenger) draws: O(remaining³). */
export function dpFlip(v1: number, v2: number, rest: number, remaining: number, alpha = 1): number {
  const width = remaining + 1;
  let dp = new Float64Array(width * width);
  dp[0] = 1;
  for (let t = 0; t < remaining; t++) {
    const next = new Float64Array(width * width);
    const total = v1 + v2 + rest + t + 3 * alpha;
    for (let a = 0; a <= t; a++) {
      for (let b = 0; a + b <= t; b++) {
        const p = dp[a * width + b] as number;
        if (p === 0) continue;
        const c = t - a - b;
        next[(a + 1) * width + b] = (next[(a + 1) * width + b] as number) + (p * (v1 + a + alpha)) / total;
        next[a * width + b + 1] = (next[a * width + b + 1] as number) + (p * (v2 + b + alpha)) / total;
        next[a * width + b] = (next[a * width + b] as number) + (p * (rest + c + alpha)) / total;
      }
    }
    dp = next;
  }
  let flip = 0;
  for (let a = 0; a <= remaining; a++) {
    for (let b = 0; a + b <= remaining; b++) if (v2 + b >= v1 + a) flip += dp[a * width + b] as number;
  }
  return Math.min(1, Math.max(0, flip));
}

/**
 * The same probability in O(remaining²): K = leader + challenger draws is
 * BetaBinomial(remaining; a1 + a2, a3), and given K = k the leader's draws
 * are BetaBinomial(k; a1, a2); the challenger ends level or ahead iff the
 * leader draws at most ⌊(k + v2 − v1) / 2⌋. Log-space recurrences keep the
 * tiny terms of large counts from underflowing.
 */
export function closedFormFlip(v1: number, v2: number, rest: number, remaining: number, alpha = 1): number {
  const a1 = v1 + alpha;
  const a2 = v2 + alpha;
  const a3 = rest + alpha;
  let flip = 0;
  let logK = betaBinomialLogPmf0(remaining, a1 + a2, a3);
  for (let k = 0; k <= remaining; k++) {
    if (k > 0) logK += stepLogPmf(k - 1, remaining, a1 + a2, a3);
    const t = Math.floor((k + v2 - v1) / 2);
    if (t >= 0 && logK > -745) flip += Math.exp(logK) * Math.min(1, betaBinomialCdf(t, k, a1, a2));
  }
  return Math.min(1, Math.max(0, flip));
}

/**
 * P(X ≤ t) for X ~ BetaBinomial(n; a, b): terms relative to P(X = 0) by
 * their ratios (multiplications only, no log or exp per term), rescaled
 * before they could overflow, then shifted back by log P(X = 0).
 */
function betaBinomialCdf(t: number, n: number, a: number, b: number): number {
  if (t >= n) return 1;
  let term = 1;
  let sum = 1;
  let logScale = betaBinomialLogPmf0(n, a, b);
  for (let j = 0; j < t; j++) {
    term *= ((n - j) * (j + a)) / ((j + 1) * (n - j - 1 + b));
    sum += term;
    if (sum > 1e250) {
      term *= 1e-250;
      sum *= 1e-250;
      logScale += 250 * Math.LN10;
    }
  }
  return Math.exp(logScale + Math.log(sum));
}

/** log P(X = 0) for X ~ BetaBinomial(n; a, b): B(a, n + b) / B(a, b). */
function betaBinomialLogPmf0(n: number, a: number, b: number): number {
  return logGamma(b + n) - logGamma(a + b + n) + logGamma(a + b) - logGamma(b);
}

/** log P(X = j + 1) − log P(X = j) for X ~ BetaBinomial(n; a, b). */
function stepLogPmf(j: number, n: number, a: number, b: number): number {
  return Math.log(n - j) - Math.log(j + 1) + Math.log(j + a) - Math.log(n - j - 1 + b);
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Γ(x) for x > 0 (Lanczos, g = 7: about 15 significant digits). */
function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0] as number;
  for (let i = 1; i < 9; i++) sum += (LANCZOS[i] as number) / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}
