import { describe, expect, it } from 'vitest';
import { HeadWatch, RunFollower } from '../../src/runs/eventFeed.ts';
import type { RunEvent } from '../../src/schemas/events.ts';
import type { Store } from '../../src/store/types.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { makeRun, memoryStores, runCompleted, toolStarted } from '../store/fixtures.ts';

describe('RunFollower', () => {
  const fresh = memoryStores();

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

  it('reads from the log what live delivery lost (a store that was away), in order and once', async () => {
    const store = fresh();
    const run = makeRun();
    await store.saveRun(run);
    // Live delivery that loses seq 2, as pub/sub does while its connection is down.
    const lossy = new Proxy(store, {
      get(target, key, receiver) {
        if (key !== 'subscribe') return bound(target, key, receiver);
        return (id: string, listener: (e: RunEvent) => void) => target.subscribe(id, (e) => e.seq !== 2 && listener(e));
      },
    }) as Store;
    const seen: number[] = [];
    const follower = new RunFollower(lossy, run.id, 0, (e) => seen.push(e.seq));
    await follower.catchUp();
    store.appendEvent(toolStarted(run.id, 1));
    store.appendEvent(toolStarted(run.id, 2));
    store.appendEvent(toolStarted(run.id, 3));
    expect(seen).toEqual([1]);
    await expect.poll(() => seen).toEqual([1, 2, 3]);
    follower.close();
  });

  it('shares one head watch per run: a hundred followers cost one status read per check', async () => {
    const store = fresh();
    const run = makeRun();
    await store.saveRun(run);
    let reads = 0;
    const counting = new Proxy(store, {
      get(target, key, receiver) {
        if (key !== 'runStatus') return bound(target, key, receiver);
        return (id: string) => {
          reads++;
          return target.runStatus(id);
        };
      },
    }) as Store;
    const stop = new AbortController();
    const followers = Array.from({ length: 100 }, () => new RunFollower(counting, run.id, 0, () => {}));
    const finished = followers.map((f) => f.finished(stop.signal));
    await expect.poll(() => HeadWatch.of(counting).size).toBe(1);
    expect(reads).toBe(1);
    stop.abort();
    await Promise.all(finished);
    expect(HeadWatch.of(counting).size).toBe(0);
  });
});

/** A store member seen through a Proxy, methods bound to the store itself (its private fields need it). */
function bound(target: MemoryStore, key: string | symbol, receiver: unknown): unknown {
  const value: unknown = Reflect.get(target, key, receiver);
  return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}
