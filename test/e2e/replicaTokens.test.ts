import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { storeLimits } from '../../src/store/index.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { getJson, postJson, startTestService, type TestService } from '../helpers/service.ts';
import { openSse } from '../helpers/sse.ts';
import { REDIS_URL, skipWithoutRedis } from '../helpers/redis.ts';

const URL = REDIS_URL;
const PREFIX = `test:replica-tokens:${randomBytes(6).toString('hex')}:`;
const skip = skipWithoutRedis;

describe.skipIf(skip)('stream tokens and the run list across replicas (STORE=redis)', () => {
  const KEY = 'replica-key-1';
  const env = { API_KEYS: KEY, STREAM_TOKEN_SECRET: randomBytes(32).toString('hex') };
  let a: TestService;
  let b: TestService;
  let stranger: TestService;
  beforeAll(async () => {
    const limits = storeLimits(loadConfig({}));
    const connect = () => RedisStore.connect({ url: URL, prefix: PREFIX, limits, idempotencyTtlMs: 60_000, logger: pino({ level: 'silent' }) });
    a = await startTestService({ store: await connect(), env });
    b = await startTestService({ store: await connect(), env });
    // Same store and keys, its own secret: a misconfigured replica.
    stranger = await startTestService({ store: await connect(), env: { API_KEYS: KEY } });
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close(), stranger?.close()]);
    const admin = new Redis(URL);
    const keys = await admin.keys(`${PREFIX}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  });

  it('a token made by one replica opens the stream on another that shares the secret, and only there', async () => {
    a.sim.configure({ latencyMs: 100 });
    const started = await postJson(`${a.url}/v1/runs`, { input: 'shared', replicates: 2, background: true }, { authorization: `Bearer ${KEY}` });
    expect(started.status).toBe(202);
    const url = (svc: TestService) => `${svc.url}/v1/runs/${started.body.id}/events?stream_token=${encodeURIComponent(started.body.stream_token)}`;
    const live = await openSse(url(b));
    expect(live.frames[0]?.event).toBe('run_started');
    expect(live.frames.at(-1)?.event).toBe('run_completed');
    expect((await fetch(url(stranger))).status).toBe(401);

    const listed = await getJson(`${b.url}/v1/runs`, { authorization: `Bearer ${KEY}` });
    expect(listed.body.data.map((r: { id: string }) => r.id)).toContain(started.body.id);
  });
});
