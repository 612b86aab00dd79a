import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';
import { defineTool } from '../../src/toolkit/api.ts';
import { loadTools } from '../../src/toolkit/loader.ts';
import { getJson, postJson, startTestService, type TestService, type TestServiceOptions } from '../helpers/service.ts';

/**
 * Several providers, each an OpenAI-compatible simulator of its own on its
 * own port: `${SIM}` is the service's simulator (provider p1), `${SIM2}` a
 * second one (provider p2). Everything goes over HTTP through the real
 * openai and Agents SDKs.
 */
const services: TestService[] = [];
const simulators: Simulator[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
  await Promise.all(simulators.splice(0).map((s) => s.close()));
});

async function twoProviders(p1Extra = '', p2Extra = '', options: TestServiceOptions = {}) {
  const sim2 = await startSimulator({});
  simulators.push(sim2);
  const yaml = `
default: p1
providers:
  - name: p1
    base_url: \${SIM}
    models: [m1]
${p1Extra}
  - name: p2
    base_url: ${sim2.url}
    api_key_env: P2_KEY
    models: [m2]
${p2Extra}
`;
  const svc = await startTestService({ providersYaml: yaml, providerEnv: { P2_KEY: 'sk-p2-secret-do-not-show' }, ...options });
  services.push(svc);
  return { svc, sim1: svc.sim, sim2 };
}

const modelRequests = (sim: Simulator) => sim.requests.filter((r) => r.path.endsWith('/chat/completions'));

describe('a cross-model panel over two providers', () => {
  it('sends 2 of 4 replicates to each provider and reports both in by_model', async () => {
    const { svc, sim1, sim2 } = await twoProviders();
    const { status, body } = await postJson(`${svc.url}/v1/runs`, { input: 'Which is it, A or B?', replicates: 4, agent: { models: ['p1/m1', 'p2/m2'] } });
    expect(status).toBe(200);
    expect(body.status).toBe('succeeded');
    expect(modelRequests(sim1).map((r) => r.model)).toEqual(['m1', 'm1']);
    expect(modelRequests(sim2).map((r) => r.model)).toEqual(['m2', 'm2']);
    expect(body.bundle.replicates.map((r: { provider: string; model: string }) => `${r.provider}/${r.model}`)).toEqual(['p1/m1', 'p2/m2', 'p1/m1', 'p2/m2']);
    expect(Object.keys(body.bundle.by_model).sort()).toEqual(['p1/m1', 'p2/m2']);
    expect(body.bundle.by_model['p1/m1']).toMatchObject({ replicates: [0, 2], valid: 2 });
    expect(body.bundle.by_model['p2/m2']).toMatchObject({ replicates: [1, 3], valid: 2 });
    expect(body.bundle.by_model['p2/m2'].usage.total_tokens).toBeGreaterThan(0);
    // Cost lines are per provider and model too.
    expect(body.cost_breakdown.map((l: { provider: string; model: string }) => `${l.provider}/${l.model}`).sort()).toEqual(['p1/m1', 'p2/m2']);
  });

  it('spreads replicates by weight', async () => {
    const { svc, sim1, sim2 } = await twoProviders();
    const { body } = await postJson(`${svc.url}/v1/runs`, {
      input: 'weighted',
      replicates: 4,
      agent: { models: [{ model: 'p1/m1', weight: 3 }, { model: 'p2/m2', weight: 1 }] },
    });
    expect(body.status).toBe('succeeded');
    expect(modelRequests(sim1)).toHaveLength(3);
    expect(modelRequests(sim2)).toHaveLength(1);
  });

  it('weighs models in the consensus with merge.weights', async () => {
    const { svc, sim1, sim2 } = await twoProviders();
    sim1.configure({ answers: { kind: 'fixed', value: 'A' } });
    sim2.configure({ answers: { kind: 'fixed', value: 'B' } });
    const run = (weights?: Record<string, number>) =>
      postJson(`${svc.url}/v1/runs`, { input: 'A or B?', replicates: 3, agent: { models: ['p1/m1', 'p2/m2'] }, ...(weights ? { merge: { weights } } : {}) });
    // Unweighted: p1 has two replicates of three, its answer wins.
    expect((await run()).body.output).toBe('A');
    // p2's one replicate, weighed 5, outvotes p1's two.
    const weighted = (await run({ 'p2/m2': 5 })).body;
    expect(weighted.output).toBe('B');
    expect(weighted.bundle.summary.confidence).toBeCloseTo(5 / 7, 5);
  });

  it('sends a bare model to the default provider', async () => {
    const { svc, sim1, sim2 } = await twoProviders();
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'bare', replicates: 1, agent: { model: 'gpt-4o-mini' } });
    expect(body.bundle.replicates[0]).toMatchObject({ provider: 'p1', model: 'gpt-4o-mini' });
    expect(modelRequests(sim1)).toHaveLength(1);
    expect(modelRequests(sim2)).toHaveLength(0);
    expect(body.bundle.by_model).toBeUndefined();
  });

  it('lists the providers and their models on GET /v1/models, never a key', async () => {
    const { svc } = await twoProviders();
    const { status, body } = await getJson(`${svc.url}/v1/models`);
    expect(status).toBe(200);
    expect(body.object).toBe('list');
    expect(body.providers).toEqual([
      expect.objectContaining({ name: 'p1', default: true, api: 'chat_completions', models: ['m1'] }),
      expect.objectContaining({ name: 'p2', default: false, api: 'chat_completions', models: ['m2'] }),
    ]);
    expect(JSON.stringify(body)).not.toContain('sk-p2-secret');
  });
});

describe('per-provider limits', () => {
  it("holds a provider to its max_concurrency while another provider's calls go on", async () => {
    const { svc, sim1, sim2 } = await twoProviders('', '    max_concurrency: 1');
    // Slow enough answers that unbounded calls overlap.
    sim1.configure({ latencyMs: 100 });
    sim2.configure({ latencyMs: 30 });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'limits', replicates: 6, agent: { models: ['p1/m1', 'p2/m2'] } });
    expect(body.status).toBe('succeeded');
    expect(sim2.stats()).toMatchObject({ received: 3, maxInFlight: 1 });
    expect(sim1.stats().maxInFlight).toBeGreaterThan(1);
  });

  it("ends an attempt at the provider's timeout_ms with a timeout", async () => {
    const { svc, sim2 } = await twoProviders('', '    timeout_ms: 200\n    retry: { max_attempts: 1 }');
    sim2.configure({ faults: [{ type: 'hang' }] });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'slow', replicates: 1, agent: { model: 'p2/m2' } });
    expect(body.bundle.replicates[0]).toMatchObject({ status: 'failed', provider: 'p2', model: 'm2', attempts: 1 });
    expect(body.bundle.replicates[0].error.code).toBe('timeout');
  });
});

describe('fallbacks', () => {
  const hardFailing = '    retry: { max_attempts: 1 }\n    breaker: { consecutive_failures: 1, reset_ms: 600000 }';

  it('with p1 failing hard and its circuit open, a run on p1/m1 with fallback p2/m2 succeeds and says it fell back', async () => {
    const { svc, sim1, sim2 } = await twoProviders(hardFailing, '', { env: { BREAKER_WAIT_MS: '0' } });
    sim1.configure({ faultRate: { probability: 1, status: 500 } });
    const tripped = await postJson(`${svc.url}/v1/runs`, { input: 'trip p1', replicates: 1, agent: { model: 'p1/m1' } });
    expect(tripped.body.status).toBe('failed');
    expect((await getJson(`${svc.url}/readyz`)).body.checks.breakers.open).toBe(1);
    const sentToP1 = sim1.stats().received;

    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'fall back', replicates: 2, agent: { model: 'p1/m1', fallback_models: ['p2/m2'] } });
    expect(body.status).toBe('succeeded');
    for (const r of body.bundle.replicates) {
      expect(r).toMatchObject({ status: 'succeeded', valid: true, provider: 'p2', model: 'm2' });
      expect(r.fallbacks).toEqual([{ provider: 'p1', model: 'm1', reason: 'circuit_open' }]);
    }
    // The open circuit failed fast: p1 saw no request of this run.
    expect(sim1.stats().received).toBe(sentToP1);
    expect(modelRequests(sim2)).toHaveLength(2);
    expect(Object.keys(body.bundle.by_model)).toEqual(['p2/m2']);
    // Operators see the moves on /metrics, by the model left and why.
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/orchestrator_provider_fallbacks_total\{provider="p1",model="m1",reason="circuit_open"\} 2/);
  });

  it('moves on when a model keeps failing through its retries, and counts every attempt', async () => {
    const { svc, sim1, sim2 } = await twoProviders('    retry: { max_attempts: 2 }');
    sim1.configure({ faultRate: { probability: 1, status: 503 } });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'keeps failing', replicates: 1, agent: { model: 'p1/m1', fallback_models: ['p2/m2'] } });
    const [r] = body.bundle.replicates;
    expect(r).toMatchObject({ status: 'succeeded', provider: 'p2', model: 'm2', attempts: 3 });
    expect(r.fallbacks).toEqual([{ provider: 'p1', model: 'm1', reason: 'provider_error' }]);
    expect(sim1.stats().received).toBe(2);
    expect(modelRequests(sim2)).toHaveLength(1);
    // The retry kept its key; the fallback is another call, with a key of its own.
    const [first, retry] = modelRequests(sim1).map((q) => q.headers['idempotency-key']);
    expect(retry).toBe(first);
    expect(modelRequests(sim2)[0]!.headers['idempotency-key']).not.toBe(first);
  });

  it("takes a tool's own fallback_models when the request names none", async () => {
    const registry = await loadTools('tools');
    registry.register(
      defineTool({
        name: 'resilient',
        version: '1.0.0',
        description: 'Replicates on p1/m1, falling back to p2/m2 (test only).',
        input_schema: { type: 'object' },
        output_schema: {},
        tags: [],
        defaults: { agent: { model: 'p1/m1', fallback_models: ['p2/m2'] } },
        execute: (ctx) => ctx.replicate(),
      }),
    );
    const { svc, sim1 } = await twoProviders('    retry: { max_attempts: 1 }', '', { registry });
    sim1.configure({ faultRate: { probability: 1, status: 500 } });
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'resilient', input: 'x', replicates: 1 });
    expect(body.bundle.replicates[0]).toMatchObject({ status: 'succeeded', provider: 'p2', model: 'm2', fallbacks: [{ provider: 'p1', model: 'm1', reason: 'provider_error' }] });
  });

  it('does not move on for an error of the request itself (a 400 would fail anywhere)', async () => {
    const { svc, sim1, sim2 } = await twoProviders();
    sim1.configure({ faults: [{ type: 'status', status: 400 }] });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'bad', replicates: 1, agent: { model: 'p1/m1', fallback_models: ['p2/m2'] } });
    expect(body.bundle.replicates[0]).toMatchObject({ status: 'failed', provider: 'p1', model: 'm1' });
    expect(body.bundle.replicates[0].error.code).toBe('provider_error');
    expect(modelRequests(sim2)).toHaveLength(0);
  });

  it('a failed replicate names the last model tried and every one it left', async () => {
    const { svc, sim1, sim2 } = await twoProviders('    retry: { max_attempts: 1 }', '    retry: { max_attempts: 1 }');
    sim1.configure({ faultRate: { probability: 1, status: 500 } });
    sim2.configure({ faultRate: { probability: 1, status: 500 } });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'all down', replicates: 1, agent: { model: 'p1/m1', fallback_models: ['p2/m2'] } });
    expect(body.bundle.replicates[0]).toMatchObject({ status: 'failed', provider: 'p2', model: 'm2', attempts: 2, fallbacks: [{ provider: 'p1', model: 'm1', reason: 'provider_error' }] });
  });
});

describe('capability policies', () => {
  const schema = { type: 'object', properties: { answer: { type: 'string', enum: ['A', 'B'] } }, required: ['answer'], additionalProperties: false };

  it('sends no seed to a model declared without seed support, and warns on the replicate', async () => {
    const { svc, sim1, sim2 } = await twoProviders('    capabilities:\n      m1: { seed: false }');
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'seeded', replicates: 2, seed: 7, agent: { models: ['p1/m1', 'p2/m2'] } });
    expect(body.status).toBe('succeeded');
    const [toP1] = modelRequests(sim1);
    expect(toP1!.body).not.toHaveProperty('seed');
    // The model that takes seeds still gets its replicate's seed.
    expect(modelRequests(sim2)[0]!.seed).toBe(9);
    const [r0, r1] = body.bundle.replicates;
    expect(r0.warnings).toEqual(['seed not sent: the model does not accept one']);
    expect(r0.status).toBe('succeeded');
    expect(r1.warnings).toBeUndefined();
  });

  it('sends no temperature to a model that refuses one (a reasoning family, by default)', async () => {
    const { svc, sim1 } = await twoProviders();
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'warm', replicates: 1, agent: { model: 'p1/o3-mini', temperature: 0.7 } });
    expect(modelRequests(sim1)[0]!.body).not.toHaveProperty('temperature');
    expect(body.bundle.replicates[0].warnings).toContain('temperature not sent: the model does not accept one');
  });

  it('a model without json_schema still yields validated output, through JSON mode', async () => {
    const { svc, sim1 } = await twoProviders('    capabilities:\n      "m*": { json_schema: false }');
    sim1.configure({ answers: { kind: 'fixed', value: { answer: 'B' } } });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'A or B?', replicates: 2, agent: { model: 'p1/m1', output_schema: schema } });
    expect(body.status).toBe('succeeded');
    expect(body.output).toEqual({ answer: 'B' });
    const sent = modelRequests(sim1)[0]!.body as { response_format?: unknown; messages: Array<{ role: string; content: string }> };
    expect(sent.response_format).toEqual({ type: 'json_object' });
    // The schema travels in the instructions instead.
    expect(sent.messages[0]!.content).toContain('"enum":["A","B"]');
    expect(body.bundle.replicates[0].warnings).toEqual(['structured outputs not supported: JSON mode used, the schema is checked after the answer']);
  });

  it('a model with neither json_schema nor JSON mode gets the schema in the prompt, and its answer is still checked', async () => {
    const { svc, sim1 } = await twoProviders('    capabilities:\n      m1: { json_schema: false, json_object: false }');
    sim1.configure({ answers: { kind: 'sequence', values: ['```json\n{"answer": "A"}\n```', { answer: 'C' }] } });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'A or B?', replicates: 2, launch: { policy: 'waves', wave_size: 1 }, agent: { model: 'p1/m1', output_schema: schema } });
    expect(modelRequests(sim1)[0]!.body).not.toHaveProperty('response_format');
    const [fenced, wrong] = body.bundle.replicates;
    // A fenced JSON answer is read as JSON; a value outside the schema fails it as before.
    expect(fenced).toMatchObject({ valid: true, output: { answer: 'A' } });
    expect(wrong).toMatchObject({ valid: false, status: 'failed' });
    expect(wrong.error.code).toBe('schema_validation');
    expect(body.output).toEqual({ answer: 'A' });
  });
});

describe('per-call idempotency keys', () => {
  const keyOf = (r: { headers: Record<string, string | string[] | undefined> }) => r.headers['idempotency-key'];

  it('retries of one call carry the same Idempotency-Key; different replicates carry different ones', async () => {
    const { svc, sim1 } = await twoProviders();
    sim1.configure({ faults: [{ type: 'status', status: 500 }, { type: 'status', status: 500 }] });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'retried', replicates: 1 });
    expect(body.bundle.replicates[0].attempts).toBe(3);
    const keys = modelRequests(sim1).map(keyOf);
    expect(keys).toHaveLength(3);
    expect(typeof keys[0]).toBe('string');
    expect(new Set(keys).size).toBe(1);

    sim1.reset();
    await postJson(`${svc.url}/v1/runs`, { input: 'three replicates', replicates: 3 });
    const three = modelRequests(sim1).map(keyOf);
    expect(three).toHaveLength(3);
    expect(new Set(three).size).toBe(3);
    // A new run: new keys.
    expect(three).not.toContain(keys[0]);
  });

  it('derives the keys from the caller Idempotency-Key without forwarding it', async () => {
    const { svc, sim1 } = await twoProviders();
    await postJson(`${svc.url}/v1/runs`, { input: 'keyed', replicates: 2 }, { 'idempotency-key': 'caller-key-123' });
    const keys = modelRequests(sim1).map(keyOf);
    expect(new Set(keys).size).toBe(2);
    for (const k of keys) expect(String(k)).not.toContain('caller-key-123');
  });
});

describe('early stop, budgets and the synthesizer across models', () => {
  const priced = (model: string, input: number, output: number) => `    pricing:\n      ${model}: { input: ${input}, output: ${output} }`;

  it('stops early on agreement across models', async () => {
    const { svc, sim1, sim2 } = await twoProviders();
    sim1.configure({ answers: { kind: 'fixed', value: 'A' } });
    sim2.configure({ answers: { kind: 'fixed', value: 'A' } });
    const { body } = await postJson(`${svc.url}/v1/runs`, {
      input: 'agree',
      replicates: 8,
      agent: { models: ['p1/m1', 'p2/m2'] },
      early_stop: { quorum: 2 },
      launch: { policy: 'waves', wave_size: 2 },
    });
    expect(body.status).toBe('succeeded');
    expect(body.bundle.early_stop.triggered).toBe(true);
    // The first wave held one replicate of each model, and settled it.
    expect(modelRequests(sim1)).toHaveLength(1);
    expect(modelRequests(sim2)).toHaveLength(1);
    expect(body.bundle.by_model['p1/m1'].replicates).toEqual([0, 2, 4, 6]);
    expect(body.bundle.by_model['p1/m1'].valid).toBe(1);
  });

  it('prices each provider with its own table, and the cost lines add up', async () => {
    const { svc } = await twoProviders(priced('m1', 1, 2), priced('m2', 10, 20));
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'priced', replicates: 2, agent: { models: ['p1/m1', 'p2/m2'] } });
    const [r0, r1] = body.bundle.replicates;
    expect(r0.cost_usd).toBeGreaterThan(0);
    expect(r1.cost_usd).toBeGreaterThan(r0.cost_usd);
    const sum = body.cost_breakdown.reduce((s: number, l: { cost_usd: number }) => s + l.cost_usd, 0);
    expect(sum).toBeCloseTo(body.cost_usd, 9);
    expect(body.bundle.by_model['p2/m2'].cost_usd).toBe(r1.cost_usd);
  });

  it('reserves a call with fallbacks at its dearest model, so calls that fall back together stay within the cost budget', async () => {
    const hardFailing = '    retry: { max_attempts: 1 }\n    breaker: { consecutive_failures: 1, reset_ms: 600000 }';
    const { svc, sim1, sim2 } = await twoProviders(`${hardFailing}\n${priced('m1', 1, 2)}`, priced('m2', 1000, 2000), { env: { BREAKER_WAIT_MS: '0' } });
    sim1.configure({ faultRate: { probability: 1, status: 500 } });
    expect((await postJson(`${svc.url}/v1/runs`, { input: 'trip p1', replicates: 1, agent: { model: 'p1/m1' } })).body.status).toBe('failed');
    // 100 output tokens per answer, as many as each call reserves: a call on m2 costs ~$0.2, on m1 ~$0.0002.
    sim2.configure({ answers: { kind: 'fixed', value: 'x'.repeat(400) } });
    const budget = 0.3;
    const { body } = await postJson(`${svc.url}/v1/runs`, {
      input: 'fall back together',
      replicates: 4,
      budget: { max_cost_usd: budget },
      agent: { model: 'p1/m1', fallback_models: ['p2/m2'], max_output_tokens: 100 },
    });
    const costs: number[] = body.bundle.replicates.filter((r: { status: string }) => r.status === 'succeeded').map((r: { cost_usd: number }) => r.cost_usd);
    const one = Math.max(...costs);
    expect(one).toBeGreaterThan(0.15);
    // One call fits the budget, two do not: they went out one at a time, and only the last may cross it (alone).
    expect(body.status).toBe('budget_exceeded');
    expect(body.cost_usd).toBeLessThanOrEqual(budget + one);
    expect(modelRequests(sim2).length).toBeLessThanOrEqual(2);
  });

  it('refuses a cost budget when a panel or fallback model has no price', async () => {
    const { svc } = await twoProviders(priced('m1', 1, 2));
    const { status, body } = await postJson(`${svc.url}/v1/runs`, { input: 'x', replicates: 2, budget: { max_cost_usd: 1 }, agent: { model: 'p1/m1', fallback_models: ['p2/m2'] } });
    expect(status).toBe(400);
    expect(body.error.message).toContain('p2/m2');
  });

  it('runs the synthesizer on another provider', async () => {
    const { svc, sim1, sim2 } = await twoProviders();
    sim2.configure({ answers: { kind: 'fixed', value: 'synthesized' } });
    const { body } = await postJson(`${svc.url}/v1/runs`, { input: 'synth', replicates: 2, agent: { model: 'p1/m1' }, synthesize: { model: 'p2/m2' } });
    expect(body.status).toBe('succeeded');
    expect(body.output).toBe('synthesized');
    expect(modelRequests(sim1)).toHaveLength(2);
    expect(modelRequests(sim2)).toHaveLength(1);
    expect(body.cost_breakdown.map((l: { provider: string }) => l.provider).sort()).toEqual(['p1', 'p2']);
  });
});
