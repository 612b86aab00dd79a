import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getJson, postJson, startTestService, type TestService } from '../helpers/service.ts';
import { openSse } from '../helpers/sse.ts';

describe('composite tools label their replicates and keep every step', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc?.close());
  beforeEach(() => svc.sim.reset());

  it('panel (fan-out): each replicate names its branch, and each branch keeps its own bundle', async () => {
    const { status, body } = await postJson(`${svc.url}/v1/runs`, { tool: 'panel', input: 'Mail jane@example.com, she is delighted' });
    expect(status).toBe(200);
    const steps = body.bundle.replicates.map((r: { step: string }) => r.step);
    expect(steps.filter((s: string) => s === '1:sentiment')).toHaveLength(3);
    expect(steps.filter((s: string) => s === '2:contact_extractor')).toHaveLength(3);
    expect(body.bundle.replicates.map((r: { index: number }) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(body.bundle.steps.map((s: { step: string; tool: string }) => [s.step, s.tool])).toEqual([
      ['1:sentiment', 'sentiment'],
      ['2:contact_extractor', 'contact_extractor'],
    ]);
    expect(body.bundle.steps[0].replicates).toHaveLength(3);
    expect(body.bundle.steps[0].summary.pairwise_distances).toHaveLength(3);
  });

  it('triage (pipeline): the first step\'s bundle is kept beside the last one\'s, and live events name the step', async () => {
    const cap = await openSse(`${svc.url}/v1/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tool: 'triage', input: 'My order arrived broken!', stream: true }),
    });
    const result = cap.frames.at(-1)?.data.result;
    expect(result.status).toBe('succeeded');
    expect(result.bundle.steps.map((s: { step: string }) => s.step)).toEqual(['1:sentiment', '2:answer']);
    expect(result.bundle.steps[0].replicates.length).toBeGreaterThan(1);
    expect(result.bundle.replicates.every((r: { step: string }) => r.step === '2:answer')).toBe(true);
    const live = cap.frames.filter((f) => f.event === 'replicate_done').map((f) => f.data.replicate.step);
    expect(new Set(live)).toEqual(new Set(['1:sentiment', '2:answer']));
  });
});

describe('GET /v1/runs/{id} while the run works', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc?.close());

  it('shows the replicates done so far as a partial bundle, with a summary over them, also inside a composite tool', async () => {
    // triage's first step (sentiment, 5 replicates): two answer, three hang until cancelled.
    svc.sim.configure({ faults: [{ type: 'ok' }, { type: 'ok' }, { type: 'hang' }, { type: 'hang' }, { type: 'hang' }] });
    const started = await postJson(`${svc.url}/v1/runs`, { tool: 'triage', input: 'The parcel is late again.', background: true });
    const id = started.body.id as string;
    // Wait on the run's own events: read its stream until two replicates are done.
    const abort = new AbortController();
    const res = await fetch(`${svc.url}/v1/runs/${id}/events?stream_token=${encodeURIComponent(started.body.stream_token)}`, { signal: abort.signal });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    while ((text.match(/event: replicate_done/g) ?? []).length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    abort.abort();
    const live = await getJson(`${svc.url}/v1/runs/${id}`);
    expect(live.body.status).toBe('running');
    expect(live.body.bundle.replicates.map((r: { step: string }) => r.step)).toEqual(['1:sentiment', '1:sentiment']);
    expect(live.body.bundle.statistics).toMatchObject({ succeeded: 2 });
    expect(live.body.bundle.summary.pairwise_distances).toHaveLength(2);
    await postJson(`${svc.url}/v1/runs/${id}/cancel`, '');
  });
});
