import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postJson, startTestService, type TestService } from '../helpers/service.ts';
import { openSse } from '../helpers/sse.ts';

describe('run events over SSE', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { SSE_HEARTBEAT_MS: '50' } });
  });
  afterAll(async () => svc.close());
  beforeEach(() => svc.sim.reset());

  const streamRun = (body: object, headers: Record<string, string> = {}) =>
    openSse(`${svc.url}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('streams run_started first, run_completed last, with ids 1..n and the contract tags', async () => {
    const cap = await streamRun({ input: 'stream me', replicates: 4, stream: true });
    expect(cap.status).toBe(200);
    expect(cap.headers.get('content-type')).toContain('text/event-stream');
    const types = cap.frames.map((f) => f.event);
    expect(types[0]).toBe('run_started');
    expect(types.at(-1)).toBe('run_completed');
    expect(types.filter((t) => t === 'replicate_done')).toHaveLength(4);
    // One partial summary per arrival, or per burst of arrivals landing together; the last covers all.
    const partials = cap.frames.filter((f) => f.event === 'partial_summary');
    expect(partials.length).toBeGreaterThanOrEqual(1);
    expect(partials.length).toBeLessThanOrEqual(4);
    expect(partials.at(-1)!.data.statistics.completed).toBe(4);
    expect(types.filter((t) => t === 'bundle_ready')).toHaveLength(1);
    expect(cap.frames.map((f) => Number(f.id))).toEqual(cap.frames.map((_, i) => i + 1));
    const runId = cap.frames[0]!.data.run_id;
    expect(cap.headers.get('location')).toBe(`/v1/runs/${runId}`);
    // ts: RFC 3339 with microseconds, in emit order.
    const stamps = cap.frames.map((f) => f.data.ts as string);
    for (const ts of stamps) expect(ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect([...stamps].sort()).toEqual(stamps);
    // Sub-millisecond for real: not every stamp can fall on a whole millisecond.
    expect(stamps.some((ts) => !ts.endsWith('000Z'))).toBe(true);
    for (const f of cap.frames) {
      expect(f.data).toMatchObject({ type: f.event, seq: Number(f.id), run_id: runId, trace_id: expect.stringMatching(/^[0-9a-f]{32}$/), ts: expect.any(String), tool: 'bundle' });
    }
    for (const f of cap.frames.filter((f) => f.event === 'replicate_done')) {
      expect(f.data.source).toBe(`replicate:${f.data.replicate.index}`);
      expect(f.data.provider).toBe('simulator');
      expect(f.data.model).toBe('gpt-4o-mini');
    }
    expect(cap.frames.at(-1)!.data.result.status).toBe('succeeded');
  });

  it('streams when the client asks with Accept: text/event-stream', async () => {
    const cap = await streamRun({ input: 'accept header', replicates: 1 }, { accept: 'text/event-stream' });
    expect(cap.frames[0]!.event).toBe('run_started');
    expect(cap.frames.at(-1)!.event).toBe('run_completed');
  });

  it('resumes after id k with exactly the events after k (Last-Event-ID and ?after=)', async () => {
    const full = await streamRun({ input: 'resume me', replicates: 3, stream: true });
    const runId = full.frames[0]!.data.run_id;
    const k = 3;
    const byHeader = await openSse(`${svc.url}/v1/runs/${runId}/events`, { headers: { 'last-event-id': String(k) } });
    expect(byHeader.frames.map((f) => f.id)).toEqual(full.frames.slice(k).map((f) => f.id));
    expect(byHeader.frames.map((f) => f.data)).toEqual(full.frames.slice(k).map((f) => f.data));
    const byQuery = await openSse(`${svc.url}/v1/runs/${runId}/events?after=${k}`);
    expect(byQuery.frames.map((f) => f.id)).toEqual(full.frames.slice(k).map((f) => f.id));
    const fromStart = await openSse(`${svc.url}/v1/runs/${runId}/events`);
    expect(fromStart.frames.map((f) => f.id)).toEqual(full.frames.map((f) => f.id));
  });

  it('follows a running run live from GET /events, and sends heartbeat comments while idle', async () => {
    svc.sim.configure({ latencyMs: 300 });
    const started = await postJson(`${svc.url}/v1/runs`, { input: 'slow', replicates: 2, background: true });
    const cap = await openSse(`${svc.url}/v1/runs/${started.body.id}/events`);
    expect(cap.frames[0]!.event).toBe('run_started');
    expect(cap.frames.at(-1)!.event).toBe('run_completed');
    expect(cap.comments.length).toBeGreaterThan(0);
    expect(new Set(cap.comments)).toEqual(new Set(['ping']));
  });

  it('keeps each replicate source in order and seq dense under heavy concurrency', async () => {
    svc.sim.configure({ latencyMs: { min: 0, max: 20 } });
    const caps = await Promise.all(Array.from({ length: 8 }, (_, i) => streamRun({ input: `burst ${i}`, replicates: 20, stream: true })));
    for (const cap of caps) {
      expect(cap.frames.map((f) => Number(f.id))).toEqual(cap.frames.map((_, i) => i + 1));
      const done = cap.frames.filter((f) => f.event === 'replicate_done').map((f) => f.data.replicate.index);
      expect(new Set(done).size).toBe(20);
      // A partial summary always follows the replicate it summarizes.
      const seen: number[] = [];
      for (const f of cap.frames) {
        if (f.event === 'replicate_done') seen.push(f.data.replicate.index);
        if (f.event === 'partial_summary') expect(f.data.statistics.completed + f.data.statistics.cancelled).toBe(seen.length);
      }
    }
  });

  it('does not cancel the run when the streaming client disconnects', async () => {
    svc.sim.configure({ latencyMs: 200 });
    const abort = new AbortController();
    const res = await fetch(`${svc.url}/v1/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'leave early', replicates: 2, stream: true }),
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    // Read as far as run_started (the stream opens with its retry hint, which may come in a chunk of its own).
    const decoder = new TextDecoder();
    let head = '';
    let found: RegExpExecArray | null = null;
    while (!found) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`the stream ended before run_started: ${head}`);
      head += decoder.decode(chunk.value, { stream: true });
      found = /"run_id":"(run_[0-9a-f]+)"/.exec(head);
    }
    const runId = found[1]!;
    abort.abort();
    const rest = await openSse(`${svc.url}/v1/runs/${runId}/events`);
    expect(rest.frames.at(-1)!.data.result.status).toBe('succeeded');
    expect(svc.sim.stats().aborted).toBe(0);
  });
});
