import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { deleteKeys, REDIS_URL } from '../helpers/redis.ts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';
import { getJson, postJson } from '../helpers/service.ts';
import { crash, openStream, PROCESS_TEST_TIMEOUT_MS, startReplica, type Replica } from '../helpers/replicaProcess.ts';

/** Small, so a take-over happens within seconds. */
const LEASE_MS = 2000;
/** Lease, plus the pickup and the rest of the run, on a shared machine. */
const TAKEOVER_BOUND_MS = LEASE_MS + 12_000;

const prefixes: string[] = [];
let replicas: Replica[] = [];
let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({ behavior: {} });
});

afterEach(async () => {
  await Promise.all(replicas.map((r) => crash(r.child)));
  replicas = [];
  sim.reset();
});

afterAll(async () => {
  await sim.close();
  // Only this file's keys: scan its prefixes, never flush.
  const redis = new Redis(REDIS_URL);
  for (const prefix of prefixes) await deleteKeys(redis, prefix);
  redis.disconnect();
});

/** Two service processes on one Redis (their own prefix), calling the test's simulator. */
async function twoReplicas(env: Record<string, string> = {}): Promise<[Replica, Replica]> {
  const prefix = `test:durable:${randomBytes(6).toString('hex')}:`;
  prefixes.push(prefix);
  const common = {
    STORE: 'redis',
    REDIS_URL,
    REDIS_PREFIX: prefix,
    RUN_LEASE_MS: String(LEASE_MS),
    OPENAI_BASE_URL: sim.url,
    OPENAI_API_KEY: 'sk-test-durable-0123456789',
    RETRY_BASE_MS: '1',
    ...env,
  };
  const started = await Promise.all([startReplica(common), startReplica(common)]);
  replicas.push(...started);
  return started as [Replica, Replica];
}

/** Which replica logged that it started (executes) the run, and the other one. */
async function executorOf(pair: [Replica, Replica], runId: string): Promise<{ executor: Replica; survivor: Replica }> {
  const started = (l: Record<string, unknown>) => l.msg === 'run started' && l.run_id === runId;
  const executor = await Promise.race(pair.map((r) => r.waitForLog(started).then(() => r)));
  return { executor, survivor: executor === pair[0] ? pair[1] : pair[0] };
}

describe('a replica killed mid-run (STORE=redis, two processes)', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('another replica continues the run: finished replicates kept, the rest re-run with the same seeds, the follower gets run_resumed then run_completed', async () => {
    // Two replicates at a time: the first two answer quickly, the next two hang long enough to kill their replica.
    sim.configure({ latencyMs: { sequence: [100, 100, 30_000, 30_000, 100, 100, 100, 100] } });
    const pair = await twoReplicas({ MAX_CONCURRENCY: '2' });
    const key = `takeover-${randomBytes(4).toString('hex')}`;
    const request = { tool: 'bundle', input: 'survive me', replicates: 4, seed: 7, background: true };
    const accepted = await postJson(`${pair[0].url}/v1/runs`, request, { 'idempotency-key': key });
    expect(accepted.status).toBe(202);
    const id = accepted.body.id as string;

    const { executor, survivor } = await executorOf(pair, id);
    const stream = await openStream(`${survivor.url}/v1/runs/${id}/events`);
    const firstTwo = (f: { event: string | null }) => stream.frames.filter((x) => x.event === 'replicate_done').length >= 2 && f.event === 'replicate_done';
    await stream.waitFor(firstTwo);
    // The hanging pair is in flight on the executor: kill it there.
    await waitUntil(() => sim.stats().inFlight >= 2);
    const killedAt = Date.now();
    await crash(executor.child);

    const completed = await stream.waitFor((f) => f.event === 'run_completed', TAKEOVER_BOUND_MS);
    expect(Date.now() - killedAt).toBeLessThan(TAKEOVER_BOUND_MS);
    const events = stream.frames.map((f) => f.data);
    // One log, seq rising by one across the take-over; run_resumed right after what the dead replica had logged.
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const resumed = events.find((e) => e.type === 'run_resumed');
    expect(resumed).toMatchObject({ kept: 2, attempt: 2 });
    expect(resumed.seq).toBe(resumed.after + 1);
    const done = events.filter((e) => e.type === 'replicate_done').map((e) => e.replicate.index);
    expect(done.sort()).toEqual([0, 1, 2, 3]);

    const result = completed.data.result;
    expect(result.status).toBe('succeeded');
    expect(result.bundle.replicates.map((r: any) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    // The re-run replicates asked the provider with the seeds of the lost attempts: four seeds in all.
    const seeds = sim.requests.map((r) => r.seed);
    expect(seeds.length).toBe(6);
    expect(new Set(seeds).size).toBe(4);
    // Spend of the kept replicates counts: usage covers all four.
    expect(result.usage.total_tokens).toBe(result.bundle.replicates.reduce((sum: number, r: any) => sum + r.usage.total_tokens, 0));

    const fetched = await getJson(`${survivor.url}/v1/runs/${id}`);
    expect(fetched.body.status).toBe('succeeded');
    const replay = await postJson(`${survivor.url}/v1/runs`, request, { 'idempotency-key': key });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toMatchObject({ id, status: 'succeeded' });
    await stream.closed;
  });

  it('a run whose synthesizer was half way ends failed with worker_lost, and every follower gets run_completed', async () => {
    // Two quick replicates, then a synthesizer call that hangs until its replica is killed.
    sim.configure({ latencyMs: { sequence: [100, 100, 30_000] } });
    const pair = await twoReplicas();
    const key = `lost-${randomBytes(4).toString('hex')}`;
    const request = { tool: 'bundle', input: 'synthesize me', replicates: 2, synthesize: true, background: true };
    const accepted = await postJson(`${pair[1].url}/v1/runs`, request, { 'idempotency-key': key });
    const id = accepted.body.id as string;
    const { executor, survivor } = await executorOf(pair, id);
    const stream = await openStream(`${survivor.url}/v1/runs/${id}/events`);
    await stream.waitFor((f) => f.event === 'bundle_ready');
    await waitUntil(() => sim.stats().inFlight >= 1);
    await crash(executor.child);

    const completed = await stream.waitFor((f) => f.event === 'run_completed', TAKEOVER_BOUND_MS);
    expect(completed.data.result.status).toBe('failed');
    expect(completed.data.result.error.code).toBe('worker_lost');
    expect(completed.data.result.error.retryable).toBe(true);
    expect(stream.frames.some((f) => f.event === 'run_resumed')).toBe(false);
    const fetched = await getJson(`${survivor.url}/v1/runs/${id}`);
    expect(fetched.body.error.code).toBe('worker_lost');
    const replay = await postJson(`${survivor.url}/v1/runs`, request, { 'idempotency-key': key });
    expect(replay.body).toMatchObject({ id, status: 'failed' });
  });

  it('a synchronous run whose executor dies answers its caller on the accepting replica when the run ends elsewhere', async () => {
    const pair = await twoReplicas();
    // The queue decides who executes: send to each replica in turn until the executor is not the accepting one.
    // Which worker takes a job is up to Redis; 24 tries make "always the accepting one" vanishingly unlikely.
    for (let attempt = 0; attempt < 24; attempt++) {
      sim.reset();
      // The first model call hangs until its caller goes away (the executor killed, or the run cancelled); the re-run answers.
      sim.configure({ faults: [{ type: 'hang' }] });
      const accepting = pair[attempt % 2] as Replica;
      const requestId = `sync-${randomBytes(4).toString('hex')}`;
      const pending = postJson(`${accepting.url}/v1/runs`, { tool: 'bundle', input: `sync ${attempt}`, replicates: 1 }, { 'x-request-id': requestId });
      const started = (l: Record<string, unknown>) => l.msg === 'run started' && l.request_id === requestId;
      const { executor, line } = await Promise.race(pair.map((r) => r.waitForLog(started).then((l) => ({ executor: r, line: l }))));
      if (executor === accepting) {
        // Not the case under test: end this run (its model call may already be hanging) and try again.
        const cancelled = await postJson(`${accepting.url}/v1/runs/${String(line.run_id)}/cancel`, {});
        expect(cancelled.body.status).toBe('cancelled');
        await pending;
        await sim.waitForIdle();
        continue;
      }
      await waitUntil(() => sim.stats().inFlight >= 1);
      await crash(executor.child);
      const answer = await pending;
      expect(answer.status).toBe(200);
      expect(answer.body.status).toBe('succeeded');
      expect(answer.body.bundle.replicates[0].seed).toBe(sim.requests[0]!.seed);
      return;
    }
    throw new Error('the accepting replica executed every run');
  });
});

/** Polls a cheap in-process condition (no I/O) until it holds. */
async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
