import { providerCallKey } from '../reliability/callKeys.ts';
import type { CallSlot } from '../toolkit/api.ts';

/** Distinct slots one keyring numbers (a run makes at most MAX_REPLICATES replicates per pass; this is far past it). */
const MAX_SLOTS = 100_000;

/**
 * The provider `Idempotency-Key`s of one tool's calls within a run. A call
 * names its slot (replicate index or the synthesizer); the n-th call made
 * for the same slot is call n, so a second pass over the same replicates, or
 * a step of a composite tool (`step` goes into the basis), never reuses a key.
 * Calls that name no slot are numbered in the order they are made.
 */
export function callKeyring(run: { id: string; idempotencyKey?: string | undefined }, step?: string): (slot?: Pick<CallSlot, 'replicate'>) => string {
  const basis = step === undefined ? run : { id: `${run.id}\u0000${step}`, idempotencyKey: run.idempotencyKey === undefined ? undefined : `${run.idempotencyKey}\u0000${step}` };
  const calls = new Map<string, number>();
  let loose = 0;
  return (slot) => {
    if (slot === undefined || calls.size >= MAX_SLOTS) return providerCallKey(basis, -1, loose++);
    const key = String(slot.replicate);
    const n = calls.get(key) ?? 0;
    calls.set(key, n + 1);
    return providerCallKey(basis, slot.replicate, n);
  };
}
