import type OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/providers/simulator/index.ts';
import { clientFor, gradeSchema, schemaErrors } from './helpers.ts';

let sim: Simulator;
let client: OpenAI;

beforeAll(async () => {
  sim = await startSimulator({ seed: 1 });
  client = clientFor(sim);
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const question = 'Why is the sky blue?';
const chatFormat = { type: 'json_schema', json_schema: { name: 'grade', schema: gradeSchema } } as const;
const responsesFormat = { format: { type: 'json_schema', name: 'grade', schema: gradeSchema } } as const;

describe('chat completions through the openai SDK', () => {
  it('answers a plain request with text, echoed model and estimated usage', async () => {
    const r = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: question }],
    });
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe('gpt-4o-mini');
    const choice = r.choices[0];
    expect(choice?.finish_reason).toBe('stop');
    const content = choice?.message.content ?? '';
    expect(content.length).toBeGreaterThan(0);
    expect(r.usage).toMatchObject({
      prompt_tokens: Math.ceil(('Be brief.'.length + question.length) / 4),
      completion_tokens: Math.ceil(content.length / 4),
    });
    expect(r.usage?.total_tokens).toBe((r.usage?.prompt_tokens ?? 0) + (r.usage?.completion_tokens ?? 0));

    const [rec] = sim.requests;
    expect(rec).toMatchObject({ path: '/v1/chat/completions', method: 'POST', model: 'gpt-4o-mini', status: 200, outcome: 'completed', seed: null });
    expect(rec?.headers['authorization']).toBe('[redacted]');
    expect(rec?.headers['content-type']).toContain('application/json');
    expect(sim.stats()).toMatchObject({ received: 1, completed: 1, inFlight: 0, failed: 0 });
  });

  it('streams deltas that add up to the same seeded answer, then a usage chunk when asked', async () => {
    const base = { model: 'gpt-4o-mini', seed: 11, messages: [{ role: 'user' as const, content: question }] };
    const plain = await client.chat.completions.create(base);
    const stream = await client.chat.completions.create({ ...base, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);

    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(plain.choices[0]?.message.content);
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'gpt-4o-mini')).toBe(true);
    const usageChunk = chunks.at(-1);
    expect(usageChunk?.choices).toEqual([]);
    expect(usageChunk?.usage).toEqual(plain.usage);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');

    const noUsage = await client.chat.completions.create({ ...base, stream: true });
    const noUsageChunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of noUsage) noUsageChunks.push(c);
    expect(noUsageChunks.some((c) => c.usage)).toBe(false);
    expect(sim.stats().completed).toBe(3);
  });

  it('the stream helper accumulates a final completion', async () => {
    const runner = client.chat.completions.stream({ model: 'm', messages: [{ role: 'user', content: question }] });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]?.message.content?.length).toBeGreaterThan(0);
  });

  it('json_schema response_format yields JSON satisfying the schema', async () => {
    for (let seed = 0; seed < 15; seed++) {
      const r = await client.chat.completions.create({
        model: 'gpt-4o-mini', seed, response_format: chatFormat, messages: [{ role: 'user', content: question }],
      });
      const value: unknown = JSON.parse(r.choices[0]?.message.content ?? '');
      expect(schemaErrors(gradeSchema, value)).toBeNull();
    }
  });

  it('json_object response_format yields a JSON object', async () => {
    const r = await client.chat.completions.create({
      model: 'm', response_format: { type: 'json_object' }, messages: [{ role: 'user', content: question }],
    });
    expect(JSON.parse(r.choices[0]?.message.content ?? '')).toEqual({ answer: expect.any(String) });
  });
});

describe('responses through the openai SDK', () => {
  it('answers a plain request with output_text and usage', async () => {
    const r = await client.responses.create({ model: 'gpt-4o-mini', instructions: 'Be brief.', input: question });
    expect(r).toMatchObject({ object: 'response', status: 'completed', model: 'gpt-4o-mini' });
    expect(r.output_text.length).toBeGreaterThan(0);
    expect(r.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'completed' });
    expect(r.usage).toMatchObject({
      input_tokens: Math.ceil(('Be brief.'.length + question.length) / 4),
      output_tokens: Math.ceil(r.output_text.length / 4),
      input_tokens_details: { cached_tokens: 0 },
      output_tokens_details: { reasoning_tokens: 0 },
    });
    expect(sim.requests[0]).toMatchObject({ path: '/v1/responses', outcome: 'completed', status: 200 });
  });

  it('streams the event sequence of the real API with the same seeded answer', async () => {
    const input = [{ role: 'user' as const, content: [{ type: 'input_text' as const, text: question }] }];
    const plain = await client.responses.create({ model: 'm', input, seed: 5 } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    const stream = await client.responses.create({ model: 'm', input, seed: 5, stream: true } as OpenAI.Responses.ResponseCreateParamsStreaming);
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const e of stream) events.push(e);

    const types = [...new Set(events.map((e) => e.type))];
    expect(types).toEqual([
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
      'response.output_text.delta', 'response.output_text.done', 'response.content_part.done',
      'response.output_item.done', 'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const deltas = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : []));
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(plain.output_text);
    const completed = events.at(-1);
    expect(completed?.type === 'response.completed' && completed.response.usage?.total_tokens).toBe(plain.usage?.total_tokens);
    expect(sim.requests.map((r) => r.seed)).toEqual([5, 5]);
  });

  it('the stream helper builds the final response from the events', async () => {
    const final = await client.responses.stream({ model: 'm', input: question }).finalResponse();
    expect(final.output_text.length).toBeGreaterThan(0);
    expect(final.usage?.output_tokens).toBeGreaterThan(0);
  });

  it('text.format json_schema yields JSON satisfying the schema', async () => {
    for (let seed = 0; seed < 15; seed++) {
      const r = await client.responses.create({ model: 'm', input: question, seed, text: responsesFormat } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
      expect(schemaErrors(gradeSchema, JSON.parse(r.output_text))).toBeNull();
    }
  });
});

describe('answer selection', () => {
  const ask = async (prompt: string, seed?: number): Promise<string> => {
    const r = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: prompt }], ...(seed === undefined ? {} : { seed }) });
    return r.choices[0]?.message.content ?? '';
  };

  it('same seed and prompt give the same answer; unseeded requests vary but replay after reset', async () => {
    expect(await ask(question, 3)).toBe(await ask(question, 3));
    const unseeded = [await ask(question), await ask(question), await ask(question)];
    expect(new Set(unseeded).size).toBeGreaterThan(1);
    sim.reset();
    expect([await ask(question), await ask(question), await ask(question)]).toEqual(unseeded);
  });

  it('samples a distribution by seed: deterministic per seed, spread across seeds', async () => {
    sim.configure({ answers: { kind: 'distribution', values: [{ value: 'A', weight: 1 }, { value: 'B', weight: 1 }, { value: 'C', weight: 2 }] } });
    const answers: string[] = [];
    for (let seed = 0; seed < 40; seed++) answers.push(await ask(question, seed));
    expect(new Set(answers)).toEqual(new Set(['A', 'B', 'C']));
    for (let seed = 0; seed < 5; seed++) expect(await ask(question, seed)).toBe(answers[seed]);
  });

  it('fixed, sequence, byPrompt and function answers', async () => {
    sim.configure({ answers: { kind: 'fixed', value: { ok: true } } });
    expect(JSON.parse(await ask('x'))).toEqual({ ok: true });

    sim.configure({ answers: { kind: 'sequence', values: ['one', 'two'] } });
    expect([await ask('x'), await ask('x'), await ask('x')]).toEqual(['one', 'two', 'one']);

    sim.configure({
      answers: {
        kind: 'byPrompt',
        rules: [{ match: 'capital of France', values: [{ value: 'Paris', weight: 1 }] }],
        fallback: { kind: 'fixed', value: 'no idea' },
      },
    });
    expect(await ask('What is the capital of France?', 1)).toBe('Paris');
    expect(await ask('What is the capital of Peru?', 1)).toBe('no idea');

    const seen: unknown[] = [];
    sim.configure({ answers: { kind: 'function', fn: (ctx) => (seen.push(ctx), `#${ctx.index} ${ctx.prompt}`) } });
    expect(await ask('hello', 9)).toBe('#0 hello');
    expect(seen[0]).toEqual({ seed: 9, prompt: 'hello', model: 'm', index: 0, schema: null });
  });

  it('fixed usage counts override the estimate', async () => {
    sim.configure({ usage: { inputTokens: 123, outputTokens: 45 } });
    const r = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(r.usage).toMatchObject({ prompt_tokens: 123, completion_tokens: 45, total_tokens: 168 });
  });

  it('lists models', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toContain('gpt-4o-mini');
    expect(sim.stats().received).toBe(0);
  });
});
