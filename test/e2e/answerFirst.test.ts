import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { traceFromHeaders } from '../../src/lib/trace.ts';
import { RunRequestSchema } from '../../src/schemas/request.ts';
import { postJson, startTestService, type TestService } from '../helpers/service.ts';

/**
 * With the memory store, a synchronous `POST /v1/runs` is answered as soon
 * as the final record is made, and the run's last writes (its last events,
 * the stored record, the idempotency record, `run_completed`) follow in the
 * same turn of the event loop (src/runs/lifecycle.ts, `RunHandle.answer`):
 * whoever reads after the answer must find all of them.
 */
describe('a synchronous answer, sent before the run’s last writes', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc?.close());
  beforeEach(() => svc.sim.reset());

  it('leaves the record, the whole event log and the idempotency record in place for the next request', async () => {
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: `question ${i}`, replicates: 3 }, { 'idempotency-key': `answer-first-${i}` })),
    );
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      const { stream_token: token, ...record } = answer.body;
      expect(record.status).toBe('succeeded');
      // Read in the order a client would, each right after the answer came.
      expect(await svc.store.getRun(record.id)).toEqual(record);
      const events = await svc.store.readEvents(record.id, 0);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, k) => k + 1));
      const types = events.map((e) => e.type);
      expect(types.filter((t) => t === 'replicate_done')).toHaveLength(3);
      expect([types[0], ...types.slice(-3)]).toEqual(['run_started', 'partial_summary', 'bundle_ready', 'run_completed']);
      expect(events.at(-1)).toMatchObject({ type: 'run_completed', result: record });
      const again = await postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: `question ${i}`, replicates: 3 }, { 'idempotency-key': `answer-first-${i}` });
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual({ ...record, stream_token: token });
    }
    expect(svc.sim.stats().received).toBe(36);
  });

  it('resolves the answer before the end is stored, and stores it within the same turn', async () => {
    const body = RunRequestSchema.parse({ tool: 'bundle', input: 'answer first', replicates: 1 });
    const prepared = svc.orchestrator.prepare(body, { trace: traceFromHeaders(undefined, undefined) });
    const handle = await svc.orchestrator.launch(prepared, { answerAtEnd: true });
    const answer = await handle.answer!;
    expect(answer.status).toBe('succeeded');
    expect(handle.takeJson?.()).toBe(JSON.stringify(answer));
    // Microtasks later: nothing of the end is stored yet, so the answer did not wait for it…
    expect((await svc.store.getRun(handle.id))?.status).toBe('running');
    expect((await svc.store.readEvents(handle.id, 0)).map((e) => e.type)).toEqual(['run_started']);
    // …and by the next turn all of it is, in order.
    await new Promise((resolve) => setImmediate(resolve));
    expect(await svc.store.getRun(handle.id)).toEqual(answer);
    expect((await svc.store.readEvents(handle.id, 0)).map((e) => e.type)).toEqual(['run_started', 'replicate_done', 'partial_summary', 'bundle_ready', 'run_completed']);
    expect(await handle.done).toEqual(answer);
  });

  it('answers a failed run first too', async () => {
    svc.sim.configure({ faults: [{ type: 'status', status: 400 }] });
    const body = RunRequestSchema.parse({ tool: 'bundle', input: 'fails', replicates: 1 });
    const handle = await svc.orchestrator.launch(svc.orchestrator.prepare(body, { trace: traceFromHeaders(undefined, undefined) }), { answerAtEnd: true });
    const answer = await handle.answer!;
    expect(answer.status).toBe('failed');
    await new Promise((resolve) => setImmediate(resolve));
    expect(await svc.store.getRun(handle.id)).toEqual(answer);
    expect((await svc.store.readEvents(handle.id, 0)).at(-1)).toMatchObject({ type: 'run_completed', result: answer });
  });

  it('waits for the end as before when the caller does not answer at it', async () => {
    const body = RunRequestSchema.parse({ tool: 'bundle', input: 'background', replicates: 1 });
    const handle = await svc.orchestrator.launch(svc.orchestrator.prepare(body, { trace: traceFromHeaders(undefined, undefined) }));
    expect(handle.answer).toBeUndefined();
    const final = await handle.done;
    expect(await svc.store.getRun(handle.id)).toEqual(final);
    expect((await svc.store.readEvents(handle.id, 0)).at(-1)?.type).toBe('run_completed');
  });
});
