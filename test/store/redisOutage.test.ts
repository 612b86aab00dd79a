import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceError } from '../../src/errors.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { crash, freePort } from '../helpers/replicaProcess.ts';
import { makeRun, runCompleted, testLimits, toolStarted } from './fixtures.ts';

const logger = pino({ level: 'silent' });
let redis: ChildProcessWithoutNullStreams | null = null;
let store: RedisStore | null = null;

/** A private redis-server on a free port (or on `port`, empty): this file stops it; the one on 6379 is never touched. */
async function startRedis(port?: number): Promise<number> {
  port ??= await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  redis = child;
  return port;
}

afterEach(async () => {
  await store?.close();
  store = null;
  if (redis) {
    redis.kill('SIGCONT');
    await crash(redis);
  }
  redis = null;
});

describe('RedisStore through a Redis stall', () => {
  it('answers reads with 503 unavailable, holds the writes of a running run, and stores them once, in order, when Redis wakes', async () => {
    const port = await startRedis();
    store = await RedisStore.connect({ url: `redis://127.0.0.1:${port}`, prefix: 'test:held:', limits: testLimits(), idempotencyTtlMs: 60_000, logger });
    const run = makeRun({ status: 'running' });
    await store.saveRun(run);
    for (let seq = 1; seq <= 2; seq++) await store.appendEvent(toolStarted(run.id, seq));

    redis!.kill('SIGSTOP');
    // Issued while Redis sleeps: each times out, is held, and is sent again later — and the timed-out
    // originals still run when Redis wakes. Each event must land exactly once anyway.
    const writes = [3, 4, 5].map((seq) => store!.appendEvent(toolStarted(run.id, seq)));
    const final = store.saveRun({ ...run, status: 'succeeded', completed_at: '2025-01-01T00:00:02.000Z' });
    const read = await store.getRun(run.id).then(
      () => null,
      (error: unknown) => error,
    );
    expect(read).toBeInstanceOf(ServiceError);
    expect((read as ServiceError).code).toBe('unavailable');
    expect((read as ServiceError).retryAfterMs).toBeGreaterThan(0);
    // Accepting a new run is never held: it is refused.
    await expect(store.saveRun(makeRun({ status: 'queued' }))).rejects.toMatchObject({ code: 'unavailable' });
    await expect.poll(() => store!.heldWrites, { timeout: 5000 }).toBeGreaterThan(0);

    redis!.kill('SIGCONT');
    await Promise.all([...writes, final]);
    expect((await store.readEvents(run.id, 0)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(await store.runStatus(run.id)).toEqual({ status: 'succeeded', seq: 5 });
    expect(store.heldWrites).toBe(0);
    // A retried append of an event already stored is dropped, not stored twice.
    await store.appendEvent(toolStarted(run.id, 4));
    expect((await store.readEvents(run.id, 3)).map((e) => e.seq)).toEqual([4, 5]);
  });

  it('says a run whose writes it holds has not ended, even once Redis is back without it, until the writes land', async () => {
    const port = await startRedis();
    store = await RedisStore.connect({ url: `redis://127.0.0.1:${port}`, prefix: 'test:held:', limits: testLimits(), idempotencyTtlMs: 60_000, logger });
    const run = makeRun({ status: 'running' });
    await store.saveRun(run);
    await store.appendEvent(toolStarted(run.id, 1));

    // Redis dies with the run in it; the run ends meanwhile, and its end is held.
    await crash(redis!);
    redis = null;
    const ended = { ...run, status: 'succeeded' as const, completed_at: '2025-01-01T00:00:02.000Z' };
    const writes = [store.saveRun(ended), store.appendEvent(runCompleted(ended, 2))];
    await expect.poll(() => store!.heldWrites, { timeout: 5000 }).toBe(2);
    // A follower watching this head keeps its stream open: not gone (null), not ended.
    expect(await store.runStatus(run.id)).toEqual({ status: 'running', seq: 0 });

    // Back, empty: the head is still "not ended" until the held end has landed, then it is the end.
    await startRedis(port);
    expect(await store.runStatus(run.id)).toEqual({ status: 'running', seq: 0 });
    await Promise.all(writes);
    expect(store.heldWrites).toBe(0);
    expect(await store.runStatus(run.id)).toEqual({ status: 'succeeded', seq: 2 });
    expect(await store.getRun(run.id)).toMatchObject({ status: 'succeeded' });
  });
});
