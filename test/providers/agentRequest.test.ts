import { describe, expect, it } from 'vitest';
import { agentRequest, parseJsonAnswer, WRAP_KEY } from '../../src/providers/agentRequest.ts';
import { capabilitiesFor, planCall } from '../../src/providers/capabilities.ts';
import type { ModelCallRequest } from '../../src/providers/callTypes.ts';

const base: ModelCallRequest = {
  model: 'm',
  instructions: 'Be brief.',
  input: 'q',
  signal: new AbortController().signal,
  trace: { trace_id: '0'.repeat(32), span_id: '0'.repeat(16), request_id: 'r' } as unknown as ModelCallRequest['trace'],
};
const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };

function build(request: Partial<ModelCallRequest>, caps: Parameters<typeof capabilitiesFor>[1], api: 'chat_completions' | 'responses' = 'chat_completions') {
  const full = { ...base, ...request };
  const plan = planCall({ seed: full.seed, temperature: full.temperature, structured: full.outputSchema !== undefined, api }, capabilitiesFor(full.model, caps));
  return { plan, ...agentRequest(full, plan, api) };
}

describe('the Agent of one call, fitted to the model', () => {
  it('asks for json_schema and sends seed and temperature when the model takes them', () => {
    const { agent } = build({ outputSchema: schema, seed: 5, temperature: 0.3 }, {});
    expect(agent.outputType).toMatchObject({ type: 'json_schema', schema });
    expect(agent.modelSettings).toMatchObject({ temperature: 0.3, providerData: { seed: 5 } });
    expect(agent.instructions).toBe('Be brief.');
  });

  it('uses JSON mode with the schema in the instructions when json_schema is refused', () => {
    const { agent, plan } = build({ outputSchema: schema, seed: 5 }, { m: { json_schema: false, seed: false } });
    expect(agent.outputType).toBe('text');
    expect(agent.modelSettings.providerData).toEqual({ response_format: { type: 'json_object' } });
    expect(String(agent.instructions)).toContain(JSON.stringify(schema));
    expect(plan.warnings).toHaveLength(2);
  });

  it('on the Responses API, JSON mode goes in text.format', () => {
    const { agent } = build({ outputSchema: schema }, { m: { json_schema: false } }, 'responses');
    expect(agent.modelSettings.providerData).toEqual({ text: { format: { type: 'json_object' } } });
  });

  it('reads a prompt-only answer as JSON, unwrapping a non-object root', () => {
    const { agent, read } = build({ outputSchema: { type: 'array', items: { type: 'integer' } } }, { m: { json_schema: false, json_object: false } });
    expect(agent.modelSettings.providerData).toBeUndefined();
    expect(String(agent.instructions)).toContain(`"${WRAP_KEY}"`);
    expect(read(`Sure: {"${WRAP_KEY}": [1, 2]}`)).toEqual([1, 2]);
  });
});

describe('parseJsonAnswer', () => {
  it.each([
    ['{"a":1}', { a: 1 }],
    ['```json\n{"a": 2}\n```', { a: 2 }],
    ['Here it is: {"a": 3}. Hope it helps!', { a: 3 }],
    ['[1,2]', [1, 2]],
  ])('reads %j', (text, value) => {
    expect(parseJsonAnswer(text)).toEqual(value);
  });

  it('leaves text without JSON as text (it then fails the schema)', () => {
    expect(parseJsonAnswer('no json here')).toBe('no json here');
    expect(parseJsonAnswer({ already: 'parsed' })).toEqual({ already: 'parsed' });
  });
});
