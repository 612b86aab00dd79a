import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, postJson, startTestService, withService, type TestService } from '../helpers/service.ts';

const A = { authorization: 'Bearer limit-key-alpha-0001' };
const B = { authorization: 'Bearer limit-key-bravo-0002' };
const KEYS = 'limit-key-alpha-0001:alpha,limit-key-bravo-0002:bravo';

/** The 429 of the contract: envelope, code rate_limited, retryable, Retry-After in whole seconds. */
function expectRateLimited(res: { status: number; headers: Headers; body: any }) {
  expect(res.status).toBe(429);
  expect(res.body.error).toMatchObject({ code: 'rate_limited', retryable: true, request_id: res.headers.get('x-request-id') });
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

describe('rate limits per tenant (memory)', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { API_KEYS: KEYS, RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_MS: '60000', LOG_LEVEL: 'warn' } });
  });
  afterAll(async () => svc?.close());

  it('a flood answers 429 rate_limited with Retry-After; another tenant is not limited by it; health is exempt', async () => {
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await getJson(`${svc.url}/v1/tools`, A));
    expect(answers.slice(0, 5).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    for (const res of answers.slice(5)) expectRateLimited(res);
    // Every /v1 route shares the tenant's budget: a run is refused too, before it starts.
    const run = await postJson(`${svc.url}/v1/runs`, { input: 'over the limit', replicates: 1 }, A);
    expectRateLimited(run);
    expect(svc.sim.stats().received).toBe(0);

    expect((await getJson(`${svc.url}/v1/tools`, B)).status).toBe(200);
    expect((await postJson(`${svc.url}/v1/runs`, { input: 'bravo is fine', replicates: 1 }, B)).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await getJson(`${svc.url}/healthz`)).status).toBe(200);
    expect((await getJson(`${svc.url}/readyz`)).status).toBe(200);
  });

  it('refused requests count against the client address: past the limit a guessed key gets 429, not 401; tenants keep their own budgets', async () => {
    const wrong = (i: number) => ({ authorization: `Bearer guessed-key-${i}-0000000000` });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await getJson(`${svc.url}/v1/tools`, wrong(i)));
    // No key at all, and a bad stream token, are refusals of the same address.
    answers.push(await getJson(`${svc.url}/v1/tools`));
    answers.push(await getJson(`${svc.url}/v1/runs/run_unknown/events?stream_token=forged`));
    for (const res of answers.slice(0, 5)) {
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
    expectRateLimited(answers[5] as (typeof answers)[number]);
    // Past the budget, no refusal says whether a key was right: every guess is a 429, and a run is never started.
    const guessed = await getJson(`${svc.url}/v1/tools`, wrong(9));
    expectRateLimited(guessed);
    // A 429 is no challenge: it says nothing of the key.
    expect(guessed.headers.get('www-authenticate')).toBeNull();
    expectRateLimited(await postJson(`${svc.url}/v1/runs`, { input: 'guessing', replicates: 1 }, wrong(10)));
    expect(svc.sim.stats().received).toBe(1);
    expect((await getJson(`${svc.url}/v1/tools`, B)).status).toBe(200);
  });
});

describe('rate limits without keys', () => {
  it('are keyed by client address, and RATE_LIMIT_MAX=0 turns them off', async () => {
    await withService({ env: { RATE_LIMIT_MAX: '3', LOG_LEVEL: 'warn' } }, async (svc) => {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await getJson(`${svc.url}/v1/tools`)).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
    });
    await withService({ env: { RATE_LIMIT_MAX: '0', LOG_LEVEL: 'warn' } }, async (svc) => {
      for (let i = 0; i < 20; i++) expect((await getJson(`${svc.url}/v1/tools`)).status).toBe(200);
    });
  });
});

describe('rate limits shared through Redis (STORE=redis)', () => {
  const prefix = `test:ratelimit:${randomUUID()}:`;
  let one: TestService;
  let two: TestService;
  const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true });
  beforeAll(async () => {
    await redis.connect();
    const env = { API_KEYS: KEYS, STORE: 'redis', REDIS_PREFIX: prefix, RATE_LIMIT_MAX: '6', RATE_LIMIT_WINDOW_MS: '60000', LOG_LEVEL: 'warn' };
    // The run store stays in memory here: only the limiter's counters are under test.
    one = await startTestService({ env });
    two = await startTestService({ env });
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('two app instances share one tenant limit; the other tenant keeps its own', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await getJson(`${one.url}/v1/tools`, A)).status);
    for (let i = 0; i < 2; i++) statuses.push((await getJson(`${two.url}/v1/tools`, A)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    expectRateLimited(await getJson(`${two.url}/v1/tools`, A));
    expectRateLimited(await getJson(`${one.url}/v1/tools`, A));
    expect((await getJson(`${two.url}/v1/tools`, B)).status).toBe(200);
    // The counters live under the configured prefix, keyed by tenant (not by key).
    const keys = await redis.keys(`${prefix}ratelimit:*`);
    expect(keys.sort()).toEqual([`${prefix}ratelimit:t:alpha`, `${prefix}ratelimit:t:bravo`]);
  });
});
