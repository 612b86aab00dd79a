import { createHash } from 'node:crypto';
import { canonicalJson } from '../bundle/canonical.ts';
import { ServiceError } from '../errors.ts';
import { isTerminal, type RunResult } from '../schemas/result.ts';
import type { Store } from '../store/types.ts';

const KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * A claim without a run record is normal for the few milliseconds between
 * claim and launch (the second request must wait: 409); only a claim this old
 * with no run behind it is abandoned and may be taken over.
 */
const STALE_CLAIM_MS = 30_000;

/** Checks an Idempotency-Key header value (printable ASCII, 1..255 characters). */
export function checkIdempotencyKey(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value) || !KEY.test(value)) {
    throw new ServiceError('invalid_request', 'Idempotency-Key must be 1 to 255 printable ASCII characters, given once', {
      details: { header: 'Idempotency-Key' },
    });
  }
  return value;
}

/** The request's fingerprint: method, route and canonical body (key order does not matter). */
export function requestFingerprint(method: string, route: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${route}\n${canonicalJson(body)}`).digest('base64url');
}

/** The store key of an idempotency key, scoped to its tenant. */
export function scopedKey(tenant: string, key: string): string {
  return `${tenant}:${createHash('sha256').update(key).digest('base64url')}`;
}

/** What the gate decided: go ahead with a fresh run, or answer with the earlier one. */
export type IdempotencyDecision = { kind: 'proceed' } | { kind: 'replay'; result: RunResult };

/**
 * The IETF Idempotency-Key gate: claims the key for `runId`, or judges the
 * earlier claim — different payload → 422, still running → 409, finished →
 * replay its result.
 */
export async function idempotencyGate(
  store: Store,
  input: { key: string; fingerprint: string; runId: string; ttlMs: number; now: number },
): Promise<IdempotencyDecision> {
  const claim = await store.claimIdempotency(input.key, { fingerprint: input.fingerprint, run_id: input.runId, result: null, created_at: input.now }, input.ttlMs);
  if (claim.claimed) return { kind: 'proceed' };
  const { record } = claim;
  if (record.fingerprint !== input.fingerprint) {
    throw new ServiceError('idempotency_conflict', 'this Idempotency-Key was used with a different request body', { details: { run_id: record.run_id } });
  }
  const result = record.result ?? (await store.getRun(record.run_id));
  if (result && isTerminal(result.status)) return { kind: 'replay', result };
  if (!result && input.now - record.created_at > STALE_CLAIM_MS) {
    // The first request claimed the key long ago but its run never appeared (its replica died
    // between claim and launch, or the record expired): let this one take over.
    await store.releaseIdempotency(input.key);
    return idempotencyGate(store, input);
  }
  throw new ServiceError('idempotency_in_progress', 'a request with this Idempotency-Key is still running', {
    details: { run_id: record.run_id, events: `/v1/runs/${record.run_id}/events` },
  });
}
