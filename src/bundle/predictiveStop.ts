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
 */

/** Probability that the challenger finishes ≥ the leader after `remaining` more answers. */
export function predictiveFlipProbability(v1: number, v2: number, rest: number, remaining: number, alpha = 1): number {
  if (remaining <= 0) return v2 >= v1 ? 1 : 0;
  // Leader so far ahead that even every remaining answer going to the challenger cannot catch it.
  if (v2 + remaining < v1) return 0;
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
