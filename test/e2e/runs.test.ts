import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getJson, postJson, startTestService, type TestService, withService } from '../helpers/service.ts';
import { waitFor } from '../helpers/waitFor.ts';

const schema = {
  type: 'object',
  properties: { answer: { type: 'string' }, score: { type: 'integer', minimum: 0, maximum: 10 } },
  required: ['answer'],
};

describe('POST /v1/runs with the bundle tool', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc.close());
  beforeEach(() => svc.sim.reset());

  it('returns 3 replicates, their consensus and an all-zero distance matrix when they agree', async () => {
    svc.sim.configure({ answers: { kind: 'fixed', value: { answer: 'Paris', score: 9 } } });
    const { status, body } = await postJson(`${svc.url}/v1/runs`, { input: 'Capital of France?', replicates: 3, agent: { output_schema: schema } });
    expect(status).toBe(200);
    expect(body.status).toBe('succeeded');
    expect(body.bundle.replicates).toHaveLength(3);
    expect(body.bundle.replicates.every((r: any) => r.valid && r.provider === 'simulator' && r.model === 'gpt-4o-mini')).toBe(true);
    expect(body.bundle.summary.consensus).toEqual({ answer: 'Paris', score: 9 });
    expect(body.output).toEqual({ answer: 'Paris', score: 9 });
    expect(body.bundle.summary.confidence).toBe(1);
    expect(body.bundle.summary.disagreements).toEqual([]);
    expect(body.bundle.summary.pairwise_distances).toEqual([
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(body.bundle.statistics).toMatchObject({ requested: 3, completed: 3, succeeded: 3, failed: 0, cancelled: 0 });
  });

  it('answers a finished run as its stored record plus the stream_token, byte for byte, failed or not', async () => {
    for (const value of ['a "quoted" answer\u2028é', null]) {
      svc.sim.reset();
      if (value === null) svc.sim.configure({ faultRate: { probability: 1, status: 400 } });
      else svc.sim.configure({ answers: { kind: 'fixed', value } });
      const res = await fetch(`${svc.url}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: 'x', replicates: 1, metadata: { note: 'ünïcode "x"' } }) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const text = await res.text();
      const answer = JSON.parse(text);
      expect(answer.status).toBe(value === null ? 'failed' : 'succeeded');
      const stored = await getJson(`${svc.url}/v1/runs/${answer.id}`);
      expect(text).toBe(JSON.stringify({ ...stored.body, stream_token: answer.stream_token }));
    }
  });

  it('reports non-zero distances and a disagreement entry when replicates differ', async () => {
    svc.sim.configure({ answers: { kind: 'sequence', values: [{ answer: 'A' }, { answer: 'B' }, { answer: 'A' }] }, latencyMs: 0 });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'Pick one', replicates: 3, agent: { output_schema: schema } });
    expect(body.status).toBe('succeeded');
    const outputs = body.bundle.replicates.map((r: any) => r.output.answer).sort();
    expect(outputs).toEqual(['A', 'A', 'B']);
    expect(body.bundle.summary.consensus).toEqual({ answer: 'A' });
    const matrix: number[][] = body.bundle.summary.pairwise_distances;
    expect(matrix.flat().some((d) => d > 0)).toBe(true);
    for (let i = 0; i < 3; i++) {
      expect(matrix[i]![i]).toBe(0);
      for (let j = 0; j < 3; j++) {
        expect(matrix[i]![j]).toBe(matrix[j]![i]);
        expect(matrix[i]![j]).toBeGreaterThanOrEqual(0);
        expect(matrix[i]![j]).toBeLessThanOrEqual(1);
      }
    }
    const disagreement = body.bundle.summary.disagreements.find((d: any) => d.path === '/answer');
    expect(disagreement.values.map((v: any) => v.value)).toEqual(['A', 'B']);
    const bIndex = body.bundle.replicates.find((r: any) => r.output.answer === 'B').index;
    expect(disagreement.values[1].replicates).toEqual([bIndex]);
    expect(body.bundle.summary.confidence).toBeCloseTo(2 / 3, 5);
  });

  it('sends three different integer seeds derived from the run seed to the provider', async () => {
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'Seeded question', replicates: 3, seed: 42, agent: { output_schema: schema } });
    const seeds = svc.sim.requests.map((r) => r.seed);
    expect(seeds).toHaveLength(3);
    expect(seeds.every((s) => Number.isInteger(s))).toBe(true);
    expect(new Set(seeds).size).toBe(3);
    expect([...seeds].sort()).toEqual(body.bundle.replicates.map((r: any) => r.seed).sort());
    const again = await postJson(`${svc.url}/v1/runs`, { input: 'Seeded question', replicates: 3, seed: 42, agent: { output_schema: schema } });
    expect(again.body.bundle.replicates.map((r: any) => r.output)).toEqual(body.bundle.replicates.map((r: any) => r.output));
  });

  it('accounts usage per replicate and a cost breakdown that sums to cost_usd', async () => {
    svc.sim.configure({ usage: { inputTokens: 1000, outputTokens: 500 } });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'Count tokens', replicates: 3, agent: { model: 'gpt-4o', output_schema: schema } });
    for (const r of body.bundle.replicates) expect(r.usage).toEqual({ input_tokens: 1000, output_tokens: 500, total_tokens: 1500 });
    expect(body.usage).toEqual({ input_tokens: 3000, output_tokens: 1500, total_tokens: 4500 });
    // gpt-4o: $2.50 / 1M input, $10 / 1M output.
    expect(body.cost_usd).toBeCloseTo(3 * (1000 * 2.5 + 500 * 10) / 1e6, 9);
    const sum = body.cost_breakdown.reduce((a: number, l: any) => a + l.cost_usd, 0);
    expect(sum).toBeCloseTo(body.cost_usd, 9);
    expect(body.cost_breakdown).toEqual([{ provider: 'simulator', model: 'gpt-4o', input_tokens: 3000, output_tokens: 1500, cost_usd: body.cost_usd }]);
  });

  it('marks a replicate whose output breaks the schema invalid with schema_validation', async () => {
    svc.sim.configure({ answers: { kind: 'sequence', values: [{ answer: 'ok' }, { answer: 'ok', score: 99 }, { answer: 'ok' }] } });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'Score it', replicates: 3, agent: { output_schema: schema } });
    const invalid = body.bundle.replicates.filter((r: any) => !r.valid);
    expect(invalid).toHaveLength(1);
    expect(invalid[0].error.code).toBe('schema_validation');
    expect(body.status).toBe('succeeded');
    expect(body.output).toEqual({ answer: 'ok' });
  });

  it('runs free-text replicates with textual distances', async () => {
    svc.sim.configure({ answers: { kind: 'sequence', values: ['The capital is Paris.', 'the capital is paris', 'Lyon is the capital of nothing'] } });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'Capital?', replicates: 3 });
    expect(body.status).toBe('succeeded');
    expect(typeof body.output).toBe('string');
    const m = body.bundle.summary.pairwise_distances;
    const texts = body.bundle.replicates.map((r: any) => r.output);
    const i = texts.indexOf('The capital is Paris.');
    const j = texts.indexOf('the capital is paris');
    const k = texts.indexOf('Lyon is the capital of nothing');
    expect(m[i][j]).toBe(0);
    expect(m[i][k]).toBeGreaterThan(0);
  });

  it('runs 20 replicates at once by default, and fewer when MAX_CONCURRENCY says so', async () => {
    svc.sim.configure({ latencyMs: 150 });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'Twenty at once', replicates: 20 });
    expect(body.bundle.statistics.succeeded).toBe(20);
    expect(svc.sim.stats().maxInFlight).toBe(20);

    await withService({ env: { MAX_CONCURRENCY: '5' }, behavior: { latencyMs: 100 } }, async (capped) => {
      const r = await postJson(`${capped.url}/v1/runs`, { input: 'Five at a time', replicates: 12 });
      expect(r.body.bundle.statistics.succeeded).toBe(12);
      expect(capped.sim.stats().maxInFlight).toBe(5);
    });
  });

  it('answers GET /v1/runs/{id} with the same record, and 202 for background runs', async () => {
    svc.sim.configure({ latencyMs: 200 });
    const started = await postJson(`${svc.url}/v1/runs`, { input: 'In the background', replicates: 2, background: true });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ id: expect.stringMatching(/^run_/), status: expect.stringMatching(/queued|running/) });
    const live = await getJson(`${svc.url}/v1/runs/${started.body.id}`);
    expect(live.status).toBe(200);
    expect(['queued', 'running']).toContain(live.body.status);
    const final = await waitFor(async () => {
      const { body } = await getJson(`${svc.url}/v1/runs/${started.body.id}`);
      return body.status !== 'running' && body.status !== 'queued' && body;
    }, { what: 'the background run ending' });
    expect(final.status).toBe('succeeded');
    expect(final.bundle.replicates).toHaveLength(2);
  });

  it('echoes metadata and carries trace and request ids', async () => {
    const { body, headers } = await postJson(`${svc.url}/v1/runs`, { input: 'meta', replicates: 1, metadata: { team: 'search' } }, { 'x-request-id': 'req-abc-123' });
    expect(body.metadata).toEqual({ team: 'search' });
    expect(body.request_id).toBe('req-abc-123');
    expect(headers.get('x-request-id')).toBe('req-abc-123');
    expect(body.trace_id).toMatch(/^[0-9a-f]{32}$/);
  });
});
