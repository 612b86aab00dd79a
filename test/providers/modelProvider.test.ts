import { Agent, OpenAIChatCompletionsModel, OpenAIProvider, OpenAIResponsesModel, Runner } from '@openai/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoundedModelProvider } from '../../src/providers/modelProvider.ts';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';
import { clientFor } from '../simulator/helpers.ts';
import { collect } from '../helpers/gc.ts';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim.close());

describe('BoundedModelProvider', () => {
  it.each([
    { api: 'chat completions', useResponses: false, path: '/v1/chat/completions', type: OpenAIChatCompletionsModel },
    { api: 'responses', useResponses: true, path: '/v1/responses', type: OpenAIResponsesModel },
  ])('runs an Agents SDK agent over $api', async ({ useResponses, path, type }) => {
    const provider = new BoundedModelProvider({ client: clientFor(sim), useResponses });
    expect(provider.getModel('gpt-4o-mini')).toBeInstanceOf(type);
    const runner = new Runner({ modelProvider: provider, tracingDisabled: true });
    const result = await runner.run(new Agent({ name: 'a', instructions: '', model: 'gpt-4o-mini' }), 'Capital of France?');
    expect(typeof result.finalOutput).toBe('string');
    expect(sim.requests.at(-1)?.path).toBe(path);
  });

  it('reuses the wrappers of recent models and keeps at most maxModels of them', () => {
    const provider = new BoundedModelProvider({ client: clientFor(sim), useResponses: false, maxModels: 3 });
    const a = provider.getModel('a');
    expect(provider.getModel('a')).toBe(a);
    for (const name of ['b', 'c', 'a', 'd']) provider.getModel(name); // b is the least recent when d arrives
    expect(provider.size).toBe(3);
    expect(provider.getModel('a')).toBe(a);
  });

  it('lets go of the wrappers of models it no longer holds, where the SDK provider keeps one per model name for good', async () => {
    const bounded = new BoundedModelProvider({ client: clientFor(sim), useResponses: false, maxModels: 10 });
    const sdk = new OpenAIProvider({ openAIClient: clientFor(sim), useResponses: false });
    const first = { bounded: new WeakRef(bounded.getModel('model-0')), sdk: new WeakRef(await sdk.getModel('model-0')) };
    // Requests may name any model: every distinct name is another wrapper.
    for (let i = 1; i <= 50; i++) {
      bounded.getModel(`model-${i}`);
      await sdk.getModel(`model-${i}`);
    }
    await collect();
    expect(first.bounded.deref()).toBeUndefined();
    expect(bounded.size).toBe(10);
    // Why the service does not use OpenAIProvider (@openai/agents 0.20): its cache has no bound.
    expect(first.sdk.deref()).toBeDefined();
  });
});
