import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { postJson, startTestService, withService, type TestService } from '../helpers/service.ts';
import { postStream } from '../helpers/sse.ts';
import { waitFor } from '../helpers/waitFor.ts';

const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };

describe('early stop', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc.close());
  beforeEach(() => svc.sim.reset());

  it('quorum 3 over 10 agreeing replicates arriving one by one: stops, cancels the rest for real', async () => {
    // One by one: the first three requests answer after 100, 200 and 300 ms; the other seven would never
    // answer on their own, so every one of them must be cancelled at the provider, however slow the machine.
    const hang = Array.from({ length: 7 }, () => ({ type: 'hang' as const }));
    svc.sim.configure({ answers: { kind: 'fixed', value: { answer: 'yes' } }, latencyMs: { sequence: [100, 200, 300] }, faults: [{ type: 'ok' }, { type: 'ok' }, { type: 'ok' }, ...hang] });
    // timeout_ms: without the stop the run would wait on the hanging seven; it then fails here, not by the test's timeout.
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'agree?', replicates: 10, early_stop: { quorum: 3 }, agent: { output_schema: schema }, timeout_ms: 10_000 });
    expect(body.status).toBe('succeeded');
    expect(body.bundle.early_stop).toMatchObject({ triggered: true, rule: 'quorum', after: 3 });
    expect(body.bundle.early_stop.reason).toMatch(/3 of 3/);
    expect(body.bundle.statistics).toMatchObject({ succeeded: 3, cancelled: 7 });
    expect(body.output).toEqual({ answer: 'yes' });
    // Cancelled for real: the service closes every hanging request it had sent (on a slow machine some may not
    // have been sent yet when the third answer landed: those are never sent), none is left open or answered.
    await waitFor(() => svc.sim.stats().inFlight === 0, { what: 'the provider seeing the other requests cancelled', timeoutMs: 15_000 });
    const stats = svc.sim.stats();
    expect(stats.completed).toBe(3);
    expect(stats.aborted).toBe(stats.received - 3);
    // Finished replicates are paid for; cancelled ones are not.
    const paid = body.bundle.replicates.filter((r: any) => r.status === 'succeeded');
    expect(body.usage.total_tokens).toBe(paid.reduce((a: number, r: any) => a + r.usage.total_tokens, 0));
  });

  it('never stops before min_replicates', async () => {
    svc.sim.configure({ answers: { kind: 'fixed', value: { answer: 'same' } }, latencyMs: { min: 10, max: 300 } });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 8, early_stop: { quorum: 2, min_replicates: 5 }, agent: { output_schema: schema } });
    expect(body.bundle.early_stop.triggered).toBe(true);
    expect(body.bundle.early_stop.after).toBe(5);
    expect(body.bundle.statistics.succeeded).toBe(5);
  });

  it('sends fewer requests with waves: Adaptive-Consistency stops after the first waves when answers agree', async () => {
    svc.sim.configure({ answers: { kind: 'fixed', value: { answer: 'A' } } });
    const { body } = await postJson(`${svc.url}/v1/runs`, {
      input: 'x',
      replicates: 10,
      early_stop: { rule: 'adaptive_consistency', threshold: 0.95 },
      launch: { policy: 'waves', wave_size: 1 },
      agent: { output_schema: schema },
    });
    expect(body.bundle.early_stop).toMatchObject({ triggered: true, rule: 'adaptive_consistency' });
    expect(svc.sim.stats().received).toBe(body.bundle.early_stop.after);
    expect(svc.sim.stats().received).toBeLessThan(10);
    expect(body.bundle.replicates.filter((r: any) => r.attempts === 0)).toHaveLength(10 - body.bundle.early_stop.after);
  });

  it('does not stop when replicates disagree', async () => {
    svc.sim.configure({ answers: { kind: 'sequence', values: [{ answer: 'A' }, { answer: 'B' }, { answer: 'C' }, { answer: 'D' }] } });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 4, early_stop: { quorum: 2 }, agent: { output_schema: schema } });
    expect(body.bundle.early_stop).toMatchObject({ triggered: false, reason: null });
    expect(body.bundle.statistics.succeeded).toBe(4);
  });

  it('stops on epsilon when the mean pairwise distance is small enough', async () => {
    svc.sim.configure({ answers: { kind: 'fixed', value: { answer: 'close' } }, latencyMs: { min: 10, max: 400 } });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 6, early_stop: { epsilon: 0.05 }, agent: { output_schema: schema } });
    expect(body.bundle.early_stop).toMatchObject({ triggered: true, rule: 'epsilon', after: 2 });
  });
});

describe('live budgets', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc.close());
  beforeEach(() => svc.sim.reset());

  it('max_tokens 100 with 40 tokens per replicate: budget_exceeded after 2–3 replicates, the rest aborted', async () => {
    svc.sim.configure({ usage: { inputTokens: 20, outputTokens: 20 }, latencyMs: { sequence: [100, 200, 300, 400, 500, 600, 700, 800] } });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'spend', replicates: 8, budget: { max_tokens: 100 } });
    expect(body.status).toBe('budget_exceeded');
    expect(body.error.code).toBe('budget_exceeded');
    const finished = body.bundle.replicates.filter((r: any) => r.status === 'succeeded');
    expect(finished.length).toBeGreaterThanOrEqual(2);
    expect(finished.length).toBeLessThanOrEqual(3);
    expect(body.bundle.statistics.cancelled).toBe(8 - finished.length);
    expect(body.budget.limits).toEqual({ max_tokens: 100 });
    expect(body.budget.used.tokens).toBe(finished.length * 40);
    await svc.sim.waitForIdle();
    // Each call reserves its prompt plus an output allowance before it is sent, which this budget
    // affords one at a time: the calls that could not fit were never sent, so none had to be aborted.
    expect(svc.sim.stats().maxInFlight).toBe(1);
    expect(svc.sim.stats().received).toBe(finished.length);
    expect(svc.sim.stats().aborted).toBe(0);
    expect(body.output).not.toBeNull();
  });

  it('max_cost_usd cancels when spend crosses it', async () => {
    svc.sim.configure({ usage: { inputTokens: 100_000, outputTokens: 100_000 }, latencyMs: { min: 20, max: 600 } });
    // gpt-4o: 0.25 + 1.00 = $1.25 per replicate.
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'expensive', replicates: 6, budget: { max_cost_usd: 2 }, agent: { model: 'gpt-4o' } });
    expect(body.status).toBe('budget_exceeded');
    expect(body.cost_usd).toBeGreaterThan(2);
    expect(body.cost_usd).toBeLessThan(6 * 1.25);
  });

  it('max_time_ms ends the run close to the limit with a partial bundle', async () => {
    svc.sim.configure({ faults: [{ type: 'ok' }, { type: 'hang' }, { type: 'hang' }] });
    const t0 = Date.now();
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'slow', replicates: 3, budget: { max_time_ms: 400 } });
    const elapsed = Date.now() - t0;
    expect(body.status).toBe('budget_exceeded');
    expect(body.error.details).toEqual({ limit: 'max_time_ms' });
    expect(elapsed).toBeGreaterThanOrEqual(390);
    // Generous: two calls hang until aborted, so only the budget can end this run.
    expect(elapsed).toBeLessThan(10_000);
    expect(body.bundle.statistics.succeeded).toBe(1);
    expect(body.bundle.statistics.cancelled).toBe(2);
  });

  it('streams budget used in partial summaries', async () => {
    // Spaced arrivals: replicates landing together share one partial summary.
    svc.sim.configure({ usage: { inputTokens: 5, outputTokens: 5 }, latencyMs: { sequence: [50, 150, 250] } });
    const cap = await postStream(svc.url, { input: 'x', replicates: 3, budget: { max_tokens: 1000 } });
    const used = cap.frames.filter((f) => f.event === 'partial_summary').map((f) => f.data.budget_used.tokens);
    // Each summary carries the tokens of the replicates landed so far (10 each); on a loaded machine two
    // arrivals may still share one summary, so only the shape is fixed: rising, whole replicates, ending at 30.
    expect(used.length).toBeGreaterThanOrEqual(2);
    expect(used).toEqual([...used].sort((a, b) => a - b));
    expect(used.every((t) => t > 0 && t % 10 === 0)).toBe(true);
    expect(used.at(-1)).toBe(30);
  });

  it('refuses up front a budget that cannot fit even the minimum', async () => {
    const res = await postJson(`${svc.url}/v1/runs`, { input: 'a long prompt '.repeat(200), replicates: 3, budget: { max_tokens: 50 } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toMatch(/max_tokens \(50\) cannot cover/);
    expect(svc.sim.stats().received).toBe(0);
  });
});

describe('synthesizer pass', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc.close());
  beforeEach(() => svc.sim.reset());

  it('synthesize: true adds exactly one provider call and sets output', async () => {
    svc.sim.configure({
      answers: {
        kind: 'function',
        fn: (ctx) => (ctx.prompt.includes('Answers (') ? { answer: 'synthesized' } : { answer: `draft ${ctx.index}` }),
      },
    });
    const cap = await postStream(svc.url, { input: 'combine', replicates: 3, synthesize: true, agent: { output_schema: schema } });
    const result = cap.frames.at(-1)!.data.result;
    expect(svc.sim.stats().received).toBe(4);
    expect(result.output).toEqual({ answer: 'synthesized' });
    const synthesis = cap.frames.filter((f) => f.event === 'synthesis_done');
    expect(synthesis).toHaveLength(1);
    expect(synthesis[0]!.data.source).toBe('synthesizer');
    // The synthesizer's usage is part of the run's.
    const replicateTokens = result.bundle.replicates.reduce((a: number, r: any) => a + r.usage.total_tokens, 0);
    expect(result.usage.total_tokens).toBe(replicateTokens + synthesis[0]!.data.usage.total_tokens);
    const bundleIndex = cap.frames.findIndex((f) => f.event === 'bundle_ready');
    const synthIndex = cap.frames.findIndex((f) => f.event === 'synthesis_done');
    expect(synthIndex).toBeGreaterThan(bundleIndex);
  });

  it('uses the synthesizer model and instructions when given', async () => {
    await postJson(`${svc.url}/v1/runs`, { input: 'combine', replicates: 2, synthesize: { model: 'gpt-4o', instructions: 'Be the judge.' } });
    const last = svc.sim.requests.at(-1)!;
    expect(last.model).toBe('gpt-4o');
    expect(JSON.stringify(last.body)).toContain('Be the judge.');
  });
});

describe('synthesizer fallback', () => {
  it('keeps the valid consensus when the synthesized answer breaks the schema, and says so on synthesis_done', async () => {
    await withService({}, async (svc) => {
      svc.sim.configure({ answers: { kind: 'function', fn: (ctx) => (ctx.prompt.includes('Answers (') ? { wrong: true } : { answer: 'kept' }) } });
      const cap = await postStream(svc.url, { input: 'x', replicates: 2, synthesize: true, agent: { output_schema: schema } });
      const result = cap.frames.at(-1)!.data.result;
      expect(result.status).toBe('succeeded');
      expect(result.output).toEqual({ answer: 'kept' });
      const synthesis = cap.frames.find((f) => f.event === 'synthesis_done')!.data;
      expect(synthesis.error.code).toBe('schema_validation');
    });
  });
});

describe('timeouts count time spent queued', () => {
  it('a queued run times out at timeout_ms even without a slot', async () => {
    await withService({ env: { MAX_ACTIVE_RUNS: '1' } }, async (svc) => {
      const blocker = await holdTheOnlySlot(svc);
      const t0 = Date.now();
      const queued = await postJson(`${svc.url}/v1/runs`, { input: 'wait', replicates: 1, timeout_ms: 300 });
      expect(queued.body.status).toBe('timed_out');
      // Generous: the only slot is held until cancelled below, so only the timeout can end this run.
      expect(Date.now() - t0).toBeLessThan(10_000);
      await postJson(`${svc.url}/v1/runs/${blocker.body.id}/cancel`, {});
    });
  });
});

describe('REDACT_EVENTS', () => {
  it('masks matches of REDACT_PATTERNS in every streamed event, while the result keeps them', async () => {
    await withService({ env: { REDACT_EVENTS: 'true', REDACT_PATTERNS: 'secret-\\w+' } }, async (svc) => {
      svc.sim.configure({ answers: { kind: 'fixed', value: { answer: 'the code is secret-abc123' } } });
      const cap = await postStream(svc.url, { input: 'x', replicates: 2, agent: { output_schema: schema } });
      const text = JSON.stringify(cap.frames.map((f) => f.data));
      expect(text).not.toContain('secret-abc123');
      expect(text).toContain('[REDACTED]');
      const runId = cap.frames[0]!.data.run_id;
      const record = await fetch(`${svc.url}/v1/runs/${runId}`).then((r) => r.json() as Promise<{ output: { answer: string } }>);
      expect(record.output.answer).toBe('the code is secret-abc123');
    });
  });
});

describe('a run that ends while queued', () => {
  it('still streams run_started first and run_completed last', async () => {
    await withService({ env: { MAX_ACTIVE_RUNS: '1' } }, async (svc) => {
      const blocker = await holdTheOnlySlot(svc);
      const cap = await postStream(svc.url, { input: 'queued', replicates: 1, timeout_ms: 200 });
      expect(cap.frames.map((f) => f.event)).toEqual(['run_started', 'run_completed']);
      expect(cap.frames[1]!.data.result.status).toBe('timed_out');
      await postJson(`${svc.url}/v1/runs/${blocker.body.id}/cancel`, {});
    });
  });
});

/** Occupies the single run slot (MAX_ACTIVE_RUNS=1) with a run whose provider call hangs; cancel it to free the slot. */
async function holdTheOnlySlot(svc: TestService): Promise<{ body: { id: string } }> {
  svc.sim.configure({ faults: [{ type: 'hang' }] });
  return postJson(`${svc.url}/v1/runs`, { input: 'hold the slot', replicates: 1, background: true });
}
