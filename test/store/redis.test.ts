import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { deleteKeys, REDIS_URL as URL } from '../helpers/redis.ts';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisStore, redisKeys, ORPHAN_RUN_TTL_MS } from '../../src/store/redis.ts';
import type { StoreLimits } from '../../src/store/types.ts';
import { describeStoreContract } from './contract.ts';
import { makeRun, sleep, testLimits, toolStarted, until } from './fixtures.ts';

const logger = pino({ level: 'silent' });
/** Every key this file writes starts with this, so cleanup cannot touch anything else. */
const BASE = `test:store:${randomBytes(6).toString('hex')}:`;

async function reachable(): Promise<boolean> {
  const probe = new Redis(URL, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

// Under CI Redis is part of the environment: never skip, let connect() fail loudly.
const skip = process.env.CI !== 'true' && !(await reachable());

let prefixes = 0;
/** A prefix of its own per store, so limits like maxRuns see only that test's runs. */
function newPrefix(): string {
  prefixes += 1;
  return `${BASE}${prefixes}:`;
}

function connect(limits: StoreLimits, prefix = newPrefix()): Promise<RedisStore> {
  return RedisStore.connect({ url: URL, prefix, limits, idempotencyTtlMs: 60_000, logger });
}

async function deleteTestKeys(): Promise<void> {
  const admin = new Redis(URL, { maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  try {
    await deleteKeys(admin, BASE);
  } finally {
    admin.disconnect();
  }
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(10);
  }
}

describe.skipIf(skip)('RedisStore', () => {
  describeStoreContract('RedisStore', (limits) => connect(limits), deleteTestKeys);

  describe('redis specifics', () => {
    const admin = new Redis(URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    admin.on('error', () => {});
    afterAll(async () => {
      await deleteTestKeys();
      admin.disconnect();
    });

    it('lets two replicas sharing a prefix see each other’s events and cancellations', async () => {
      const prefix = newPrefix();
      const owner = await connect(testLimits(), prefix);
      const other = await connect(testLimits(), prefix);
      try {
        const run = makeRun();
        await owner.saveRun(run);
        expect(await other.getRun(run.id)).toEqual(run);

        const live: number[] = [];
        const stop = other.subscribe(run.id, (e) => live.push(e.seq));
        expect(await other.readEvents(run.id, 0)).toEqual([]);
        const writes = Array.from({ length: 200 }, (_, i) => owner.appendEvent(toolStarted(run.id, i + 1)));
        await Promise.all(writes);
        await until(() => live.length === 200);
        stop();
        expect(live).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
        expect((await other.readEvents(run.id, 150)).map((e) => e.seq)).toEqual(live.slice(150));

        const cancelled: string[] = [];
        const stopCancel = other.onCancel((id) => cancelled.push(id));
        await owner.publishCancel(run.id);
        await until(() => cancelled.length === 1);
        stopCancel();
        expect(cancelled).toEqual([run.id]);
      } finally {
        await Promise.all([owner.close(), other.close()]);
      }
    });

    it('subscribes a run channel once and unsubscribes it with the last listener', async () => {
      const prefix = newPrefix();
      const store = await connect(testLimits(), prefix);
      const channel = redisKeys(prefix).eventChannel('run_refcount');
      const subscribers = async (): Promise<number> => {
        const reply = (await admin.pubsub('NUMSUB', channel)) as [string, number];
        return Number(reply[1]);
      };
      try {
        const stopA = store.subscribe('run_refcount', () => {});
        const stopB = store.subscribe('run_refcount', () => {});
        await store.readEvents('run_refcount', 0);
        expect(await subscribers()).toBe(1);
        stopA();
        await sleep(50);
        expect(await subscribers()).toBe(1);
        stopB();
        await eventually(async () => (await subscribers()) === 0);
      } finally {
        await store.close();
      }
    });

    it('gives unfinished runs a safety TTL, finished ones runTtlMs, and their events the same', async () => {
      const prefix = newPrefix();
      const keys = redisKeys(prefix);
      const store = await connect(testLimits({ runTtlMs: 60_000 }), prefix);
      try {
        const run = makeRun();
        await store.saveRun(run);
        await store.appendEvent(toolStarted(run.id, 1));
        const runTtl = await admin.pttl(keys.run(run.id));
        expect(runTtl).toBeGreaterThan(ORPHAN_RUN_TTL_MS - 5000);
        expect(Math.abs((await admin.pttl(keys.events(run.id))) - runTtl)).toBeLessThan(1000);

        await store.saveRun({ ...run, status: 'succeeded' });
        const doneTtl = await admin.pttl(keys.run(run.id));
        expect(doneTtl).toBeGreaterThan(55_000);
        expect(doneTtl).toBeLessThanOrEqual(60_000);
        expect(Math.abs((await admin.pttl(keys.events(run.id))) - doneTtl)).toBeLessThan(1000);
      } finally {
        await store.close();
      }
    });

    it('forgets expired runs in its index so it tracks only live ones', async () => {
      const prefix = newPrefix();
      const keys = redisKeys(prefix);
      const store = await connect(testLimits({ runTtlMs: 100 }), prefix);
      try {
        for (let i = 0; i < 5; i++) await store.saveRun(makeRun({ status: 'succeeded' }));
        expect(await admin.zcard(keys.runIndex)).toBe(5);
        await sleep(150);
        await store.saveRun(makeRun({ status: 'succeeded' }));
        expect(await admin.zcard(keys.runIndex)).toBe(1);
        expect(await admin.zcard(keys.doneIndex)).toBe(1);
      } finally {
        await store.close();
      }
    });

    it('keeps an idempotency record’s TTL when completing it', async () => {
      const prefix = newPrefix();
      const store = await connect(testLimits(), prefix);
      try {
        await store.claimIdempotency('k', { fingerprint: 'f', run_id: 'r', result: null, created_at: 0 }, 30_000);
        await store.completeIdempotency('k', makeRun({ id: 'r', status: 'succeeded' }));
        const ttl = await admin.pttl(redisKeys(prefix).idempotency('k'));
        expect(ttl).toBeGreaterThan(25_000);
        expect(ttl).toBeLessThanOrEqual(30_000);
      } finally {
        await store.close();
      }
    });

    it('fails fast with a clear error when Redis is unreachable', async () => {
      const started = Date.now();
      await expect(
        RedisStore.connect({ url: 'redis://:secret@127.0.0.1:1', prefix: newPrefix(), limits: testLimits(), idempotencyTtlMs: 1000, logger }),
      ).rejects.toThrow(/Redis unreachable at redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
      expect(Date.now() - started).toBeLessThan(6000);
    });

    it('rejects ping once closed', async () => {
      const store = await connect(testLimits());
      await store.close();
      await expect(store.ping()).rejects.toThrow();
    });
  });
});
