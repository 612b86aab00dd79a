import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defineTool } from '../../src/toolkit/api.ts';
import { loadTools } from '../../src/toolkit/loader.ts';
import { postJson, startTestService, type TestService } from '../helpers/service.ts';
import { openSse } from '../helpers/sse.ts';
import { waitFor } from '../helpers/waitFor.ts';

/** A tool that makes no provider call: `execute` is all it does. */
const toolWithout = (name: string, description: string, execute: Parameters<typeof defineTool>[0]['execute']) =>
  defineTool({ name, version: '1.0.0', description, tags: [], input_schema: { type: 'object' }, output_schema: { type: 'object' }, execute });

/** Emits an event of its own and ends. */
const EAGER = toolWithout('eager', 'Emits tool_started and ends at once.', async (ctx) => {
  ctx.emit({ type: 'tool_started', step: 'first' });
  return { output: { done: true }, bundle: null };
});

/** Ends at once: no event. */
const INSTANT = toolWithout('instant', 'Ends at once.', () => Promise.resolve({ output: { done: true }, bundle: null }));

/**
 * The start's writes (the stored `running` record, `run_started`) wait until
 * the first provider request is out (src/runs/lifecycle.ts): they must still
 * come first, and must not wait for the provider's answer.
 */
describe('the start of a run', () => {
  let svc: TestService;
  beforeAll(async () => {
    const registry = await loadTools('tools');
    registry.register(EAGER);
    registry.register(INSTANT);
    svc = await startTestService({ registry });
  });
  afterAll(async () => svc?.close());
  beforeEach(() => svc.sim.reset());

  const stream = (body: object) => openSse(`${svc.url}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });

  it('streams run_started before an event the tool emits at once', async () => {
    const cap = await stream({ tool: 'eager', input: 'go' });
    expect(cap.frames.map((f) => f.event)).toEqual(['run_started', 'tool_started', 'run_completed']);
    expect(cap.frames.map((f) => Number(f.id))).toEqual([1, 2, 3]);
    expect(cap.frames.at(-1)!.data.result.status).toBe('succeeded');
  });

  it('streams run_started before run_completed when the tool ends at once, and stores the end', async () => {
    const cap = await stream({ tool: 'instant', input: 'go' });
    expect(cap.frames.map((f) => f.event)).toEqual(['run_started', 'run_completed']);
    const runId = cap.frames[0]!.data.run_id as string;
    expect((await svc.store.getRun(runId))?.status).toBe('succeeded');
    expect((await svc.store.readEvents(runId, 0)).map((e) => e.type)).toEqual(['run_started', 'run_completed']);
  });

  it('stores the running record and run_started while the first provider call is still out', async () => {
    svc.sim.configure({ latencyMs: 1000 });
    const started = await postJson(`${svc.url}/v1/runs`, { input: 'slow start', replicates: 1, background: true });
    const id = started.body.id as string;
    // Within the provider's second: the record stored as running, run_started in the log, the call out and not answered.
    const seen = await waitFor(
      async () => {
        const run = await svc.store.getRun(id);
        const types = (await svc.store.readEvents(id, 0)).map((e) => e.type);
        return run?.status === 'running' && svc.sim.stats().inFlight === 1 ? { run, types } : null;
      },
      { what: 'the stored record to say running while the call is out' },
    );
    expect(seen.run.started_at).not.toBeNull();
    expect(seen.types).toEqual(['run_started']);
  });
});
