import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/schemas/events.ts';
import type { RunResult } from '../../src/schemas/result.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { ENTRY_OVERHEAD_BYTES } from '../../src/store/memoryIdempotency.ts';
import { makeRun, memoryStores, partialSummary, replicateDone, runCompleted, toolStarted } from './fixtures.ts';

/**
 * A finished run is held as its JSON (`Frozen` in memory.ts): what is read
 * back must be what was written, whole and in order.
 */
describe('MemoryStore: finished runs', () => {
  const fresh = memoryStores();

  /** The store freezes a finished run once the turn that stored its run_completed is over: reads after this one read it frozen. */
  const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

  /** A run written as the orchestrator writes one: running, its events, the final record (with its JSON), run_completed. */
  async function finishedRun(store: MemoryStore, final: RunResult = makeRun({ status: 'succeeded', output: { answer: 'é ✓ "quoted"' } })) {
    await store.saveRun({ ...final, status: 'running', completed_at: null });
    const events: RunEvent[] = [toolStarted(final.id, 1), replicateDone(final.id, 2, 0, { answer: 'é ✓' }), partialSummary(final.id, 3)];
    for (const event of events) store.appendEvent(event);
    await store.saveRun(final, JSON.stringify(final));
    const completed = runCompleted(final, 4);
    store.appendEvent(completed);
    await nextTurn();
    return { final, events: [...events, completed] };
  }

  it('reads a finished run back as it was written: the record, every event in order, its head, its place in lists', async () => {
    const store = fresh();
    const { final, events } = await finishedRun(store);
    expect(await store.getRun(final.id)).toStrictEqual(final);
    const read = await store.readEvents(final.id, 0);
    expect(read).toStrictEqual(events);
    // Member order too: a replayed event is the same JSON as the live one.
    expect(read.map((e) => JSON.stringify(e))).toStrictEqual(events.map((e) => JSON.stringify(e)));
    expect(await store.readEvents(final.id, 2)).toStrictEqual(events.slice(2));
    expect(await store.readEvents(final.id, 4)).toStrictEqual([]);
    expect(await store.runStatus(final.id)).toStrictEqual({ status: 'succeeded', seq: 4 });
    const page = await store.listRuns({ idPrefix: 'run_', limit: 10, status: 'succeeded', tool: final.tool });
    expect(page.runs).toStrictEqual([final]);
    expect((await store.listRuns({ idPrefix: 'run_', limit: 10, status: 'failed' })).runs).toStrictEqual([]);
  });

  it('reads back events whose members are the record\'s own parts (its bundle, summary, replicates, the record itself) member for member', async () => {
    const store = fresh();
    const id = makeRun().id;
    const replicates = [0, 1].map((i) => (replicateDone(id, i + 1, i, { answer: `a${i}` }) as Extract<RunEvent, { type: 'replicate_done' }>).replicate);
    const summary = { consensus: { answer: 'a0' }, confidence: 0.5, disagreements: [{ path: 'answer', values: [] }], pairwise_distances: [[0, 1], [1, 0]] };
    const bundle = { replicates, summary, statistics: { requested: 2, completed: 2, succeeded: 2, failed: 0, cancelled: 0 }, early_stop: null };
    const final = makeRun({ id, status: 'succeeded', bundle } as unknown as Partial<RunResult>);
    await store.saveRun({ ...final, status: 'running', completed_at: null });
    const { step: _step, ...started } = toolStarted(id, 4) as Extract<RunEvent, { type: 'tool_started' }>;
    const events = [
      { ...replicateDone(id, 1, 0, null), replicate: replicates[0] },
      { ...replicateDone(id, 2, 1, null), replicate: replicates[1] },
      { ...partialSummary(id, 3), summary },
      { ...started, type: 'bundle_ready', bundle },
    ] as unknown as RunEvent[];
    for (const event of events) store.appendEvent(event);
    await store.saveRun(final);
    const completed = runCompleted(final, 5);
    store.appendEvent(completed);
    await nextTurn();
    const all = [...events, completed];
    const read = await store.readEvents(id, 0);
    expect(read).toStrictEqual(JSON.parse(JSON.stringify(all)));
    expect(read.map((e) => JSON.stringify(e))).toStrictEqual(all.map((e) => JSON.stringify(e)));
    expect(await store.readEvents(id, 3)).toStrictEqual(JSON.parse(JSON.stringify(all.slice(3))));
    expect(store.bytes.runs).toBe(ENTRY_OVERHEAD_BYTES + JSON.stringify(final).length + all.reduce((sum, e) => sum + JSON.stringify(e).length, 0));
  });

  it('counts a finished run at the JSON length of its record and events, as while it ran', async () => {
    const store = fresh();
    const { final, events } = await finishedRun(store);
    const expected = ENTRY_OVERHEAD_BYTES + JSON.stringify(final).length + events.reduce((sum, e) => sum + JSON.stringify(e).length, 0);
    expect(store.bytes.runs).toBe(expected);
  });

  it('keeps a run_completed whose result is not the record (a redacted copy) as it was stored', async () => {
    const store = fresh();
    const final = makeRun({ status: 'failed', output: null });
    await store.saveRun(final);
    const redacted = runCompleted({ ...final, metadata: { suite: '[REDACTED]' } }, 1);
    store.appendEvent(redacted);
    await nextTurn();
    expect(await store.readEvents(final.id, 0)).toStrictEqual([redacted]);
    expect(await store.getRun(final.id)).toStrictEqual(final);
  });

  it('takes writes after the end: an event appended and a record saved again are read back with what came before', async () => {
    const store = fresh();
    const { final, events } = await finishedRun(store);
    const late = toolStarted(final.id, 5);
    store.appendEvent(late);
    expect(await store.readEvents(final.id, 0)).toStrictEqual([...events, late]);
    const resaved = { ...final, metadata: { suite: 'again' } };
    await store.saveRun(resaved);
    expect(await store.getRun(final.id)).toStrictEqual(resaved);
    expect(await store.runStatus(final.id)).toStrictEqual({ status: 'succeeded', seq: 5 });
    expect(store.bytes.runs).toBe(ENTRY_OVERHEAD_BYTES + JSON.stringify(resaved).length + [...events, late].reduce((sum, e) => sum + JSON.stringify(e).length, 0));
  });
});
