/**
 * Spreads a run's replicates across models: round-robin in the order given,
 * or, with weights, in proportion to them (largest remainder, ties to the
 * earlier model), interleaved so every prefix of the run is as close to the
 * proportions as it can be: early stop and waves then see a mixed panel,
 * not one model's block.
 *
 * @returns the model of each replicate index, length `n`.
 */
export function assignModels(models: readonly string[], n: number, weights?: readonly number[]): string[] {
  if (models.length === 0) throw new RangeError('assignModels: no models');
  if (weights !== undefined && weights.length !== models.length) throw new RangeError('assignModels: one weight per model');
  const w = weights ?? models.map(() => 1);
  if (w.some((x) => !(x >= 0)) || w.every((x) => x === 0)) throw new RangeError('assignModels: weights must be >= 0, not all 0');
  const total = w.reduce((a, b) => a + b, 0);
  const given = models.map(() => 0);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    // The model furthest behind its share after i+1 replicates goes next (ties: the earlier model).
    let best = 0;
    let bestDeficit = Number.NEGATIVE_INFINITY;
    for (let m = 0; m < models.length; m++) {
      const deficit = ((i + 1) * (w[m] as number)) / total - (given[m] as number);
      if (deficit > bestDeficit + 1e-12) {
        best = m;
        bestDeficit = deficit;
      }
    }
    given[best] = (given[best] as number) + 1;
    out.push(models[best] as string);
  }
  return out;
}
