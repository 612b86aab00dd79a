import { Agent, tool } from '@openai/agents';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../src/config.ts';
import { ServiceError } from '../../src/errors.ts';
import { gatewayFromConfig, ModelCallError, type ModelCallRequest, type ModelGateway } from '../../src/providers/gateway.ts';
import { sdkPathOf } from '../../src/providers/singleTurn.ts';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';
import { postJson, withService } from '../helpers/service.ts';
import { until } from '../simulator/helpers.ts';

// Single-turn replicates go through the Agents SDK's model layer, agents with tools through its Runner:
// both paths drive the real SDK over HTTP to the simulator and must answer alike.

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim.close());
afterEach(() => sim.reset());

const trace = { trace_id: '0af7651916cd43dd8448eb211cae19d1', parent_span_id: null, flags: '01', request_id: 'req-1' };
const lookup = tool({ name: 'lookup', description: 'Looks a word up.', parameters: z.object({ word: z.string() }), execute: async ({ word }) => word });

function gatewayFor(api: 'chat_completions' | 'responses'): ModelGateway {
  const config = loadConfig({ OPENAI_API: api, RETRY_MAX_ATTEMPTS: '1' });
  return gatewayFromConfig(config, { provider: 'simulator', baseURL: sim.url, apiKey: 'sk-test', logger: pino({ level: 'silent' }) });
}

const call = (gateway: ModelGateway, extra: Partial<ModelCallRequest> = {}) =>
  gateway.call({ model: 'gpt-4o-mini', input: 'Is the sky blue?', seed: 7, signal: new AbortController().signal, trace, ...extra });

async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelCallError);
  return (error as ModelCallError).error;
}

describe('which layer of the Agents SDK answers', () => {
  it('takes the model layer only for an agent the Runner would have nothing to do for', () => {
    expect(sdkPathOf(new Agent({ name: 'a', instructions: 'x' }))).toBe('model');
    expect(sdkPathOf(new Agent({ name: 'a', tools: [lookup] }))).toBe('runner');
    expect(sdkPathOf(new Agent({ name: 'a', handoffs: [new Agent({ name: 'b' })] }))).toBe('runner');
    expect(sdkPathOf(new Agent({ name: 'a', outputGuardrails: [{ name: 'g', execute: async () => ({ tripwireTriggered: false, outputInfo: null }) }] }))).toBe('runner');
  });
});

describe.each(['chat_completions', 'responses'] as const)('single-turn replicates over %s', (api) => {
  const path = api === 'responses' ? '/v1/responses' : '/v1/chat/completions';

  it('answer on the model layer without tools and on the Runner with them, both labelled openai_agents, with the same answer', async () => {
    const gateway = gatewayFor(api);
    try {
      const schema = { type: 'object', properties: { answer: { type: 'string', enum: ['yes', 'no'] }, confidence: { type: 'number', minimum: 0, maximum: 1 } }, required: ['answer', 'confidence'] };
      // The Responses API takes no seed: a fixed answer, so the two paths can be compared on both APIs.
      sim.configure({ answers: { kind: 'fixed', value: { answer: 'no', confidence: 0.25 } } });
      const single = await call(gateway, { outputSchema: schema });
      const singleBody = sim.requests.at(-1)?.body as Record<string, unknown>;
      const runner = await call(gateway, { outputSchema: schema, tools: [lookup] });
      const runnerBody = sim.requests.at(-1)?.body as Record<string, unknown>;

      expect(single).toMatchObject({ runtime: 'openai_agents', sdk_path: 'model', provider: 'simulator', attempts: 1 });
      expect(runner).toMatchObject({ runtime: 'openai_agents', sdk_path: 'runner', provider: 'simulator', attempts: 1 });
      expect(sim.requests.at(-1)?.path).toBe(path);
      expect(single.output).toEqual({ answer: 'no', confidence: 0.25 });
      expect(runner.output).toEqual(single.output);
      expect(single.usage.total_tokens).toBeGreaterThan(0);
      expect(single.usage).toEqual(runner.usage);
      expect(singleBody.tools ?? []).toHaveLength(0);
      expect(runnerBody.tools).toHaveLength(1);
      // The request the model layer sends is the Runner's, tools aside.
      const withoutTools = ({ tools: _t, tool_choice: _c, parallel_tool_calls: _p, ...rest }: Record<string, unknown>) => rest;
      expect(withoutTools(singleBody)).toEqual(withoutTools(runnerBody));
    } finally {
      await gateway.close();
    }
  });

  it('answers free text, and a non-object root schema unwrapped', async () => {
    const gateway = gatewayFor(api);
    try {
      const text = await call(gateway, { instructions: 'Answer briefly.' });
      expect(text.sdk_path).toBe('model');
      expect(typeof text.output).toBe('string');
      expect((text.output as string).length).toBeGreaterThan(0);
      const list = await call(gateway, { outputSchema: { type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 2 } });
      expect(list.sdk_path).toBe('model');
      expect(Array.isArray(list.output) && list.output.every(Number.isInteger) && list.output.length === 2).toBe(true);
    } finally {
      await gateway.close();
    }
  });

  it('maps a refusal and an answer that is not JSON to the same errors on both paths', async () => {
    const gateway = gatewayFor(api);
    try {
      const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };
      const refusals = [];
      for (const tools of [undefined, [lookup]]) {
        sim.configure({ faults: [{ type: 'refusal', refusal: 'I will not.' }] });
        refusals.push(await failure(call(gateway, { outputSchema: schema, tools })));
      }
      for (const error of refusals) expect(error).toMatchObject({ code: 'provider_error', retryable: false, details: { reason: 'model_refusal', refusal: 'I will not.' } });

      sim.configure({ answers: { kind: 'fixed', value: 'not json {' }, faults: [] });
      const invalid = [await failure(call(gateway, { outputSchema: schema })), await failure(call(gateway, { outputSchema: schema, tools: [lookup] }))];
      for (const error of invalid) expect(error.code).toBe('schema_validation');
    } finally {
      await gateway.close();
    }
  });

  it('aborts the in-flight request on the model layer when the run is cancelled', async () => {
    const gateway = gatewayFor(api);
    try {
      sim.configure({ faults: [{ type: 'hang' }] });
      const controller = new AbortController();
      const pending = call(gateway, { signal: controller.signal });
      await until(() => sim.requests.at(-1)?.outcome === 'pending');
      controller.abort(new ServiceError('cancelled', 'run cancelled'));
      const error = await failure(pending);
      expect(error.code).toBe('cancelled');
      await until(() => sim.requests.at(-1)?.outcome === 'aborted');
    } finally {
      await gateway.close();
    }
  });
});

describe('a run over HTTP', () => {
  it('labels every replicate with the runtime that answered it', async () => {
    await withService({}, async (svc) => {
      const res = await postJson(`${svc.url}/v1/runs`, { input: 'Is the sky blue?', tool: 'bundle', replicates: 3 });
      expect(res.status).toBe(200);
      const replicates = res.body.bundle.replicates as Array<{ status: string; runtime?: string }>;
      expect(replicates).toHaveLength(3);
      for (const r of replicates) expect(r).toMatchObject({ status: 'succeeded', runtime: 'openai_agents' });
      expect(svc.sim.requests.filter((r) => r.path === '/v1/chat/completions')).toHaveLength(3);
    });
  });
});
