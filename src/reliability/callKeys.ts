import { hash } from 'node:crypto';

/**
 * The `Idempotency-Key` of one provider call: derived from the run (its own
 * idempotency key when the caller sent one, so a retried request maps onto
 * the same provider keys, else its id), the replicate and the call within
 * it. Stable across the retries of that call, distinct between calls, and
 * opaque: the caller's key is hashed, never forwarded.
 */
export function providerCallKey(run: { id: string; idempotencyKey?: string | undefined }, replicate: number | 'synthesizer', call: number): string {
  const basis = run.idempotencyKey !== undefined ? `key:${run.idempotencyKey}` : `run:${run.id}`;
  const digest = hash('sha256', `${basis}\u0000${replicate}\u0000${call}`, 'base64url').slice(0, 32);
  return `orch-${digest}`;
}
