import { afterEach, describe, expect, it } from 'vitest';
import { RunFollower } from '../../src/core/eventFeed.ts';
import type { RunEvent } from '../../src/schemas/events.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { makeRun, runCompleted, testLimits, toolStarted } from '../store/fixtures.ts';

describe('RunFollower', () => {
  const stores: MemoryStore[] = [];
  const fresh = () => {
    const store = new MemoryStore(testLimits());
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  it('delivers the history after `after`, then live events, each once and in order, and ends at run_completed', async () => {
    const store = fresh();
    const run = makeRun();
    await store.saveRun(run);
    for (let seq = 1; seq <= 3; seq++) store.appendEvent(toolStarted(run.id, seq));
    const seen: number[] = [];
    const follower = new RunFollower(store, run.id, 1, (e) => seen.push(e.seq));
    // Emitted before the history was read: it waits for events 2 and 3 instead of jumping ahead of them.
    store.appendEvent(toolStarted(run.id, 4));
    expect(seen).toEqual([]);
    await follower.catchUp();
    expect(seen).toEqual([2, 3, 4]);
    const finished = follower.finished(new AbortController().signal);
    store.appendEvent(toolStarted(run.id, 5));
    // Live events reach the reader inside the emit: no queue, no tick in between.
    expect(seen).toEqual([2, 3, 4, 5]);
    store.appendEvent(runCompleted({ ...run, status: 'succeeded' }, 6));
    await finished;
    expect(follower.ended).toBe(true);
    store.appendEvent(toolStarted(run.id, 7));
    expect(seen).toEqual([2, 3, 4, 5, 6]);
  });

  it('passes a live event straight through when it directly follows the last one, even before catching up', async () => {
    const store = fresh();
    const run = makeRun();
    await store.saveRun(run);
    const seen: number[] = [];
    const follower = new RunFollower(store, run.id, 0, (e) => seen.push(e.seq));
    store.appendEvent(toolStarted(run.id, 1));
    expect(seen).toEqual([1]);
    await follower.catchUp();
    expect(seen).toEqual([1]);
    follower.close();
  });

  it('closes with a run_completed rebuilt from the record when the log lost its end', async () => {
    const store = fresh();
    const run = { ...makeRun(), status: 'succeeded' as const, completed_at: '2026-01-01T00:00:01.000Z' };
    await store.saveRun(run);
    store.appendEvent(toolStarted(run.id, 1));
    const seen: RunEvent[] = [];
    const follower = new RunFollower(store, run.id, 0, (e) => seen.push(e));
    const started = Date.now();
    await follower.finished(new AbortController().signal, (e) => ({ ...e, trace_id: 'redacted' }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(seen.map((e) => [e.seq, e.type])).toEqual([
      [1, 'tool_started'],
      [2, 'run_completed'],
    ]);
    const last = seen[1] as Extract<RunEvent, { type: 'run_completed' }>;
    expect(last.result.status).toBe('succeeded');
    expect(last.trace_id).toBe('redacted');
  });

  it('stops delivering when its signal aborts', async () => {
    const store = fresh();
    const run = makeRun();
    await store.saveRun(run);
    const seen: number[] = [];
    const follower = new RunFollower(store, run.id, 0, (e) => seen.push(e.seq));
    const stop = new AbortController();
    const finished = follower.finished(stop.signal);
    store.appendEvent(toolStarted(run.id, 1));
    stop.abort();
    await finished;
    store.appendEvent(toolStarted(run.id, 2));
    expect(seen).toEqual([1]);
  });
});
