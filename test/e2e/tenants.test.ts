import { describe, expect, it } from 'vitest';
import { getJson, postJson, withService, type TestService } from '../helpers/service.ts';

const A = { authorization: 'Bearer key-tenant-a' };
const B = { authorization: 'Bearer key-tenant-b' };
const KEYS = 'key-tenant-a,key-tenant-b';

/** Polls a condition (runs end on the server's own schedule). */
async function until(cond: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Opens an SSE stream and resolves once its response head is in (or with the error answer). */
async function openStream(url: string, headers: Record<string, string>, signal: AbortSignal) {
  const res = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' }, signal });
  if (res.status !== 200) return { status: res.status, body: (await res.json()) as any, headers: res.headers };
  return { status: res.status, body: null, headers: res.headers };
}

async function idle(svc: TestService) {
  await until(() => svc.orchestrator.activeCount === 0);
}

describe('fairness between tenants', () => {
  it('refuses a tenant past MAX_RUNS_PER_TENANT with 429 rate_limited and Retry-After, even when its requests race, while another tenant still starts runs', async () => {
    await withService({ env: { API_KEYS: KEYS, MAX_RUNS_PER_TENANT: '3' } }, async (svc) => {
      svc.sim.configure({ latencyMs: 400 });
      const url = `${svc.url}/v1/runs`;
      // Ten at once: admission is taken before any await, so exactly three get in.
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => postJson(url, { input: `a${i}`, replicates: 1, background: true }, A)));
      const accepted = answers.filter((a) => a.status === 202);
      const refused = answers.filter((a) => a.status === 429);
      expect(accepted).toHaveLength(3);
      expect(refused).toHaveLength(7);
      expect(refused[0]?.body.error).toMatchObject({ code: 'rate_limited', retryable: true });
      expect(refused[0]?.body.error.message).toContain('MAX_RUNS_PER_TENANT');
      expect(Number(refused[0]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await postJson(url, { input: 'b', replicates: 1, background: true }, B)).status).toBe(202);
      await idle(svc);
      // The share frees as runs end.
      expect((await postJson(url, { input: 'a again', replicates: 1 }, A)).status).toBe(200);
    });
  });

  it('gives the admission back on every way out that does not start a run (replays, 422, 400)', async () => {
    await withService({ env: { API_KEYS: KEYS, MAX_RUNS_PER_TENANT: '1' } }, async (svc) => {
      const url = `${svc.url}/v1/runs`;
      const keyed = { ...A, 'idempotency-key': 'a-once' };
      expect((await postJson(url, { input: 'first', replicates: 1 }, keyed)).status).toBe(200);
      for (let i = 0; i < 3; i++) {
        const replay = await postJson(url, { input: 'first', replicates: 1 }, keyed);
        expect(replay.headers.get('idempotent-replayed')).toBe('true');
      }
      expect((await postJson(url, { input: 'other body', replicates: 1 }, keyed)).status).toBe(422);
      expect((await postJson(url, { input: 'x', replicates: 1, budget: { max_tokens: 1 } }, A)).status).toBe(400);
      // With a share of one, any leaked admission would make this 429.
      expect((await postJson(url, { input: 'second', replicates: 1 }, A)).status).toBe(200);
    });
  });

  it("leaves another tenant's run within a small factor of its time alone while one tenant is at its limits", async () => {
    const env = { API_KEYS: KEYS, MAX_RUNS_PER_TENANT: '6', MAX_ACTIVE_RUNS: '8', MAX_GLOBAL_CONCURRENCY: '4', MAX_QUEUED_RUNS: '100' };
    await withService({ env }, async (svc) => {
      svc.sim.configure({ latencyMs: 100 });
      const url = `${svc.url}/v1/runs`;
      const timed = async () => {
        const started = performance.now();
        const res = await postJson(url, { input: 'b question', replicates: 4 }, B);
        expect(res.body.status).toBe('succeeded');
        return performance.now() - started;
      };
      await timed(); // warm-up
      const alone = await timed();
      // A at its limits: six runs of 16 replicates, 96 calls for 4 provider slots (~2.4 s of backlog).
      const background = await Promise.all(Array.from({ length: 6 }, (_, i) => postJson(url, { input: `a${i}`, replicates: 16, background: true }, A)));
      for (const b of background) expect(b.status).toBe(202);
      expect((await postJson(url, { input: 'one more', replicates: 1, background: true }, A)).status).toBe(429);
      await until(() => svc.sim.stats().inFlight === 4);
      const contended = await timed();
      // First-come-first-served puts B behind all 96 calls (~2.4 s, ≥ 10× alone); round-robin slots keep it close.
      expect(contended).toBeLessThan(Math.max(alone, 120) * 5);
      await idle(svc);
    });
  });

  it("does not let one tenant's streams take every stream slot", async () => {
    await withService({ env: { API_KEYS: KEYS, MAX_STREAMS: '10', MAX_STREAMS_PER_TENANT: '5' } }, async (svc) => {
      svc.sim.configure({ latencyMs: 1500 });
      const url = `${svc.url}/v1/runs`;
      const slow = await postJson(url, { input: 'slow', replicates: 1, background: true }, A);
      const abort = new AbortController();
      try {
        const events = `${url}/${slow.body.id}/events`;
        const mine = await Promise.all(Array.from({ length: 5 }, () => openStream(events, A, abort.signal)));
        expect(mine.map((s) => s.status)).toEqual([200, 200, 200, 200, 200]);
        const sixth = await openStream(events, A, abort.signal);
        expect(sixth.status).toBe(429);
        expect(sixth.body.error.code).toBe('rate_limited');
        expect(sixth.headers.get('retry-after')).not.toBeNull();
        const other = await postJson(url, { input: 'b slow', replicates: 1, background: true }, B);
        const theirs = await openStream(`${url}/${other.body.id}/events`, B, abort.signal);
        expect(theirs.status).toBe(200);
      } finally {
        abort.abort();
      }
      await idle(svc);
    });
  });

  it("cannot evict another tenant's runs or idempotency records by flooding", async () => {
    await withService({ env: { API_KEYS: KEYS, MAX_RUNS: '30' } }, async (svc) => {
      const url = `${svc.url}/v1/runs`;
      const first = await postJson(url, { input: 'b keyed', replicates: 1 }, { ...B, 'idempotency-key': 'b-key-1' });
      expect(first.status).toBe(200);
      for (let i = 0; i < 400; i += 20) {
        const batch = await Promise.all(Array.from({ length: 20 }, (_, j) => postJson(url, { input: `a${i + j}`, replicates: 1 }, A)));
        for (const b of batch) expect(b.status).toBe(200);
      }
      const received = svc.sim.stats().received;
      expect((await getJson(`${url}/${first.body.id}`, B)).status).toBe(200);
      const retry = await postJson(url, { input: 'b keyed', replicates: 1 }, { ...B, 'idempotency-key': 'b-key-1' });
      expect(retry.status).toBe(200);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(retry.body.id).toBe(first.body.id);
      expect(svc.sim.stats().received).toBe(received);
    });
  });
});
