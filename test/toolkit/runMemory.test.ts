import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RunMemory } from '../../src/toolkit/runMemory.ts';
import { InProcessRunMemory } from '../../src/store/runMemory.ts';
import { makeRun } from '../store/fixtures.ts';

function setup(limits = { maxBytes: 1024, maxEntries: 8, graceMs: 1000 }) {
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }));
  const store = new InProcessRunMemory();
  const run = makeRun();
  const memory = new RunMemory(store, run.id, limits, log);
  memory.begin(Date.now() + 60_000, 'the question', run.planner);
  return { store, run, memory, view: memory.view(), lines };
}

describe('RunMemory (a run’s ctx.memory)', () => {
  it('holds the input and the planner decision from the start; tools read entries back as values', async () => {
    const { view, run } = setup();
    await view.set('note.facts', { a: [1, 2] });
    expect(await view.get('input')).toBe('the question');
    expect(await view.get('planner')).toEqual(run.planner);
    expect(await view.entries()).toEqual({ input: 'the question', planner: run.planner, 'note.facts': { a: [1, 2] } });
    expect(await view.get('note.none')).toBeUndefined();
  });

  it('refuses bad keys, the service’s own keys and values that are not JSON', async () => {
    const { view } = setup();
    await expect(view.set('input', 'x')).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('written by the service only') });
    await expect(view.set('whatever', 1)).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('bad key') });
    await expect(view.set('note.x', undefined)).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('not JSON') });
  });

  it('past MEMORY_MAX_ENTRIES a new key is refused naming the bound', async () => {
    const { view } = setup({ maxBytes: 10_000, maxEntries: 4, graceMs: 1000 });
    await view.set('note.a', 1);
    await view.set('note.b', 2);
    await expect(view.set('note.c', 3)).rejects.toMatchObject({ code: 'invalid_request', details: { limit: 'MEMORY_MAX_ENTRIES', key: 'note.c' } });
  });

  it('stores the first trimmed form that fits, and says so', async () => {
    const { view, memory, run, lines } = setup();
    await view.set('step.1:x', { big: 'y'.repeat(2000) }, { trimmed: [{ big: 'y'.repeat(1500) }, { big: null, trimmed: true }] });
    expect(await view.get('step.1:x')).toEqual({ big: null, trimmed: true });
    expect(lines.some((l) => l.includes('stored trimmed'))).toBe(true);
    view.keep('k');
    const final = await memory.end(run);
    expect(final.memory).toMatchObject({ summary: 'k', trimmed: ['step.1:x'], refused: [] });
  });

  it('an observation that does not fit is logged, never thrown, and listed as refused', async () => {
    const { view, memory, run, lines } = setup();
    view.record(view.ownKeys.partial, 'z'.repeat(5000));
    view.keep(null);
    const final = await memory.end(run);
    expect(final.memory?.refused).toEqual(['partial']);
    expect(lines.some((l) => l.includes('observation not recorded') && l.includes('MEMORY_MAX_BYTES'))).toBe(true);
  });

  it('end waits for pending writes, drops everything, and refuses writes after it', async () => {
    const { store, view, memory, run } = setup();
    view.record('note.late', 'in flight');
    const final = await memory.end(run);
    expect(final.memory).toBeUndefined();
    expect(store.holds(run.id)).toBe(false);
    await expect(view.set('note.after', 1)).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('the run has ended') });
    view.record('note.after', 1);
    await Promise.resolve();
    expect(store.size).toEqual({ runs: 0, bytes: 0 });
  });

  it('refuses to keep a summary larger than MEMORY_MAX_BYTES', () => {
    const { view } = setup();
    expect(() => view.keep('s'.repeat(2000))).toThrow(/MEMORY_MAX_BYTES/);
  });

  it('names the nested step keys of an inner tool under its own step', () => {
    const { memory } = setup();
    expect(memory.view().stepKey('1:triage')).toBe('step.1:triage');
    const inner = memory.view('1:triage');
    expect(inner.stepKey('2:answer')).toBe('step.1:triage/2:answer');
    expect(inner.ownKeys).toEqual({ partial: 'partial.1:triage', synthesis: 'synthesis.1:triage' });
  });
});
