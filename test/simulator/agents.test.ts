import { Agent, OpenAIProvider, Runner } from '@openai/agents';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';
import { clientFor, gradeSchema, schemaErrors } from './helpers.ts';

let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

function runnerFor(useResponses: boolean): Runner {
  return new Runner({ modelProvider: new OpenAIProvider({ openAIClient: clientFor(sim), useResponses }), tracingDisabled: true });
}

function grader() {
  return new Agent({
    name: 'grader',
    instructions: 'Grade the answer.',
    model: 'gpt-4o-mini',
    outputType: { type: 'json_schema', name: 'output', strict: false, schema: gradeSchema },
    modelSettings: { providerData: { seed: 7 } },
  });
}

describe.each([
  { api: 'chat completions', useResponses: false, path: '/v1/chat/completions' },
  { api: 'responses', useResponses: true, path: '/v1/responses' },
])('@openai/agents over $api', ({ useResponses, path }) => {
  it('parses a json_schema finalOutput from the simulator, with usage and the seed on the wire', async () => {
    const runner = runnerFor(useResponses);
    const result = await runner.run(grader(), 'Is 2 + 2 = 4?');
    expect(schemaErrors(gradeSchema, result.finalOutput)).toBeNull();
    expect(result.state.usage.inputTokens).toBeGreaterThan(0);
    expect(result.state.usage.outputTokens).toBeGreaterThan(0);
    expect(result.rawResponses).toHaveLength(1);

    const [rec] = sim.requests;
    expect(rec).toMatchObject({ path, seed: 7, model: 'gpt-4o-mini', outcome: 'completed' });
    const body = rec?.body as Record<string, unknown>;
    if (useResponses) {
      expect(body.text).toMatchObject({ format: { type: 'json_schema', name: 'output', strict: false, schema: gradeSchema } });
      expect(body.instructions).toBe('Grade the answer.');
    } else {
      expect(body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'output', strict: false, schema: gradeSchema } });
      expect(body.messages).toEqual([
        { role: 'system', content: 'Grade the answer.' },
        { role: 'user', content: 'Is 2 + 2 = 4?' },
      ]);
    }

    const again = await runner.run(grader(), 'Is 2 + 2 = 4?');
    expect(again.finalOutput).toEqual(result.finalOutput);
  });

  it('returns plain text output when the agent has no outputType', async () => {
    const agent = new Agent({ name: 'chat', instructions: 'Answer briefly.', model: 'gpt-4o-mini' });
    const result = await runnerFor(useResponses).run(agent, 'What colour is the sky?');
    expect(typeof result.finalOutput).toBe('string');
    expect(result.finalOutput?.length).toBeGreaterThan(0);
    expect(result.state.usage.totalTokens).toBeGreaterThan(0);
    expect(sim.requests[0]?.seed).toBeNull();
  });

  it('streams a run to the same final output as the non-streamed run', async () => {
    const runner = runnerFor(useResponses);
    const plain = await runner.run(grader(), 'Is the earth flat?');
    const streamed = await runner.run(grader(), 'Is the earth flat?', { stream: true });
    let textDeltas = '';
    for await (const ev of streamed.toTextStream()) textDeltas += ev;
    await streamed.completed;
    expect(streamed.finalOutput).toEqual(plain.finalOutput);
    expect(JSON.parse(textDeltas)).toEqual(plain.finalOutput);
    expect(streamed.state.usage.outputTokens).toBeGreaterThan(0);
    const body = sim.requests[1]?.body as Record<string, unknown>;
    expect(body.stream).toBe(true);
    if (!useResponses) expect(body.stream_options).toEqual({ include_usage: true });
  });
});
