import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.ts';
import { getJson, postJson, withService } from '../helpers/service.ts';
import { manualClock } from '../helpers/clock.ts';
import { openSse } from '../helpers/sse.ts';
import { waitFor } from '../helpers/waitFor.ts';

/** Distinct `model` label values of the replicate latency histogram in a /metrics scrape. */
function modelLabels(scrape: string): Set<string> {
  return new Set([...scrape.matchAll(/orchestrator_replicate_latency_seconds_count\{[^}]*model="([^"]*)"/g)].map((m) => m[1] as string));
}

describe('state the service keeps per run is bounded', () => {
  it('counts models past the first 100 distinct ones as model="other" in /metrics', async () => {
    await withService({}, async (svc) => {
      // Requests name any model; each distinct name used to add a histogram series for good.
      const models = Array.from({ length: 130 }, (_, i) => `model-${i}`);
      for (let i = 0; i < models.length; i += 10) {
        const answers = await Promise.all(models.slice(i, i + 10).map((model) => postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 1, agent: { model } })));
        for (const a of answers) expect(a.body.status).toBe('succeeded');
      }
      const labels = modelLabels((await getJson(`${svc.url}/metrics`)).body as string);
      expect(labels.size).toBe(101);
      expect(labels.has('other')).toBe(true);
      expect(labels.has('model-0')).toBe(true);
      expect(labels.has('model-129')).toBe(false);
    });
  });

  it('holds no run, event log, stream subscription or idempotency record once runs have ended and their TTL has passed', async () => {
    const clock = manualClock();
    await withService({ env: { RUN_TTL_MS: '1000', IDEMPOTENCY_TTL_MS: '1000' }, now: clock.now }, async (svc) => {
      const store = svc.store as MemoryStore;
      const url = `${svc.url}/v1/runs`;
      const plain = await postJson(url, { input: 'plain', replicates: 2 });
      const keyed = await postJson(url, { input: 'keyed', replicates: 2 }, { 'idempotency-key': 'bounded-1' });
      const replay = await postJson(url, { input: 'keyed', replicates: 2 }, { 'idempotency-key': 'bounded-1' });
      const streamed = await openSse(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: 'streamed', replicates: 2, stream: true }) });
      const background = await postJson(url, { input: 'background', replicates: 2, background: true });
      expect([plain.body.status, keyed.body.status, replay.headers.get('idempotent-replayed')]).toEqual(['succeeded', 'succeeded', 'true']);
      expect(streamed.frames.at(-1)?.event).toBe('run_completed');
      await waitFor(async () => (await getJson(`${url}/${background.body.id}`)).body.status === 'succeeded', { what: 'the background run succeeding' });

      expect(svc.orchestrator.activeCount).toBe(0);
      expect(store.size).toEqual({ runs: 4, idempotency: 1, subscriptions: 0 });
      clock.advance(999);
      store.sweep();
      expect(store.size).toEqual({ runs: 4, idempotency: 1, subscriptions: 0 });
      clock.advance(1);
      store.sweep();
      expect(store.size).toEqual({ runs: 0, idempotency: 0, subscriptions: 0 });
    });
  });
});
