import type { ResolvedRequest } from '../toolkit/api.ts';

/**
 * Launches replicates 0..n-1 under the request's launch policy: all at once
 * (`all`), or in waves (`waves`), the next wave only while `signal` has not
 * stopped the run. Resolves once every launched replicate has finished.
 */
export async function launchAll(request: ResolvedRequest, signal: AbortSignal, runOne: (index: number) => Promise<void>): Promise<void> {
  const indices = Array.from({ length: request.replicates }, (_, i) => i);
  if (request.launch.policy !== 'waves') {
    await Promise.all(indices.map(runOne));
    return;
  }
  const wave = request.launch.wave_size ?? defaultWaveSize(request);
  for (let start = 0; start < indices.length && !signal.aborted; start += wave) {
    await Promise.all(indices.slice(start, start + wave).map(runOne));
  }
}

/** Waves just big enough for the configured stopping rule to fire after the first. */
function defaultWaveSize(request: ResolvedRequest): number {
  const rules = request.early_stop;
  return Math.max(1, rules?.quorum ?? 0, rules?.min_replicates ?? 0, rules?.window ?? 0, rules ? 2 : request.replicates);
}
