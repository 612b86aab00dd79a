/** Small statistics helpers shared by every scenario. */

/** Percentile with linear interpolation between closest ranks (p in [0, 100]). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return percentileSorted(sorted, p);
}

/** Like {@link percentile} for an already ascending array (no copy). */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (n === 1) return sorted[0] as number;
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (rank - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Distribution summary in the units of the input. */
export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const n = sorted.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += sorted[i] as number;
  return {
    n,
    min: n ? (sorted[0] as number) : Number.NaN,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    max: n ? (sorted[n - 1] as number) : Number.NaN,
    mean: n ? s / n : Number.NaN,
  };
}

/** Least-squares slope and intercept of y over x. */
export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number } {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return { slope: Number.NaN, intercept: Number.NaN };
  const mx = mean(xs.slice(0, n));
  const my = mean(ys.slice(0, n));
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    num += dx * ((ys[i] as number) - my);
    den += dx * dx;
  }
  const slope = den === 0 ? Number.NaN : num / den;
  return { slope, intercept: my - slope * mx };
}

/** Two-sided 95 % quantile of Student's t with `df` degrees of freedom (table to 30, then the normal limit). */
export function tQuantile975(df: number): number {
  const table = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069,
    2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
  ];
  if (!(df >= 1)) return Number.NaN;
  return df <= table.length ? (table[Math.floor(df) - 1] as number) : 1.96;
}

/**
 * Least-squares slope of y over x with its 95 % confidence half-width
 * (t with n − 2 degrees of freedom; residuals assumed independent).
 */
export function slopeWithCi(xs: readonly number[], ys: readonly number[]): { slope: number; ci95: number; n: number } {
  const n = Math.min(xs.length, ys.length);
  const { slope, intercept } = linearFit(xs, ys);
  if (n < 3) return { slope, ci95: Number.NaN, n };
  const mx = mean(xs.slice(0, n));
  let ssr = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i] as number;
    const r = (ys[i] as number) - (intercept + slope * x);
    ssr += r * r;
    sxx += (x - mx) ** 2;
  }
  const se = Math.sqrt(ssr / (n - 2) / sxx);
  return { slope, ci95: tQuantile975(n - 2) * se, n };
}

/** Rounds for display/JSON: `digits` decimals. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** High-resolution now in ms (monotonic). */
export function nowMs(): number {
  return performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
