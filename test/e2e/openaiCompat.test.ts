import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RunResultSchema } from '../../src/schemas/result.ts';
import { getJson, postJson, startTestService, withService, type TestService } from '../helpers/service.ts';
import { schemaErrors } from '../simulator/helpers.ts';
import { waitFor } from '../helpers/waitFor.ts';

describe('OpenAI-compatible front door', () => {
  let svc: TestService;
  let openai: OpenAI;
  beforeAll(async () => {
    // A short heartbeat so a streamed completion's keep-alive shows while its replicates wait on the simulator.
    svc = await startTestService({ env: { SSE_HEARTBEAT_MS: '10' } });
    openai = new OpenAI({ baseURL: `${svc.url}/v1`, apiKey: 'unused-when-keys-are-off', maxRetries: 0 });
  });
  afterAll(() => svc.close());
  beforeEach(() => svc.sim.reset());

  it('answers bundle/gpt-4o-mini@5 with the consensus, summed usage and the run behind it', async () => {
    const messages = [{ role: 'user' as const, content: 'In one sentence: why is the sky blue?' }];
    const { data: completion, response } = await openai.chat.completions.create({ model: 'bundle/gpt-4o-mini@5', messages, seed: 9 }).withResponse();

    const runId = response.headers.get('x-run-id');
    expect(runId).toMatch(/^run_/);
    const run = RunResultSchema.parse((await getJson(`${svc.url}/v1/runs/${runId}`)).body);
    expect(run.status).toBe('succeeded');
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('bundle/gpt-4o-mini@5');
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]?.message).toMatchObject({ role: 'assistant', content: run.output });
    expect(completion.choices[0]?.finish_reason).toBe('stop');

    // Five replicates on the named model, and usage is their sum.
    const replicates = run.bundle?.replicates ?? [];
    expect(replicates).toHaveLength(5);
    expect(svc.sim.requests.map((r) => r.model)).toEqual(Array(5).fill('gpt-4o-mini'));
    const sum = (key: 'input_tokens' | 'output_tokens') => replicates.reduce((a, r) => a + r.usage[key], 0);
    expect(completion.usage).toEqual({ prompt_tokens: sum('input_tokens'), completion_tokens: sum('output_tokens'), total_tokens: sum('input_tokens') + sum('output_tokens') });
    expect((completion as unknown as { evidence_bundle: unknown }).evidence_bundle).toEqual(run.bundle);
    expect((completion as unknown as { run_id: string }).run_id).toBe(runId);

    // Same seed and input through /v1/runs: same consensus.
    const rest = await postJson(`${svc.url}/v1/runs`, { tool: 'bundle', input: messages, replicates: 5, seed: 9, agent: { model: 'gpt-4o-mini' } });
    expect(rest.body.output).toEqual(completion.choices[0]?.message.content);
  });

  it('streams the answer as chunks ending in [DONE], with keep-alives while replicates run', async () => {
    svc.sim.configure({ latencyMs: 300 });
    const messages = [{ role: 'user' as const, content: 'The delivery was late and the box was crushed.' }];
    const stream = await openai.chat.completions.create({ model: 'sentiment@3', messages, stream: true, stream_options: { include_usage: true } });
    let content = '';
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      content += chunk.choices[0]?.delta.content ?? '';
    }
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe('stop');
    const runId = (chunks[0] as unknown as { run_id: string }).run_id;
    const run = RunResultSchema.parse((await getJson(`${svc.url}/v1/runs/${runId}`)).body);
    expect(JSON.parse(content)).toEqual(run.output);
    expect(schemaErrors({ type: 'object', required: ['label', 'reason'] }, JSON.parse(content))).toBeNull();
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: run.usage.input_tokens, completion_tokens: run.usage.output_tokens, total_tokens: run.usage.total_tokens });

    // The wire itself, as the SDK received it.
    const raw = await openai.chat.completions.create({ model: 'sentiment@3', messages, stream: true }).asResponse();
    expect(raw.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(raw.headers.get('x-run-id')).toMatch(/^run_/);
    const text = await raw.text();
    expect(text).toContain(': keep-alive\n\n');
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('maps response_format json_schema onto the output schema and answers JSON', async () => {
    const schema = {
      type: 'object',
      properties: { city: { type: 'string', enum: ['Paris', 'Lyon', 'Nice'] }, population: { type: 'integer', minimum: 1 } },
      required: ['city', 'population'],
      additionalProperties: false,
    };
    const completion = await openai.chat.completions.create({
      model: 'bundle@3',
      messages: [{ role: 'user', content: 'Pick a French city.' }],
      response_format: { type: 'json_schema', json_schema: { name: 'city', schema, strict: true } },
    });
    const answer = JSON.parse(completion.choices[0]?.message.content ?? 'null');
    expect(schemaErrors(schema, answer)).toBeNull();
    const sent = svc.sim.requests.map((r) => (r.body as { response_format?: { json_schema?: { schema?: unknown } } }).response_format?.json_schema?.schema);
    expect(sent).toEqual([schema, schema, schema]);
  });

  it('speaks the service’s errors in a shape the SDK parses', async () => {
    const messages = [{ role: 'user' as const, content: 'hello' }];
    const notFound = await openai.chat.completions.create({ model: 'no-such-tool', messages }).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(OpenAI.NotFoundError);
    expect(notFound).toMatchObject({ status: 404, code: 'tool_not_found', message: expect.stringContaining('no tool named "no-such-tool"') });

    const badName = await openai.chat.completions.create({ model: 'Bundle!!', messages }).catch((e: unknown) => e);
    expect(badName).toBeInstanceOf(OpenAI.BadRequestError);
    expect(badName).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('TOOL[/MODEL][@REPLICATES]') });

    const tooMany = await openai.chat.completions.create({ model: 'bundle@1000', messages }).catch((e: unknown) => e);
    expect(tooMany).toMatchObject({ status: 400, message: expect.stringContaining('MAX_REPLICATES') });

    const withTools = await openai.chat.completions
      .create({ model: 'bundle', messages, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] })
      .catch((e: unknown) => e);
    expect(withTools).toMatchObject({ status: 400, message: expect.stringContaining('tools are not supported') });
    expect(svc.sim.stats().received).toBe(0);
  });

  it('a run that fails is the run’s error, plain and mid-stream, and stays readable', async () => {
    svc.sim.configure({ faultRate: { probability: 1, status: 400 } });
    const messages = [{ role: 'user' as const, content: 'Fail, please.' }];
    const failed = (await openai.chat.completions.create({ model: 'bundle@2', messages }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(failed).toBeInstanceOf(OpenAI.APIError);
    expect(failed.status).toBe(502);
    expect(failed.code).toBe('provider_error');
    const runId = failed.headers?.get('x-run-id');
    expect((await getJson(`${svc.url}/v1/runs/${runId}`)).body).toMatchObject({ status: 'failed', error: { code: 'provider_error' } });

    const stream = await openai.chat.completions.create({ model: 'bundle@2', messages, stream: true });
    const chunks: unknown[] = [];
    const streamed = await (async () => {
      for await (const chunk of stream) chunks.push(chunk);
    })().catch((e: unknown) => e);
    expect(chunks).toEqual([]);
    expect(streamed).toBeInstanceOf(OpenAI.APIError);
    expect(streamed).toMatchObject({ message: expect.stringContaining('provider') });
  });

  it('a client that gives up cancels the run and its provider requests', async () => {
    svc.sim.configure({ latencyMs: 60_000 });
    const abort = new AbortController();
    const pending = openai.chat.completions
      .create({ model: 'bundle@2', messages: [{ role: 'user', content: 'Slowly.' }] }, { signal: abort.signal })
      .catch((e: unknown) => e);
    await waitFor(() => svc.sim.stats().inFlight === 2);
    abort.abort();
    expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError);
    await waitFor(() => svc.sim.stats().aborted === 2 && svc.orchestrator.activeCount === 0);
  });

  it('lists tools as models and retrieves a tool/model@replicates selection', async () => {
    const ids: string[] = [];
    for await (const model of openai.models.list()) ids.push(model.id);
    const tools = (await getJson(`${svc.url}/v1/tools`)).body.data.map((t: { name: string }) => t.name);
    expect(ids).toEqual(expect.arrayContaining(tools));
    expect(ids).toContain('bundle/gpt-4o-mini');
    const model = await openai.models.retrieve('bundle/gpt-4o-mini@5');
    expect(model).toMatchObject({ id: 'bundle/gpt-4o-mini@5', object: 'model', owned_by: 'llm-orchestrator', tool: 'bundle', agent_model: 'gpt-4o-mini', replicates: 5 });
  });
});

describe('OpenAI-compatible front door with API keys on', () => {
  it('refuses a missing key on /v1/chat/completions, /v1/models and /mcp like the rest of /v1', async () => {
    await withService({ env: { API_KEYS: 'secret-key' } }, async (svc) => {
      const messages = [{ role: 'user' as const, content: 'hi' }];
      const anonymous = new OpenAI({ baseURL: `${svc.url}/v1`, apiKey: 'wrong-key', maxRetries: 0 });
      const refused = await anonymous.chat.completions.create({ model: 'bundle@1', messages }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(refused).toMatchObject({ status: 401, code: 'unauthorized' });
      expect(await anonymous.models.list().catch((e: unknown) => e)).toBeInstanceOf(OpenAI.AuthenticationError);

      const missing = await postJson(`${svc.url}/v1/chat/completions`, { model: 'bundle@1', messages });
      expect(missing.status).toBe(401);
      expect(missing.body.error).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('missing bearer token') });
      const mcp = await postJson(`${svc.url}/mcp`, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { accept: 'application/json, text/event-stream' });
      expect(mcp.status).toBe(401);
      expect(mcp.body.error.code).toBe('unauthorized');
      expect(svc.sim.stats().received).toBe(0);

      const client = new OpenAI({ baseURL: `${svc.url}/v1`, apiKey: 'secret-key', maxRetries: 0 });
      const { data, response } = await client.chat.completions.create({ model: 'bundle@1', messages }).withResponse();
      expect(data.choices[0]?.message.content).toEqual(expect.any(String));
      expect((await getJson(`${svc.url}/v1/runs/${response.headers.get('x-run-id')}`, { authorization: 'Bearer secret-key' })).status).toBe(200);
    });
  });
});
