import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/schemas/events.ts';
import type { Store, StoreLimits } from '../../src/store/types.ts';
import { runMemoryContract } from './runMemoryContract.ts';
import { idemRecord, makeRun, partialSummary, replicateDone, runCompleted, sleep, testLimits, toolStarted, until } from './fixtures.ts';

/** Builds a fresh, empty store with the given limits. */
export type MakeStore = (limits: StoreLimits) => Promise<Store>;

/**
 * Behaviour every Store must show, so the memory and Redis stores stay
 * interchangeable. Each test gets its own store (closed afterwards);
 * `cleanup` runs once at the end, e.g. to delete Redis keys.
 *
 * Live delivery is asserted after `subscribe` then `readEvents`, the order
 * the event feed uses: a cross-process store only promises no gap from there.
 */
export function describeStoreContract(name: string, make: MakeStore, cleanup?: () => Promise<void>): void {
  describe(`${name} (store contract)`, () => {
    const open: Store[] = [];
    const fresh = async (overrides: Partial<StoreLimits> = {}): Promise<Store> => {
      const store = await make(testLimits(overrides));
      open.push(store);
      return store;
    };

    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });
    if (cleanup) afterAll(cleanup);

    it('saves, replaces and reads a run; unknown runs are null', async () => {
      const store = await fresh();
      const run = makeRun();
      await store.saveRun(run);
      expect(await store.getRun(run.id)).toEqual(run);
      const done = { ...run, status: 'succeeded' as const, completed_at: '2025-01-01T00:00:02.000Z' };
      await store.saveRun(done);
      expect(await store.getRun(run.id)).toEqual(done);
      expect(await store.getRun('run_does_not_exist')).toBeNull();
    });

    it('expires terminal runs (and their events) after runTtlMs, but not running ones', async () => {
      const store = await fresh({ runTtlMs: 200 });
      const running = makeRun();
      const finished = makeRun();
      await store.saveRun(running);
      await store.saveRun(finished);
      await store.appendEvent(toolStarted(finished.id, 1));
      await store.saveRun({ ...finished, status: 'succeeded' });
      expect((await store.getRun(finished.id))?.status).toBe('succeeded');
      await sleep(300);
      expect(await store.getRun(finished.id)).toBeNull();
      expect(await store.readEvents(finished.id, 0)).toEqual([]);
      expect(await store.getRun(running.id)).toEqual(running);
    });

    it('reads events back in order, and exactly those after k', async () => {
      const store = await fresh();
      const run = makeRun();
      await store.saveRun(run);
      const events: RunEvent[] = [toolStarted(run.id, 1), partialSummary(run.id, 2), toolStarted(run.id, 3), partialSummary(run.id, 4), runCompleted(run, 5)];
      for (const e of events) await store.appendEvent(e);
      expect(await store.readEvents(run.id, 0)).toEqual(events);
      for (let k = 0; k <= 6; k++) expect(await store.readEvents(run.id, k)).toEqual(events.slice(k));
    });

    it('finds events by seq even in a log that does not start at seq 1', async () => {
      const store = await fresh();
      const run = makeRun();
      await store.saveRun(run);
      for (const seq of [5, 6, 7, 9]) await store.appendEvent(toolStarted(run.id, seq));
      for (const [after, expected] of [[0, [5, 6, 7, 9]], [2, [5, 6, 7, 9]], [5, [6, 7, 9]], [7, [9]], [8, [9]], [9, []]] as const) {
        expect((await store.readEvents(run.id, after)).map((e) => e.seq)).toEqual(expected);
      }
    });

    it('keeps no log for a run it does not know', async () => {
      const store = await fresh();
      await store.appendEvent(toolStarted('run_never_saved', 1));
      expect(await store.readEvents('run_never_saved', 0)).toEqual([]);
    });

    it('delivers live events in order, and none after unsubscribe', async () => {
      const store = await fresh();
      const run = makeRun();
      await store.saveRun(run);
      const first: number[] = [];
      const second: number[] = [];
      const stopFirst = store.subscribe(run.id, (e) => first.push(e.seq));
      const stopSecond = store.subscribe(run.id, (e) => second.push(e.seq));
      await store.readEvents(run.id, 0);
      for (let seq = 1; seq <= 3; seq++) await store.appendEvent(toolStarted(run.id, seq));
      await until(() => first.length === 3 && second.length === 3);
      expect(first).toEqual([1, 2, 3]);
      expect(second).toEqual([1, 2, 3]);

      stopFirst();
      stopFirst(); // twice is harmless
      await store.appendEvent(toolStarted(run.id, 4));
      await until(() => second.length === 4);
      stopSecond();

      // A later listener proves delivery happened: had the old ones stayed, they would have had it first.
      const late: number[] = [];
      const stopLate = store.subscribe(run.id, (e) => late.push(e.seq));
      await store.readEvents(run.id, 0);
      await store.appendEvent(toolStarted(run.id, 5));
      await until(() => late.length === 1);
      stopLate();
      expect(late).toEqual([5]);
      expect(first).toEqual([1, 2, 3]);
      expect(second).toEqual([1, 2, 3, 4]);
    });

    it('keeps seq order for 1,000 appends issued without awaiting', async () => {
      const store = await fresh();
      const run = makeRun();
      await store.saveRun(run);
      const live: number[] = [];
      const stop = store.subscribe(run.id, (e) => live.push(e.seq));
      await store.readEvents(run.id, 0);
      const writes: Array<Promise<void> | void> = [];
      for (let seq = 1; seq <= 1000; seq++) writes.push(store.appendEvent(seq % 3 === 0 ? partialSummary(run.id, seq) : toolStarted(run.id, seq)));
      await Promise.all(writes);
      const expected = Array.from({ length: 1000 }, (_, i) => i + 1);
      expect((await store.readEvents(run.id, 0)).map((e) => e.seq)).toEqual(expected);
      expect((await store.readEvents(run.id, 990)).map((e) => e.seq)).toEqual(expected.slice(990));
      await until(() => live.length === 1000);
      stop();
      expect(live).toEqual(expected);
    });

    it('stops storing partial summaries once a log is full, but still publishes them', async () => {
      const store = await fresh({ maxEventsPerRun: 10 });
      const run = makeRun();
      await store.saveRun(run);
      const live: RunEvent[] = [];
      const stop = store.subscribe(run.id, (e) => live.push(e));
      await store.readEvents(run.id, 0);
      for (let seq = 1; seq <= 10; seq++) await store.appendEvent(partialSummary(run.id, seq));
      await store.appendEvent(partialSummary(run.id, 11)); // dropped from the log
      await store.appendEvent(toolStarted(run.id, 12)); // milestones are kept
      await store.appendEvent(partialSummary(run.id, 13)); // dropped
      await store.appendEvent(runCompleted(run, 14));
      const seqs = (await store.readEvents(run.id, 0)).map((e) => e.seq);
      expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14]);
      expect((await store.readEvents(run.id, 9)).map((e) => e.seq)).toEqual([10, 12, 14]);
      expect((await store.readEvents(run.id, 10)).map((e) => e.seq)).toEqual([12, 14]);
      expect((await store.readEvents(run.id, 11)).map((e) => e.seq)).toEqual([12, 14]);
      expect((await store.readEvents(run.id, 12)).map((e) => e.seq)).toEqual([14]);
      expect(await store.readEvents(run.id, 14)).toEqual([]);
      await until(() => live.length === 14);
      stop();
      expect(live.map((e) => e.seq)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    });

    it('bounds a log by bytes: past maxEventLogBytes summaries are dropped and big payloads elided, run_completed kept whole', async () => {
      const store = await fresh({ maxEventLogBytes: 20_000 });
      const run = makeRun();
      await store.saveRun(run);
      const live: RunEvent[] = [];
      const stop = store.subscribe(run.id, (e) => live.push(e));
      await store.readEvents(run.id, 0);
      const big = 'x'.repeat(6000);
      let seq = 0;
      for (let i = 0; i < 8; i++) {
        await store.appendEvent(replicateDone(run.id, ++seq, i, big));
        await store.appendEvent(partialSummary(run.id, ++seq));
      }
      for (let i = 0; i < 100; i++) await store.appendEvent(partialSummary(run.id, ++seq));
      const final = { ...run, status: 'succeeded' as const, output: big.repeat(5) };
      await store.appendEvent(runCompleted(final, ++seq));
      const stored = await store.readEvents(run.id, 0);
      const bytes = stored.reduce((n, e) => n + JSON.stringify(e).length, 0);
      const completed = stored.at(-1);
      // Everything but the closing event stays within the bound (plus the one event that crossed it).
      expect(bytes - JSON.stringify(completed).length).toBeLessThan(20_000 + 7000);
      expect(completed).toEqual(runCompleted(final, seq));
      const replicates = stored.filter((e) => e.type === 'replicate_done');
      expect(replicates).toHaveLength(8); // milestones are all there
      const elided = replicates.filter((e) => e.elided !== undefined);
      expect(elided.length).toBeGreaterThan(0);
      for (const e of elided) expect(e).toMatchObject({ elided: ['replicate.output'], replicate: { output: null } });
      expect(stored.filter((e) => e.type === 'partial_summary').length).toBeLessThan(60); // most of the 108 were not stored
      await until(() => live.length === seq);
      stop();
      // Live subscribers get every event whole.
      expect(live.filter((e) => e.type === 'replicate_done').every((e) => e.type === 'replicate_done' && e.replicate.output === big)).toBe(true);
    });

    it('evicts the oldest terminal run beyond maxRuns, never a running one', async () => {
      const store = await fresh({ maxRuns: 3 });
      const running = makeRun();
      await store.saveRun(running);
      const done = [makeRun({ status: 'succeeded' }), makeRun({ status: 'failed' }), makeRun({ status: 'cancelled' })];
      for (const run of done) {
        await store.saveRun(run);
        await sleep(2); // distinct save times, so "oldest" is unambiguous
      }
      expect(await store.getRun(running.id)).toEqual(running);
      expect(await store.getRun(done[0]?.id ?? '')).toBeNull();
      expect(await store.getRun(done[1]?.id ?? '')).not.toBeNull();
      expect(await store.getRun(done[2]?.id ?? '')).not.toBeNull();
    });

    it('lists one tenant\'s runs newest first, filtered by status and tool, page by page with a cursor', async () => {
      const store = await fresh();
      const tag = `run_t${Math.random().toString(36).slice(2, 10)}_`;
      const at = (i: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString();
      const mine = [0, 1, 2, 3, 4].map((i) =>
        makeRun({ id: `${tag}${i}`, created_at: at(i), status: i % 2 === 0 ? 'succeeded' : 'failed', tool: i === 4 ? 'other' : 'consensus' }),
      );
      // Same creation time for two runs: the id breaks the tie, so no run is skipped or repeated across pages.
      const twin = makeRun({ id: `${tag}9`, created_at: at(3), status: 'running' });
      const foreign = makeRun({ id: `run_someoneelse_${Math.random().toString(36).slice(2, 8)}`, created_at: at(5) });
      for (const run of [...mine, twin, foreign]) await store.saveRun(run);

      const all = await store.listRuns({ idPrefix: tag, limit: 100 });
      expect(all.runs.map((r) => r.id)).toEqual([`${tag}4`, `${tag}9`, `${tag}3`, `${tag}2`, `${tag}1`, `${tag}0`]);
      expect(all.next).toBeNull();

      const seen: string[] = [];
      let cursor;
      for (let pages = 0; pages < 10; pages++) {
        const page = await store.listRuns({ idPrefix: tag, limit: 2, cursor });
        seen.push(...page.runs.map((r) => r.id));
        if (!page.next) break;
        cursor = page.next;
      }
      expect(seen).toEqual(all.runs.map((r) => r.id));

      expect((await store.listRuns({ idPrefix: tag, status: 'failed', limit: 10 })).runs.map((r) => r.id)).toEqual([`${tag}3`, `${tag}1`]);
      expect((await store.listRuns({ idPrefix: tag, tool: 'other', limit: 10 })).runs.map((r) => r.id)).toEqual([`${tag}4`]);
      expect((await store.listRuns({ idPrefix: 'run_nobody_', limit: 10 })).runs).toEqual([]);
    });

    it('carries a cancellation request to onCancel listeners until they unsubscribe', async () => {
      const store = await fresh();
      const first: string[] = [];
      const second: string[] = [];
      const stopFirst = store.onCancel((id) => first.push(id));
      const stopSecond = store.onCancel((id) => second.push(id));
      await store.publishCancel('run_a');
      await until(() => first.length === 1 && second.length === 1);
      stopFirst();
      await store.publishCancel('run_b');
      await until(() => second.length === 2);
      stopSecond();
      expect(first).toEqual(['run_a']);
      expect(second).toEqual(['run_a', 'run_b']);
    });

    it('claims, completes, releases and expires idempotency keys', async () => {
      const store = await fresh();
      const key = `key-${Math.random().toString(36).slice(2)}`;
      const mine = idemRecord('run_one', 'fp-a');
      expect(await store.claimIdempotency(key, mine, 60_000)).toEqual({ claimed: true });
      expect(await store.claimIdempotency(key, idemRecord('run_two', 'fp-b'), 60_000)).toEqual({ claimed: false, record: mine });

      const result = makeRun({ id: 'run_one', status: 'succeeded' });
      await store.completeIdempotency(key, result);
      expect(await store.claimIdempotency(key, idemRecord('run_two'), 60_000)).toEqual({ claimed: false, record: { ...mine, result } });
      await store.completeIdempotency('key-never-claimed', result); // a no-op, not an error

      await store.releaseIdempotency(key);
      expect(await store.claimIdempotency(key, idemRecord('run_three'), 60_000)).toEqual({ claimed: true });

      const shortKey = `${key}-short`;
      expect(await store.claimIdempotency(shortKey, idemRecord('run_four'), 200)).toEqual({ claimed: true });
      await store.completeIdempotency(shortKey, result); // completing keeps the TTL
      await sleep(300);
      expect(await store.claimIdempotency(shortKey, idemRecord('run_five'), 60_000)).toEqual({ claimed: true });
    });

    runMemoryContract(() => fresh());

    it('answers ping', async () => {
      const store = await fresh();
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
