import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { deleteKeys, REDIS_URL } from '../helpers/redis.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';
import { postJson } from '../helpers/service.ts';
import { crash, PROCESS_TEST_TIMEOUT_MS, startReplica, type Replica } from '../helpers/replicaProcess.ts';

const PREFIX = `test:admission:${randomBytes(6).toString('hex')}:`;

let sim: Simulator;
let replica: Replica;

beforeAll(async () => {
  sim = await startSimulator({ behavior: { latencyMs: 1500 } });
  replica = await startReplica({
    STORE: 'redis',
    REDIS_URL,
    REDIS_PREFIX: PREFIX,
    OPENAI_BASE_URL: sim.url,
    OPENAI_API_KEY: 'sk-test-admission-0123456789',
    MAX_ACTIVE_RUNS: '5',
    MAX_QUEUED_RUNS: '0',
    MAX_STREAMS: '5',
  });
}, PROCESS_TEST_TIMEOUT_MS);

afterAll(async () => {
  await crash(replica.child);
  await sim.close();
  const redis = new Redis(REDIS_URL);
  await deleteKeys(redis, PREFIX);
  redis.disconnect();
});

describe('admission on Redis holds under a burst (MAX_ACTIVE_RUNS=5, MAX_QUEUED_RUNS=0, MAX_STREAMS=5)', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('admits at most 5 of 100 simultaneous runs, refuses the rest with 503 and Retry-After, and never has more than 5 in flight', async () => {
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => postJson(`${replica.url}/v1/runs`, { tool: 'bundle', input: `burst ${i}`, replicates: 1, background: true })),
    );
    const admitted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 503);
    expect(admitted.length).toBeGreaterThan(0);
    expect(admitted.length).toBeLessThanOrEqual(5);
    expect(admitted.length + refused.length).toBe(100);
    for (const r of refused) {
      expect(r.body.error).toMatchObject({ code: 'unavailable', retryable: true });
      expect(r.headers.get('retry-after')).not.toBeNull();
    }
    await sim.waitForIdle();
    expect(sim.stats().maxInFlight).toBeLessThanOrEqual(5);
  });

  it('opens at most 5 of 100 simultaneous streamed runs (MAX_STREAMS=5, runs unbounded)', async () => {
    sim.reset();
    sim.configure({ latencyMs: 1500 });
    const streaming = await startReplica({
      STORE: 'redis',
      REDIS_URL,
      REDIS_PREFIX: `${PREFIX}streams:`,
      OPENAI_BASE_URL: sim.url,
      OPENAI_API_KEY: 'sk-test-admission-0123456789',
      MAX_STREAMS: '5',
    });
    try {
      await burstStreams(streaming);
    } finally {
      await crash(streaming.child);
    }
  });
});

describe('cancelling on Redis', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('cancels a run still waiting in the queue (no worker holds it) and one executing, each ending cancelled with run_completed', async () => {
    sim.reset();
    sim.configure({ latencyMs: 30_000 });
    const one = await startReplica({
      STORE: 'redis',
      REDIS_URL,
      REDIS_PREFIX: `${PREFIX}cancel:`,
      OPENAI_BASE_URL: sim.url,
      OPENAI_API_KEY: 'sk-test-admission-0123456789',
      MAX_ACTIVE_RUNS: '1',
      MAX_QUEUED_RUNS: '5',
    });
    try {
      const executing = await postJson(`${one.url}/v1/runs`, { tool: 'bundle', input: 'executing', replicates: 1, background: true });
      await one.waitForLog((l) => l.msg === 'run started' && l.run_id === executing.body.id);
      const waiting = await postJson(`${one.url}/v1/runs`, { tool: 'bundle', input: 'waiting', replicates: 1, background: true });
      expect(waiting.status).toBe(202);
      const cancelledWaiting = await postJson(`${one.url}/v1/runs/${waiting.body.id}/cancel`, {});
      expect(cancelledWaiting.body).toMatchObject({ id: waiting.body.id, status: 'cancelled' });
      const events = await fetch(`${one.url}/v1/runs/${waiting.body.id}/events`).then((r) => r.text());
      expect(events).toMatch(/event: run_completed/);
      const cancelledExecuting = await postJson(`${one.url}/v1/runs/${executing.body.id}/cancel`, {});
      expect(cancelledExecuting.body).toMatchObject({ id: executing.body.id, status: 'cancelled' });
      // Only the executing run ever reached the provider.
      expect(sim.stats().received).toBe(1);
    } finally {
      await crash(one.child);
    }
  });
});

/** 100 streamed runs at once: no more than MAX_STREAMS may open; the rest get 503. */
async function burstStreams(replica: Replica): Promise<void> {
  const controllers: AbortController[] = [];
  const statuses = await Promise.all(
    Array.from({ length: 100 }, async (_, i) => {
      const controller = new AbortController();
      controllers.push(controller);
      const res = await fetch(`${replica.url}/v1/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ tool: 'bundle', input: `stream ${i}`, replicates: 1 }),
        signal: controller.signal,
      });
      if (res.status !== 200) await res.text();
      return res.status;
    }),
  );
  for (const c of controllers) c.abort();
  expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(5);
  expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
  expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(95);
}
