import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { startSimulator, type SimulatorBehavior } from '../../src/providers/simulator/index.ts';
import { parseDeclarativeTool, toToolDefinition } from '../../src/toolkit/declarative.ts';
import { declarativeOptions, loadTools } from '../../src/toolkit/loader.ts';
import type { ToolRegistry } from '../../src/toolkit/registry.ts';
import { docExamples } from '../helpers/docExamples.ts';
import { postJson, startTestService, type TestService } from '../helpers/service.ts';
import { postStream } from '../helpers/sse.ts';
import { waitFor } from '../helpers/waitFor.ts';

/*
 * Handoffs end to end: docs/handoffs.md's own example tool and request, run
 * by the real service over HTTP against the simulator, with the Agents SDK
 * handing the conversation from one agent to the next.
 */

const yamlExamples = docExamples('docs/handoffs.md', 'yaml');
const jsonExamples = docExamples('docs/handoffs.md', 'json');
const DOC_TOOL = yamlExamples.get('tool') as string;
const DOC_REQUEST = JSON.parse(jsonExamples.get('request') as string) as Record<string, unknown>;
const BILLING_INSTRUCTIONS = (parseYaml(DOC_TOOL) as { agents: Array<{ name: string; instructions: string }> }).agents.find((a) => a.name === 'billing')!.instructions;

/** The doc's simulator script: turn 0 (the front desk) hands over to billing; turn 1 (billing, whose conversation holds the transfer's result) answers. */
const DOC_SIMULATOR = JSON.parse(jsonExamples.get('simulator') as string) as Partial<SimulatorBehavior>;
const ANSWER = { team: 'billing', answer: 'We refunded the second charge.' };
/** Fixed usage per model call, so every turn's tokens can be counted. */
const HAND_TO_BILLING: Partial<SimulatorBehavior> = { ...DOC_SIMULATOR, usage: { inputTokens: 20, outputTokens: 10 } };

/** The service's tools plus declarative `extra` tools (YAML), built on the configuration `env` gives. */
async function registryWith(env: Record<string, string>, extra: Record<string, string>): Promise<ToolRegistry> {
  const options = declarativeOptions(loadConfig(env));
  const registry = await loadTools('tools', options);
  for (const [source, yaml] of Object.entries(extra)) registry.register(toToolDefinition(parseDeclarativeTool(parseYaml(yaml), source), source, options));
  return registry;
}

async function startWith(env: Record<string, string>, extra: Record<string, string>, spanExporter?: InMemorySpanExporter): Promise<TestService> {
  return startTestService({ env, registry: await registryWith(env, extra), ...(spanExporter ? { spanExporter } : {}) });
}

/** A system message of a recorded chat request. */
function systemText(body: any): string {
  const system = (body?.messages ?? []).find((m: any) => m.role === 'system');
  return typeof system?.content === 'string' ? system.content : JSON.stringify(system?.content ?? '');
}

const spanId = (s: ReadableSpan) => s.spanContext().spanId;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe('handoffs with HANDOFFS=on (docs/handoffs.md example)', () => {
  const exporter = new InMemorySpanExporter();
  let svc: TestService;
  beforeAll(async () => {
    svc = await startWith({ HANDOFFS: 'on' }, { 'docs/handoffs.md': DOC_TOOL }, exporter);
  });
  afterAll(async () => svc.close());
  beforeEach(() => {
    svc.sim.reset();
    exporter.reset();
  });

  it('the doc has the examples this test runs', () => {
    expect([...yamlExamples.keys()]).toEqual(['tool']);
    expect([...jsonExamples.keys()].sort()).toEqual(['request', 'simulator']);
  });

  it('the front desk hands the task to billing: the simulator sees billing’s request, the stream a handoff event per replicate', async () => {
    svc.sim.configure(HAND_TO_BILLING);
    const { status, frames } = await postStream(svc.url, DOC_REQUEST);
    expect(status).toBe(200);

    // Two replicates (the tool's default), each a conversation of two model calls.
    const requests = svc.sim.requests.filter((r) => r.path.endsWith('/chat/completions'));
    expect(requests).toHaveLength(4);
    const billing = requests.filter((r) => systemText(r.body).includes(BILLING_INSTRUCTIONS));
    expect(billing).toHaveLength(2);
    for (const r of billing) {
      // Billing got the conversation so far: the question, the transfer call and its result.
      const messages = (r.body as any).messages as any[];
      expect(messages.some((m) => m.role === 'user' && String(m.content).includes('charged twice'))).toBe(true);
      expect(messages.some((m) => m.role === 'assistant' && m.tool_calls?.[0]?.function?.name === 'transfer_to_billing')).toBe(true);
      expect(messages.some((m) => m.role === 'tool')).toBe(true);
    }
    // The front desk's requests offered the transfer functions; billing (no handoffs of its own) none.
    const desk = requests.filter((r) => !billing.includes(r));
    for (const r of desk) expect(((r.body as any).tools ?? []).map((t: any) => t.function.name).sort()).toEqual(['transfer_to_billing', 'transfer_to_tech_support']);

    const handoffs = frames.filter((f) => f.event === 'handoff').map((f) => f.data);
    expect(handoffs).toHaveLength(2);
    expect(handoffs.map((h) => h.source).sort()).toEqual(['replicate:0', 'replicate:1']);
    for (const h of handoffs) {
      expect(h).toMatchObject({ type: 'handoff', tool: 'support_desk', from: 'support_desk', to: 'billing', turn: 1, provider: 'simulator' });
      const done = frames.findIndex((f) => f.event === 'replicate_done' && f.data.source === h.source);
      expect(frames.findIndex((f) => f.data?.seq === h.seq)).toBeLessThan(done);
    }

    const result = frames.at(-1)!.data.result;
    expect(result.status).toBe('succeeded');
    expect(result.output).toEqual(ANSWER);
    // Every turn is counted: 2 turns × 30 tokens per replicate.
    for (const r of result.bundle.replicates) {
      expect(r).toMatchObject({ status: 'succeeded', output: ANSWER, attempts: 2 });
      expect(r.usage).toEqual({ input_tokens: 40, output_tokens: 20, total_tokens: 60 });
    }
    expect(result.usage).toEqual({ input_tokens: 80, output_tokens: 40, total_tokens: 120 });
    expect(result.budget.used.tokens).toBe(120);
  });

  it('on a model that cannot enforce a schema, every agent of the conversation is given the schema, and the answer is still validated', async () => {
    svc.sim.configure(HAND_TO_BILLING);
    // o1-mini's family takes neither json_schema nor JSON mode: the schema goes in the instructions.
    const request = { ...DOC_REQUEST, stream: false, agent: { ...((DOC_REQUEST.agent as object | undefined) ?? {}), model: 'o1-mini' } };
    const { body } = await postJson(`${svc.url}/v1/runs`, request);
    expect(body.status).toBe('succeeded');
    expect(body.output).toEqual(ANSWER);
    const requests = svc.sim.requests.filter((r) => r.path.endsWith('/chat/completions'));
    expect(requests).toHaveLength(4);
    for (const r of requests) {
      expect((r.body as any).response_format).toBeUndefined();
      expect(systemText(r.body)).toContain('follows this JSON Schema');
    }
    // Billing's own instructions are kept, the schema appended after them.
    expect(requests.filter((r) => systemText(r.body).includes(BILLING_INSTRUCTIONS))).toHaveLength(2);
  });

  it('each transfer is a handoff span under its replicate, and the receiving agent’s provider call is under it', async () => {
    svc.sim.configure(HAND_TO_BILLING);
    const { body } = await postJson(`${svc.url}/v1/runs`, { ...DOC_REQUEST, stream: false, replicates: 1 });
    expect(body.status).toBe('succeeded');
    const run = await waitFor(() => exporter.getFinishedSpans().find((s) => s.name === 'run' && s.attributes['run.id'] === body.id), { what: 'the run span' });
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === run.spanContext().traceId);
    const [replicate] = spans.filter((s) => s.name === 'replicate');
    const handoffs = spans.filter((s) => s.name === 'handoff');
    expect(handoffs).toHaveLength(1);
    const handoff = handoffs[0]!;
    expect(parentOf(handoff)).toBe(spanId(replicate!));
    // Its usage is billing's one turn (the fixed 20 + 10 tokens of the simulator).
    expect(handoff.attributes).toMatchObject({
      'handoff.from': 'support_desk',
      'handoff.to': 'billing',
      'handoff.turn': 1,
      'gen_ai.agent.name': 'billing',
      'gen_ai.usage.input_tokens': 20,
      'gen_ai.usage.output_tokens': 10,
    });
    expect(handoff.status.code).toBe(1); // OK
    const calls = spans.filter((s) => s.name === 'provider_call');
    expect(calls.map((c) => [c.attributes['gen_ai.agent.name'], c.attributes['handoff.turn']])).toEqual(
      expect.arrayContaining([
        ['support_desk', 1],
        ['billing', 2],
      ]),
    );
    expect(parentOf(calls.find((c) => c.attributes['gen_ai.agent.name'] === 'support_desk')!)).toBe(spanId(replicate!));
    expect(parentOf(calls.find((c) => c.attributes['gen_ai.agent.name'] === 'billing')!)).toBe(spanId(handoff));
  });

  it('cancelling during the second agent’s turn aborts its request, and the run ends cancelled', async () => {
    svc.sim.configure({ ...HAND_TO_BILLING, latencyMs: { sequence: [0, 60_000] } });
    const started = await postJson(`${svc.url}/v1/runs`, { ...DOC_REQUEST, stream: false, background: true, replicates: 1 });
    expect(started.status).toBe(202);
    await waitFor(() => svc.sim.stats().received === 2 && svc.sim.stats().inFlight === 1, { what: 'billing’s request in flight' });
    expect(systemText(svc.sim.requests[1]!.body)).toContain(BILLING_INSTRUCTIONS);
    const cancel = await postJson(`${svc.url}/v1/runs/${started.body.id}/cancel`, {});
    expect(cancel.status).toBe(200);
    await waitFor(() => svc.sim.stats().aborted === 1, { what: 'billing’s request aborted' });
    const run = await waitFor(async () => {
      const r = await fetch(`${svc.url}/v1/runs/${started.body.id}`).then((res) => res.json());
      return r.status !== 'running' && r.status !== 'queued' && r;
    }, { what: 'the run ending' });
    expect(run.status).toBe('cancelled');
    // The front desk's answered turn is still counted.
    expect(run.usage.total_tokens).toBe(30);
  });

  it('a turn the budget cannot cover is never sent: the run ends budget_exceeded with the first turn charged', async () => {
    svc.sim.configure({ ...HAND_TO_BILLING, usage: { inputTokens: 30, outputTokens: 10 } });
    const { status, body } = await postJson(`${svc.url}/v1/runs`, { ...DOC_REQUEST, stream: false, replicates: 1, budget: { max_tokens: 60 } });
    expect(status).toBe(200);
    expect(body.status).toBe('budget_exceeded');
    expect(svc.sim.stats().received).toBe(1);
    expect(body.usage.total_tokens).toBe(40);
    expect(body.bundle.replicates[0].usage.total_tokens).toBe(40);
  });
});

describe('handoffs on a provider other than the default', () => {
  it("charges every turn to the provider that answered it: the run's cost lines name p2, never the default p1", async () => {
    const sim2 = await startSimulator({});
    const env = { HANDOFFS: 'on' };
    const svc = await startTestService({
      env,
      registry: await registryWith(env, { 'docs/handoffs.md': DOC_TOOL }),
      providersYaml: `default: p1\nproviders:\n  - name: p1\n    base_url: \${SIM}\n    models: [m1]\n  - name: p2\n    base_url: ${sim2.url}\n    models: [m2]\n`,
    });
    try {
      sim2.configure(HAND_TO_BILLING);
      const { frames } = await postStream(svc.url, { ...DOC_REQUEST, replicates: 1, agent: { ...((DOC_REQUEST.agent as object | undefined) ?? {}), model: 'p2/m2' } });
      const body = frames.at(-1)!.data.result;
      expect(body.status).toBe('succeeded');
      // The transfer is named by the provider and model that held the conversation.
      expect(frames.filter((f) => f.event === 'handoff').map((f) => f.data)).toMatchObject([{ from: 'support_desk', to: 'billing', provider: 'p2', model: 'm2' }]);
      expect(svc.sim.stats().received).toBe(0);
      expect(sim2.stats().received).toBe(2);
      expect(body.cost_breakdown.map((l: { provider: string; model: string }) => `${l.provider}/${l.model}`)).toEqual(['p2/m2']);
      // Two turns of 30 tokens, on the replicate and on the run alike.
      expect(body.usage.total_tokens).toBe(60);
      expect(body.bundle.replicates[0]).toMatchObject({ provider: 'p2', model: 'm2', usage: { total_tokens: 60 } });
    } finally {
      await svc.close();
      await sim2.close();
    }
  });
});

describe('handoffs on the Responses API (OPENAI_API=responses)', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startWith({ HANDOFFS: 'on', OPENAI_API: 'responses' }, { 'docs/handoffs.md': DOC_TOOL });
  });
  afterAll(async () => svc.close());

  it('hands the task to billing too: billing’s request carries the transfer’s result', async () => {
    svc.sim.configure(HAND_TO_BILLING);
    const { frames } = await postStream(svc.url, { ...DOC_REQUEST, replicates: 1 });
    expect(frames.filter((f) => f.event === 'handoff').map((f) => [f.data.from, f.data.to])).toEqual([['support_desk', 'billing']]);
    const requests = svc.sim.requests.filter((r) => r.path.endsWith('/responses'));
    expect(requests).toHaveLength(2);
    const billing = requests[1]!.body as any;
    expect(billing.instructions).toBe(BILLING_INSTRUCTIONS);
    expect(billing.input.some((item: any) => item.type === 'function_call_output')).toBe(true);
    expect(frames.at(-1)!.data.result).toMatchObject({ status: 'succeeded', output: ANSWER });
  });
});

describe('bounded turns', () => {
  // Two agents that only ever hand the task back and forth.
  const PING_PONG = `
name: ping_pong
version: 1.0.0
description: Two agents that hand the task back and forth.
handoffs: true
instructions: Hand the task to pong.
agents:
  - name: pong
    instructions: Hand the task back to ping_pong.
    handoffs: [ping_pong]
max_turns: 3
defaults:
  replicates: 1
`;
  let svc: TestService;
  beforeAll(async () => {
    svc = await startWith({ HANDOFFS: 'on' }, { 'test/ping_pong.yaml': PING_PONG });
  });
  afterAll(async () => svc.close());

  it('agents that never answer stop after max_turns model calls, every one of them charged', async () => {
    svc.sim.configure({
      answers: {
        kind: 'script',
        when: 'always',
        turns: [{ tool_call: { name: 'transfer_to_pong' } }, { tool_call: { name: 'transfer_to_ping_pong' } }, { tool_call: { name: 'transfer_to_pong' } }, { text: 'never reached' }],
      },
      usage: { inputTokens: 5, outputTokens: 5 },
    });
    const { status, frames } = await postStream(svc.url, { tool: 'ping_pong', input: 'go' });
    expect(status).toBe(200);
    expect(svc.sim.stats().received).toBe(3);
    expect(frames.filter((f) => f.event === 'handoff').map((f) => [f.data.from, f.data.to, f.data.turn])).toEqual([
      ['ping_pong', 'pong', 1],
      ['pong', 'ping_pong', 2],
      ['ping_pong', 'pong', 3],
    ]);
    const result = frames.at(-1)!.data.result;
    const [replicate] = result.bundle.replicates;
    expect(replicate.status).toBe('failed');
    expect(replicate.error).toMatchObject({ code: 'provider_error', details: { reason: 'max_turns', max_turns: 3 } });
    expect(replicate.usage.total_tokens).toBe(30);
    expect(result.usage.total_tokens).toBe(30);
  });
});

describe('handoffs with HANDOFFS off (the default)', () => {
  // A pipeline whose second step is the handoff tool: nothing runs it without its handoffs either.
  const PIPELINE = `
name: desk_pipeline
version: 1.0.0
description: Sentiment first, then the support desk.
kind: pipeline
steps:
  - tool: sentiment
    replicates: 1
  - tool: support_desk
    input: "{{input}}"
`;
  let svc: TestService;
  beforeAll(async () => {
    svc = await startWith({}, { 'docs/handoffs.md': DOC_TOOL, 'test/desk_pipeline.yaml': PIPELINE });
  });
  afterAll(async () => svc.close());

  it.each([
    ['JSON', { ...DOC_REQUEST, stream: false }],
    ['a stream', DOC_REQUEST],
    ['a background run', { ...DOC_REQUEST, stream: false, background: true }],
  ])('refuses %s with 400 handoffs_disabled naming the flag, and calls no provider', async (_name, request) => {
    svc.sim.reset();
    svc.sim.configure(HAND_TO_BILLING);
    const { status, body } = await postJson(`${svc.url}/v1/runs`, request);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'handoffs_disabled', retryable: false });
    expect(body.error.message).toContain('HANDOFFS=on');
    expect(body.error.message).toContain('support_desk');
    expect(svc.sim.stats().received).toBe(0);
    const list = await fetch(`${svc.url}/v1/runs?tool=support_desk`).then((r) => r.json());
    expect(list.data).toEqual([]);
  });

  it('a composite with a handoff step fails at that step with handoffs_disabled, and its agents make no call', async () => {
    svc.sim.reset();
    const { status, body } = await postJson(`${svc.url}/v1/runs`, { tool: 'desk_pipeline', input: 'I was charged twice.' });
    expect(status).toBe(200);
    expect(body.status).toBe('failed');
    expect(body.error).toMatchObject({ code: 'handoffs_disabled' });
    // Only the sentiment step's one replicate reached the provider.
    expect(svc.sim.stats().received).toBe(1);
  });

  it('other tools still run', async () => {
    svc.sim.reset();
    const { body } = await postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: 'still fine', replicates: 1 });
    expect(body.status).toBe('succeeded');
  });
});
