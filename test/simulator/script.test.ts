import { Agent, OpenAIProvider, Runner } from '@openai/agents';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';
import { clientFor, rootOf } from './helpers.ts';

let sim: Simulator;
let client: OpenAI;

beforeAll(async () => {
  sim = await startSimulator();
  client = clientFor(sim);
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const weather = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
const script = {
  kind: 'script' as const,
  turns: [{ tool_call: { name: 'get_weather', arguments: { city: 'Paris' } } }, { text: 'It is sunny in Paris.' }],
};

describe('scripted agent turns (answers.kind = script)', () => {
  it('chat completions: a tool call first, then text once the tool result is in the conversation', async () => {
    sim.configure({ answers: script });
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools: [weather] });
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' && call.function).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });

    messages.push(first.choices[0]?.message as OpenAI.Chat.Completions.ChatCompletionMessageParam, { role: 'tool', tool_call_id: call?.id as string, content: '21°C, clear' });
    const second = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, tools: [weather] });
    expect(second.choices[0]?.message.content).toBe('It is sunny in Paris.');
    expect(second.choices[0]?.finish_reason).toBe('stop');

    // A request without tools is not an agent turn: it gets the fallback (auto) answer.
    const plain = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather in Paris?' }] });
    expect(plain.choices[0]?.message.tool_calls).toBeUndefined();
    expect(plain.choices[0]?.message.content).not.toBe('It is sunny in Paris.');
  });

  it('chat completions, streamed: the SDK assembles the tool call from its deltas', async () => {
    sim.configure({ answers: script });
    const stream = client.chat.completions.stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather?' }], tools: [weather] });
    const final = await stream.finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && call.function).toMatchObject({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it.each([{ stream: false }, { stream: true }])('responses (stream: $stream): a function_call item, then text after its output', async ({ stream }) => {
    sim.configure({ answers: script });
    const tools = [{ type: 'function' as const, name: 'get_weather', parameters: weather.function.parameters, strict: false }];
    const first = stream
      ? await client.responses.stream({ model: 'gpt-4o-mini', input: 'Weather in Paris?', tools }).finalResponse()
      : await client.responses.create({ model: 'gpt-4o-mini', input: 'Weather in Paris?', tools });
    const item = first.output[0];
    expect(item).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '{"city":"Paris"}', call_id: expect.stringMatching(/^call_/) });
    const callId = (item as { call_id: string }).call_id;
    const second = await client.responses.create({
      model: 'gpt-4o-mini',
      input: [{ role: 'user', content: 'Weather in Paris?' }, item as OpenAI.Responses.ResponseFunctionToolCall, { type: 'function_call_output', call_id: callId, output: '21°C' }],
      tools,
    });
    expect(second.output_text).toBe('It is sunny in Paris.');
  });

  it('concurrent conversations each follow the script (turns key on the conversation, not on arrival order)', async () => {
    sim.configure({ answers: script });
    const opening = () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather?' }], tools: [weather] });
    const firsts = await Promise.all([opening(), opening(), opening()]);
    expect(firsts.map((c) => c.choices[0]?.finish_reason)).toEqual(['tool_calls', 'tool_calls', 'tool_calls']);
  });

  it('when: always scripts requests without tools too; turns past the end fall back', async () => {
    sim.configure({ answers: { kind: 'script', when: 'always', turns: [{ value: { step: 1 } }], fallback: { kind: 'fixed', value: 'done' } } });
    const first = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'go' }] });
    expect(first.choices[0]?.message.content).toBe('{"step":1}');
    const later = await client.chat.completions.create({
      model: 'm',
      messages: [
        { role: 'user', content: 'go' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'x', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'ok' },
      ],
    });
    expect(later.choices[0]?.message.content).toBe('done');
  });

  it.each([{ useResponses: false }, { useResponses: true }])('walks an Agents SDK agent through a handoff (responses: $useResponses)', async ({ useResponses }) => {
    sim.configure({ answers: { kind: 'script', when: 'always', turns: [{ tool_call: { name: 'transfer_to_billing' } }, { text: 'Billing here: refund issued.' }] } });
    const billing = new Agent({ name: 'billing', instructions: 'Handle billing.', model: 'gpt-4o-mini' });
    const triage = new Agent({ name: 'triage', instructions: 'Route the customer.', model: 'gpt-4o-mini', handoffs: [billing] });
    const runner = new Runner({ modelProvider: new OpenAIProvider({ openAIClient: client, useResponses }), tracingDisabled: true });
    const result = await runner.run(triage, 'I was charged twice.');
    expect(result.lastAgent?.name).toBe('billing');
    expect(result.finalOutput).toBe('Billing here: refund issued.');
    expect(sim.requests).toHaveLength(2);
  });

  it('is settable over the HTTP control endpoint, and a malformed script is refused', async () => {
    const set = await fetch(`${rootOf(sim)}/_simulator/config`, { method: 'POST', body: JSON.stringify({ answers: script }) });
    expect(set.status).toBe(200);
    const bad = await fetch(`${rootOf(sim)}/_simulator/config`, { method: 'POST', body: JSON.stringify({ answers: { kind: 'script', turns: [{ tool_call: {} }] } }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_simulator_config');
  });
});
