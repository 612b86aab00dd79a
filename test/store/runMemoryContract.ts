import { expect, it } from 'vitest';
import { entryBytes, type MemoryBounds } from '../../src/store/runMemory.ts';
import type { Store } from '../../src/store/types.ts';
import { newRunId, sleep } from './fixtures.ts';

const ROOMY: MemoryBounds = { maxBytes: 1_000_000, maxEntries: 100, ttlMs: 60_000 };

/**
 * What every store's `runMemory` must do (run from the store contract, so
 * the memory and Redis stores agree): bounded writes checked in one step,
 * per-run isolation, drop, and expiry.
 */
export function runMemoryContract(fresh: () => Promise<Store>): void {
  it('run memory: writes, replaces and reads entries per run; bytes count key and value in UTF-8', async () => {
    const { runMemory } = await fresh();
    const run = newRunId();
    const other = newRunId();
    expect(await runMemory.put(run, 'input', '"héllo"', ROOMY)).toEqual({ stored: true, bytes: entryBytes('input', '"héllo"'), entries: 1 });
    expect(entryBytes('input', '"héllo"')).toBe(5 + 8);
    await runMemory.put(run, 'step.1', '{"a":1}', ROOMY);
    await runMemory.put(other, 'input', '"x"', ROOMY);
    // Replacing an entry counts its new size instead of the old one.
    expect(await runMemory.put(run, 'step.1', '{"a":12}', ROOMY)).toEqual({ stored: true, bytes: entryBytes('input', '"héllo"') + entryBytes('step.1', '{"a":12}'), entries: 2 });
    expect(await runMemory.get(run, 'step.1')).toBe('{"a":12}');
    expect(await runMemory.get(run, 'missing')).toBeNull();
    expect(await runMemory.entries(run)).toEqual({ input: '"héllo"', 'step.1': '{"a":12}' });
    expect(await runMemory.entries(other)).toEqual({ input: '"x"' });
    expect(await runMemory.entries(newRunId())).toEqual({});
  });

  it('run memory: refuses a write past the byte bound or a new key past the entry bound, and keeps what it held', async () => {
    const { runMemory } = await fresh();
    const run = newRunId();
    const bounds: MemoryBounds = { maxBytes: 40, maxEntries: 2, ttlMs: 60_000 };
    await runMemory.put(run, 'a', '"0123456789"', bounds);
    expect(await runMemory.put(run, 'b', JSON.stringify('x'.repeat(40)), bounds)).toEqual({ stored: false, limit: 'bytes', bytes: 13, entries: 1 });
    await runMemory.put(run, 'b', '"1"', bounds);
    expect(await runMemory.put(run, 'c', '"2"', bounds)).toEqual({ stored: false, limit: 'entries', bytes: 17, entries: 2 });
    // At the entry bound an existing key may still change.
    expect(await runMemory.put(run, 'b', '"22"', bounds)).toEqual({ stored: true, bytes: 18, entries: 2 });
    expect(await runMemory.entries(run)).toEqual({ a: '"0123456789"', b: '"22"' });
  });

  it('run memory: drop forgets every entry of that run only', async () => {
    const { runMemory } = await fresh();
    const run = newRunId();
    const other = newRunId();
    for (const key of ['input', 'planner', 'step.1', 'note.x']) await runMemory.put(run, key, '1', ROOMY);
    await runMemory.put(other, 'input', '2', ROOMY);
    await runMemory.drop(run);
    expect(await runMemory.entries(run)).toEqual({});
    expect(await runMemory.get(run, 'input')).toBeNull();
    expect(await runMemory.entries(other)).toEqual({ input: '2' });
    // A dropped run starts from nothing: its old bytes do not count.
    expect(await runMemory.put(run, 'input', '3', { ...ROOMY, maxBytes: 6 })).toEqual({ stored: true, bytes: 6, entries: 1 });
  });

  it('run memory: expires ttlMs after the last write', async () => {
    const { runMemory } = await fresh();
    const run = newRunId();
    await runMemory.put(run, 'input', '"x"', { ...ROOMY, ttlMs: 150 });
    expect(await runMemory.get(run, 'input')).toBe('"x"');
    const deadline = Date.now() + 3000;
    while ((await runMemory.get(run, 'input')) !== null) {
      if (Date.now() > deadline) throw new Error('run memory did not expire');
      await sleep(25);
    }
    expect(await runMemory.entries(run)).toEqual({});
  });
}
