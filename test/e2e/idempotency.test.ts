import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postJson, startTestService, type TestService, withService } from '../helpers/service.ts';
import { manualClock } from '../helpers/clock.ts';
import { openSse } from '../helpers/sse.ts';
import { waitFor } from '../helpers/waitFor.ts';

describe('Idempotency-Key (IETF draft semantics)', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc.close());
  beforeEach(() => svc.sim.reset());

  it('same key, same body: the first run again, Idempotent-Replayed: true, no new provider call', async () => {
    const body = { input: 'charge once', replicates: 2 };
    const first = await postJson(`${svc.url}/v1/runs`, body, { 'idempotency-key': 'k-same-1' });
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const calls = svc.sim.stats().received;
    // Key order does not change the fingerprint.
    const second = await postJson(`${svc.url}/v1/runs`, { replicates: 2, input: 'charge once' }, { 'idempotency-key': 'k-same-1' });
    expect(second.status).toBe(200);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body.id).toBe(first.body.id);
    expect(second.body).toEqual(first.body);
    expect(svc.sim.stats().received).toBe(calls);
  });

  it('while the first is still running: 409 idempotency_in_progress', async () => {
    svc.sim.configure({ latencyMs: 1000 });
    const body = { input: 'slow and once', replicates: 1 };
    const first = postJson(`${svc.url}/v1/runs`, body, { 'idempotency-key': 'k-running' });
    // The key is claimed before the run calls the provider: once the call is in flight, the run holds it.
    await waitFor(() => svc.sim.stats().inFlight === 1, { what: 'the first run calling the provider' });
    const second = await postJson(`${svc.url}/v1/runs`, body, { 'idempotency-key': 'k-running' });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'idempotency_in_progress', retryable: true });
    expect((await first).status).toBe(200);
    expect(svc.sim.stats().received).toBe(1);
  });

  it('same key, different body: 422 idempotency_conflict', async () => {
    await postJson(`${svc.url}/v1/runs`, { input: 'one thing', replicates: 1 }, { 'idempotency-key': 'k-conflict' });
    const other = await postJson(`${svc.url}/v1/runs`, { input: 'another thing', replicates: 1 }, { 'idempotency-key': 'k-conflict' });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_conflict');
  });

  it('a request refused as invalid does not hold the key', async () => {
    const bad = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 0 }, { 'idempotency-key': 'k-bad' });
    expect(bad.status).toBe(400);
    const good = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 1 }, { 'idempotency-key': 'k-bad' });
    expect(good.status).toBe(200);
  });

  it('keys are scoped per tenant', async () => {
    await withService({ env: { API_KEYS: 'tenant-a-key-123,tenant-b-key-456' } }, async (multi) => {
      const body = { input: 'per tenant', replicates: 1 };
      const a = await postJson(`${multi.url}/v1/runs`, body, { 'idempotency-key': 'shared', authorization: 'Bearer tenant-a-key-123' });
      const b = await postJson(`${multi.url}/v1/runs`, body, { 'idempotency-key': 'shared', authorization: 'Bearer tenant-b-key-456' });
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      expect(b.body.id).not.toBe(a.body.id);
      expect(b.headers.get('idempotent-replayed')).toBeNull();
      const anonymous = await postJson(`${multi.url}/v1/runs`, body);
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.error.code).toBe('unauthorized');
    });
  });

  it('a streamed replay replays the events', async () => {
    const body = { input: 'stream once', replicates: 2, stream: true };
    const init = { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'k-stream' }, body: JSON.stringify(body) };
    const first = await openSse(`${svc.url}/v1/runs`, init);
    const calls = svc.sim.stats().received;
    const replay = await openSse(`${svc.url}/v1/runs`, init);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.frames.map((f) => f.data)).toEqual(first.frames.map((f) => f.data));
    expect(svc.sim.stats().received).toBe(calls);
  });

  it('records expire after IDEMPOTENCY_TTL_MS', async () => {
    const clock = manualClock();
    await withService({ env: { IDEMPOTENCY_TTL_MS: '1000' }, now: clock.now }, async (short) => {
      const body = { input: 'expiring', replicates: 1 };
      const first = await postJson(`${short.url}/v1/runs`, body, { 'idempotency-key': 'k-ttl' });
      clock.advance(999);
      const replayed = await postJson(`${short.url}/v1/runs`, body, { 'idempotency-key': 'k-ttl' });
      expect(replayed.body.id).toBe(first.body.id);
      clock.advance(1);
      const later = await postJson(`${short.url}/v1/runs`, body, { 'idempotency-key': 'k-ttl' });
      expect(later.body.id).not.toBe(first.body.id);
    });
  });

  it('rejects a malformed key', async () => {
    const res = await postJson(`${svc.url}/v1/runs`, { input: 'x' }, { 'idempotency-key': 'x'.repeat(300) });
    expect(res.status).toBe(400);
  });
});

describe('Idempotency-Key under concurrency', () => {
  it('five simultaneous requests with one key start exactly one run', async () => {
    await withService({ behavior: { latencyMs: 300 } }, async (svc) => {
      const body = { input: 'race', replicates: 2 };
      const results = await Promise.all(Array.from({ length: 5 }, () => postJson(`${svc.url}/v1/runs`, body, { 'idempotency-key': 'k-race' })));
      const ok = results.filter((r) => r.status === 200);
      expect(ok).toHaveLength(1);
      expect(results.filter((r) => r.status === 409)).toHaveLength(4);
      await svc.sim.waitForIdle();
      expect(svc.sim.stats().received).toBe(2);
    });
  });
});

describe('runs belong to their tenant', () => {
  it('another API key gets 404 for a run; its owner can read, follow and cancel it', async () => {
    await withService({ env: { API_KEYS: 'tenant-a-key-123,tenant-b-key-456' }, behavior: { latencyMs: 300 } }, async (svc) => {
      const a = { authorization: 'Bearer tenant-a-key-123' };
      const b = { authorization: 'Bearer tenant-b-key-456' };
      const started = await postJson(`${svc.url}/v1/runs`, { input: 'mine', replicates: 1, background: true }, a);
      const id = started.body.id;
      for (const res of [
        await fetch(`${svc.url}/v1/runs/${id}`, { headers: b }),
        await fetch(`${svc.url}/v1/runs/${id}/events`, { headers: b }),
        await fetch(`${svc.url}/v1/runs/${id}/cancel`, { method: 'POST', headers: b }),
      ]) {
        expect(res.status).toBe(404);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
      }
      const own = await fetch(`${svc.url}/v1/runs/${id}`, { headers: a });
      expect(own.status).toBe(200);
      const cancelled = await postJson(`${svc.url}/v1/runs/${id}/cancel`, {}, a);
      expect(cancelled.body.status).toBe('cancelled');
    });
  });
});
