import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Agent, MCPServerStreamableHttp, OpenAIProvider, Runner } from '@openai/agents';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RunResultSchema } from '../../src/schemas/result.ts';
import { getJson, postJson, startTestService, withService, type TestService } from '../helpers/service.ts';
import { waitFor } from '../helpers/waitFor.ts';

/** An MCP SDK client connected to the service's `/mcp` over Streamable HTTP. */
async function mcpClient(url: string, apiKey?: string): Promise<Client> {
  const client = new Client({ name: 'mcp-test', version: '1.0.0' });
  const requestInit = apiKey ? { headers: { authorization: `Bearer ${apiKey}` } } : undefined;
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), requestInit ? { requestInit } : {}));
  return client;
}

describe('MCP server at /mcp', () => {
  let svc: TestService;
  let client: Client;
  beforeAll(async () => {
    svc = await startTestService();
    client = await mcpClient(svc.url);
  });
  afterAll(async () => {
    await client.close();
    await svc.close();
  });
  beforeEach(() => svc.sim.reset());

  it('lists every catalogue tool with its input schema and the run record as output schema', async () => {
    const { tools } = await client.listTools();
    const catalogue = (await getJson(`${svc.url}/v1/tools`)).body.data as { name: string; description: string; output_schema: unknown }[];
    expect(tools.map((t) => t.name).sort()).toEqual(catalogue.map((t) => t.name).sort());
    const sentiment = tools.find((t) => t.name === 'sentiment');
    const listed = catalogue.find((t) => t.name === 'sentiment');
    expect(sentiment?.description).toBe(listed?.description);
    expect(sentiment?.inputSchema).toMatchObject({ type: 'object', required: ['input'] });
    expect(Object.keys(sentiment?.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(['input', 'replicates', 'seed', 'agent', 'budget']));
    // structuredContent is the run record; its `output` is the tool's own output schema.
    const outputProperties = sentiment?.outputSchema?.properties as Record<string, unknown> | undefined;
    expect(outputProperties?.output).toEqual(listed?.output_schema);
    expect(outputProperties).toHaveProperty('bundle');
  });

  it('calls sentiment with progress notifications and answers the consensus of a /v1/runs run with the same seed', async () => {
    const input = 'I really love how quiet this dishwasher is.';
    const progress: { progress: number; message?: string }[] = [];
    const result = await client.callTool({ name: 'sentiment', arguments: { input, seed: 42 } }, { onprogress: (p) => progress.push(p) });

    expect(result.isError).toBeFalsy();
    const run = RunResultSchema.parse(result.structuredContent);
    expect(run).toMatchObject({ status: 'succeeded', tool: 'sentiment' });
    expect(run.bundle?.replicates.length).toBeGreaterThanOrEqual(3);
    expect(result.content).toEqual([{ type: 'text', text: JSON.stringify(run.output) }]);

    // Progress: one notification per replicate_done and partial_summary, increasing.
    const kinds = progress.map((p) => p.message?.split(':')[0]);
    expect(kinds[0]).toBe('run_started');
    expect(kinds.filter((k) => k === 'replicate_done')).toHaveLength(run.bundle?.replicates.length as number);
    expect(kinds).toContain('partial_summary');
    expect(progress.map((p) => p.progress)).toEqual(progress.map((_, i) => i + 1));

    const rest = await postJson(`${svc.url}/v1/runs`, { tool: 'sentiment', input, seed: 42 });
    expect(rest.status).toBe(200);
    expect(run.output).toEqual(rest.body.output);
    expect(run.bundle?.summary.consensus).toEqual(rest.body.bundle.summary.consensus);
    // The MCP run is an ordinary run: readable over REST.
    expect((await getJson(`${svc.url}/v1/runs/${run.id}`)).body).toMatchObject({ id: run.id, status: 'succeeded', output: run.output });
  });

  it('maps tool arguments onto the run request (replicates, agent model) and reports bad arguments as a tool error', async () => {
    const result = await client.callTool({ name: 'bundle', arguments: { input: 'Name a colour.', replicates: 2, agent: { model: 'gpt-4.1-mini' }, seed: 1 } });
    const run = RunResultSchema.parse(result.structuredContent);
    expect(run.bundle?.replicates).toHaveLength(2);
    expect(run.bundle?.replicates.every((r) => r.model === 'gpt-4.1-mini')).toBe(true);

    const tooMany = await client.callTool({ name: 'bundle', arguments: { input: 'x', replicates: 1000 } });
    expect(tooMany.isError).toBe(true);
    expect(tooMany.content).toEqual([{ type: 'text', text: expect.stringContaining('MAX_REPLICATES') }]);
  });

  it('a composed tool reports its inner tools’ replicates as progress', async () => {
    const progress: string[] = [];
    const result = await client.callTool({ name: 'triage', arguments: { input: 'My parcel never arrived.' } }, { onprogress: (p) => progress.push(p.message ?? '') });
    const run = RunResultSchema.parse(result.structuredContent);
    expect(run.status).toBe('succeeded');
    expect(progress.filter((m) => m.startsWith('replicate_done: sentiment replicate')).length).toBeGreaterThanOrEqual(3);
    expect(progress.filter((m) => m.startsWith('replicate_done: answer replicate'))).toHaveLength(1);
  });

  it('cancelling the call cancels the run and aborts its provider requests', async () => {
    svc.sim.configure({ latencyMs: 60_000 });
    const abort = new AbortController();
    let runId: string | undefined;
    const call = client.callTool(
      { name: 'bundle', arguments: { input: 'Take your time.', replicates: 3 } },
      { signal: abort.signal, onprogress: (p) => (runId ??= /run (\S+)/.exec(p.message ?? '')?.[1]) },
    );
    const settled = call.then(
      () => 'resolved',
      () => 'rejected',
    );
    // run_started (whose progress note names the run) goes out once the provider requests are: wait for both.
    await waitFor(() => svc.sim.stats().inFlight === 3 && runId !== undefined);
    abort.abort();
    expect(await settled).toBe('rejected');
    await waitFor(() => svc.sim.stats().aborted === 3 && svc.sim.stats().inFlight === 0);
    expect(svc.sim.requests.map((r) => r.outcome)).toEqual(['aborted', 'aborted', 'aborted']);
    expect(runId).toMatch(/^run_/);
    await waitFor(() => svc.orchestrator.activeCount === 0);
    expect((await getJson(`${svc.url}/v1/runs/${runId}`)).body).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
  });

  it('a client that drops its connection mid-call cancels the run too', async () => {
    svc.sim.configure({ latencyMs: 60_000 });
    const abort = new AbortController();
    const call = { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'bundle', arguments: { input: 'Hang on.', replicates: 2 } } };
    const response = fetch(`${svc.url}/mcp`, {
      method: 'POST',
      signal: abort.signal,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify(call),
    }).catch(() => 'dropped');
    await waitFor(() => svc.sim.stats().inFlight === 2);
    abort.abort();
    expect(await response).toBe('dropped');
    await waitFor(() => svc.sim.stats().aborted === 2 && svc.orchestrator.activeCount === 0);
  });

  it('answers GET and DELETE /mcp with 405 (stateless: no sessions, no standalone stream)', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(`${svc.url}/mcp`, { method, headers: { accept: 'text/event-stream' } });
      expect(res.status).toBe(405);
      await res.body?.cancel();
    }
  });

  describe.each([
    { api: 'chat completions', useResponses: false },
    { api: 'responses', useResponses: true },
  ])('an Agents SDK agent over $api', ({ useResponses }) => {
    it('calls one of our tools through MCPServerStreamableHttp during its run', async () => {
      const input = 'The checkout flow is confusing and slow.';
      svc.sim.configure({
        answers: {
          kind: 'script',
          turns: [{ tool_call: { name: 'sentiment', arguments: { input, seed: 7 } } }, { text: 'Customers are unhappy with checkout.' }],
        },
      });
      const server = new MCPServerStreamableHttp({ url: `${svc.url}/mcp`, name: 'orchestrator', cacheToolsList: true });
      await server.connect();
      try {
        const agent = new Agent({ name: 'analyst', instructions: 'Use the sentiment tool, then summarise.', model: 'gpt-4o-mini', mcpServers: [server] });
        const openAIClient = new OpenAI({ baseURL: svc.sim.url, apiKey: 'sk-test', maxRetries: 0 });
        const runner = new Runner({ modelProvider: new OpenAIProvider({ openAIClient, useResponses }), tracingDisabled: true });
        const result = await runner.run(agent, 'How do customers feel about checkout?');

        expect(result.finalOutput).toBe('Customers are unhappy with checkout.');
        const output = result.newItems.find((item) => item.type === 'tool_call_output_item');
        expect(output).toBeDefined();

        // The agent's model saw our tools, and its second turn carried the tool's answer: the run's consensus.
        const agentTurns = svc.sim.requests.filter((r) => JSON.stringify((r.body as { tools?: unknown }).tools ?? []).includes('"sentiment"'));
        expect(agentTurns).toHaveLength(2);
        const rest = await postJson(`${svc.url}/v1/runs`, { tool: 'sentiment', input, seed: 7 });
        expect(JSON.stringify(agentTurns[1]?.body)).toContain(JSON.stringify(JSON.stringify(rest.body.output)).slice(1, -1));
      } finally {
        await server.close();
      }
    });
  });
});

describe('MCP with API keys on', () => {
  it('refuses a missing or wrong key with 401 in the envelope, and runs as the key’s tenant', async () => {
    await withService({ env: { API_KEYS: 'key-one,key-two' } }, async (svc) => {
      const ping = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };
      const accept = { accept: 'application/json, text/event-stream' };
      const missing = await postJson(`${svc.url}/mcp`, ping, accept);
      expect(missing.status).toBe(401);
      expect(missing.body.error).toMatchObject({ code: 'unauthorized', retryable: false, request_id: expect.any(String) });
      const wrong = await postJson(`${svc.url}/mcp`, ping, { ...accept, authorization: 'Bearer nope' });
      expect(wrong.status).toBe(401);
      await expect(mcpClient(svc.url)).rejects.toThrow();

      const client = await mcpClient(svc.url, 'key-one');
      try {
        const result = await client.callTool({ name: 'bundle', arguments: { input: 'Hello', replicates: 1 } });
        const run = RunResultSchema.parse(result.structuredContent);
        expect((await getJson(`${svc.url}/v1/runs/${run.id}`, { authorization: 'Bearer key-one' })).status).toBe(200);
        expect((await getJson(`${svc.url}/v1/runs/${run.id}`, { authorization: 'Bearer key-two' })).status).toBe(404);
      } finally {
        await client.close();
      }
    });
  });
});
