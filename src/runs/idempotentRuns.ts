import { idempotencyGate, requestFingerprint, scopedKey, type IdempotencyDecision } from '../reliability/idempotency.ts';
import type { RunResult } from '../schemas/result.ts';
import type { Store } from '../store/types.ts';

/**
 * The idempotency record of `POST /v1/runs`, from claim to completion: the
 * submission claims it (or is answered a replay), releases it when the run
 * does not launch, and the run's end completes it with the final record.
 */
export interface RunClaim {
  /** The record's store key (scoped to the tenant): queued runs carry it to whichever replica ends them. */
  key: string;
  decision: IdempotencyDecision;
}

/** Claims `key` for run `runId`, or judges the earlier claim (422, 409, or a replay). */
export async function claimRun(store: Store, input: { tenant: string; key: string; body: unknown; runId: string; ttlMs: number; now: number }): Promise<RunClaim> {
  const key = scopedKey(input.tenant, input.key);
  const decision = await idempotencyGate(store, {
    key,
    fingerprint: requestFingerprint('POST', '/v1/runs', input.body),
    runId: input.runId,
    ttlMs: input.ttlMs,
    now: input.now,
  });
  return { key, decision };
}

/** Frees a claim whose run was never launched, so a retry may launch it. */
export async function releaseClaim(store: Store, key: string): Promise<void> {
  await store.releaseIdempotency(key).catch(() => {});
}

/** Completes a claim with the run's final record: later requests with the key replay it. */
export async function completeClaim(store: Store, key: string | undefined, final: RunResult): Promise<void> {
  if (key) await store.completeIdempotency(key, final);
}
