/**
 * The Beta stopping criterion of Adaptive-Consistency (Aggarwal et al.,
 * 2023, "Let's Sample Step by Step"), computed exactly for integer counts.
 */

/**
 * P(p1 > p2) for the two leading answers with v1 and v2 votes, i.e.
 * P(X > 1/2) for X ~ Beta(v1 + 1, v2 + 1).
 *
 * For integer parameters the regularised incomplete beta is a binomial tail:
 * I_{1/2}(a, b) = P(Bin(a + b − 1, 1/2) ≥ a), hence
 * P(X > 1/2) = P(Bin(v1 + v2 + 1, 1/2) ≤ v1) = Σ_{j ≤ v1} C(n, j) / 2ⁿ.
 * The sum is exact in BigInt; only the final division rounds. Symmetric in
 * the sense that f(v1, v2) + f(v2, v1) = 1, and f(v, v) = 1/2.
 *
 * @throws RangeError unless both counts are non-negative safe integers.
 */
export function betaStopProbability(v1: number, v2: number): number {
  for (const v of [v1, v2]) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new RangeError(`betaStopProbability: counts must be non-negative integers, got ${v}`);
    }
  }
  const n = v1 + v2 + 1;
  const bn = BigInt(n);
  let term = 1n; // C(n, 0)
  let sum = 1n;
  for (let j = 0; j < v1; j++) {
    term = (term * (bn - BigInt(j))) / BigInt(j + 1);
    sum += term;
  }
  return dyadicToNumber(sum, n);
}

/**
 * num / 2^exp as a double without overflowing: keep the top 64 bits of num
 * (relative error < 2^-63, far below double precision after rounding to
 * 53 bits) and scale down in steps that stay inside the exponent range.
 */
function dyadicToNumber(num: bigint, exp: number): number {
  const bits = num.toString(2).length;
  const drop = Math.max(0, bits - 64);
  let x = Number(num >> BigInt(drop));
  let e = exp - drop;
  while (e > 0) {
    const step = Math.min(e, 512);
    x /= 2 ** step;
    e -= step;
  }
  return x;
}
