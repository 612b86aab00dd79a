/**
 * Total orders used for every tie-break in this module. Locale-aware
 * comparison would make results depend on the host's ICU data, and sorting
 * by input position would make them depend on arrival order; both would
 * break the "same entries, same bundle" guarantee.
 */

/** Orders strings by UTF-16 code units. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders numbers ascending (a plain `a - b`, named so intent is visible at call sites). */
export function compareNumbers(a: number, b: number): number {
  return a - b;
}
