import { Agent, ModelRefusalError, OpenAIProvider, Runner } from '@openai/agents';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';
import { clientFor } from './helpers.ts';

let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

describe('refusal fault', () => {
  it('answers a Chat Completion whose message refuses, plain and streamed', async () => {
    const client = clientFor(sim);
    sim.configure({ faults: [{ type: 'refusal', refusal: 'No.' }, { type: 'refusal', refusal: 'No.' }] });
    const plain = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
    expect(plain.choices[0]!.message).toMatchObject({ content: null, refusal: 'No.' });
    let refusal = '';
    let content = '';
    for await (const chunk of await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], stream: true })) {
      refusal += chunk.choices[0]?.delta.refusal ?? '';
      content += chunk.choices[0]?.delta.content ?? '';
    }
    expect({ refusal, content }).toEqual({ refusal: 'No.', content: '' });
    expect(sim.stats()).toMatchObject({ received: 2, completed: 2, failed: 0 });
  });

  it('answers a Responses object with a refusal content part, plain and streamed', async () => {
    const client = clientFor(sim);
    sim.configure({ faults: [{ type: 'refusal' }, { type: 'refusal' }] });
    const plain = await client.responses.create({ model: 'gpt-4o-mini', input: 'x' });
    const message = plain.output[0] as { content: Array<{ type: string; refusal?: string }> };
    expect(message.content).toEqual([{ type: 'refusal', refusal: "I'm sorry, but I can't help with that." }]);
    const types: string[] = [];
    for await (const event of await client.responses.create({ model: 'gpt-4o-mini', input: 'x', stream: true })) types.push(event.type);
    expect(types).toContain('response.refusal.done');
    expect(types).not.toContain('response.output_text.delta');
  });

  it.each([false, true])('makes the Agents SDK raise ModelRefusalError (useResponses: %s)', async (useResponses) => {
    sim.configure({ faults: [{ type: 'refusal', refusal: 'Not that.' }] });
    const runner = new Runner({ modelProvider: new OpenAIProvider({ openAIClient: clientFor(sim), useResponses }), tracingDisabled: true });
    const error = await runner.run(new Agent({ name: 'a', model: 'gpt-4o-mini' }), 'x', { maxTurns: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelRefusalError);
    expect((error as ModelRefusalError).refusal).toBe('Not that.');
  });

  it('rejects an empty refusal text', () => {
    expect(() => sim.configure({ faults: [{ type: 'refusal', refusal: '' }] })).toThrow(/refusal/);
  });
});
