import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeLimits } from '../../src/store/index.ts';
import { loadConfig } from '../../src/config.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { getJson, postJson, startTestService, type TestService } from '../helpers/service.ts';
import { openSse } from '../helpers/sse.ts';
import { waitFor } from '../helpers/waitFor.ts';
import { REDIS_URL, skipWithoutRedis } from '../helpers/redis.ts';

const URL = REDIS_URL;
const PREFIX = `test:replicas:${randomBytes(6).toString('hex')}:`;
const skip = skipWithoutRedis;

describe.skipIf(skip)('two replicas sharing one Redis store (STORE=redis)', () => {
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    const limits = storeLimits(loadConfig({}));
    const connect = () => RedisStore.connect({ url: URL, prefix: PREFIX, limits, idempotencyTtlMs: 60_000, logger: pino({ level: 'silent' }) });
    a = await startTestService({ store: await connect() });
    b = await startTestService({ store: await connect() });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    const admin = new Redis(URL);
    const keys = await admin.keys(`${PREFIX}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  });

  it('a run started on one replica is readable and followable live on the other', async () => {
    a.sim.configure({ latencyMs: 300 });
    const started = await postJson(`${a.url}/v1/runs`, { input: 'shared', replicates: 3, background: true });
    const live = await openSse(`${b.url}/v1/runs/${started.body.id}/events`);
    expect(live.frames[0]!.event).toBe('run_started');
    expect(live.frames.at(-1)!.event).toBe('run_completed');
    expect(live.frames.map((f) => Number(f.id))).toEqual(live.frames.map((_, i) => i + 1));
    const record = await getJson(`${b.url}/v1/runs/${started.body.id}`);
    expect(record.body.status).toBe('succeeded');
    expect(record.body.bundle.replicates).toHaveLength(3);
  });

  it('a cancel sent to the other replica stops the run where it runs', async () => {
    a.sim.reset();
    a.sim.configure({ faults: [{ type: 'hang' }, { type: 'hang' }] });
    const started = await postJson(`${a.url}/v1/runs`, { input: 'cancel me elsewhere', replicates: 2, background: true });
    await waitFor(() => a.sim.stats().inFlight === 2, { what: 'both replicates calling the provider on replica a' });
    const cancelled = await postJson(`${b.url}/v1/runs/${started.body.id}/cancel`, {});
    expect(cancelled.body.status).toBe('cancelled');
    await a.sim.waitForIdle();
    expect(a.sim.stats().aborted).toBe(2);
  });

  it('an Idempotency-Key used on one replica is honoured on the other', async () => {
    const body = { input: 'once across replicas', replicates: 1 };
    const first = await postJson(`${a.url}/v1/runs`, body, { 'idempotency-key': `k-${PREFIX}` });
    const second = await postJson(`${b.url}/v1/runs`, body, { 'idempotency-key': `k-${PREFIX}` });
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.body.id).toBe(first.body.id);
    expect(b.sim.stats().received).toBe(0);
  });

  it('readiness reports the redis store', async () => {
    const ready = await getJson(`${b.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body.checks.store).toEqual({ kind: 'redis', status: 'ok' });
  });
});
