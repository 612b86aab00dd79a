/** Number formatting for the Markdown tables. */

export function ms(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  return `${value.toFixed(digits)} ms`;
}

export function num(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function signedMs(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  return `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)} ms`;
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  const sign = value < 0 ? '−' : '';
  const v = Math.abs(value);
  if (v >= 1024 * 1024 * 1024) return `${sign}${(v / 1024 / 1024 / 1024).toFixed(2)} GiB`;
  if (v >= 1024 * 1024) return `${sign}${(v / 1024 / 1024).toFixed(1)} MiB`;
  if (v >= 1024) return `${sign}${(v / 1024).toFixed(1)} KiB`;
  return `${sign}${v.toFixed(0)} B`;
}

/** ✅ / ❌ for a target verdict; ⚠️ when it could not be decided. */
export function verdict(met: boolean | null): string {
  if (met === null) return '⚠️ undecided';
  return met ? '✅ met' : '❌ missed';
}
