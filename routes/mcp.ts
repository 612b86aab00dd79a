import type { CallToolResult, McpServer, ServerContext } from '@modelcontextprotocol/server';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Orchestrator } from '../src/runs/orchestrator.ts';
import type { TraceContext } from '../src/lib/trace.ts';
import { ServiceError } from '../src/errors.ts';
import { parseOr400 } from './http.ts';
import { outputText, runToEnd } from '../src/protocols/runs.ts';
import type { RunEvent } from '../src/schemas/events.ts';
import { RunRequestSchema, type RunRequest } from '../src/schemas/request.ts';
import { RunResultSchema, type RunResult } from '../src/schemas/result.ts';
import type { Store } from '../src/store/types.ts';
import type { JsonSchema, ToolDefinition } from '../src/toolkit/api.ts';
import type { ToolRegistry } from '../src/toolkit/registry.ts';

/** What the MCP route needs. */
type McpHandler = ReturnType<typeof import('@modelcontextprotocol/server').createMcpHandler>;

export interface McpRoutesOptions {
  orchestrator: Orchestrator;
  registry: ToolRegistry;
  store: Store;
  /** Interval of SSE keep-alive comments on streamed MCP responses. */
  heartbeatMs: number;
  /** Bound on a request body (the service's BODY_LIMIT_BYTES). */
  bodyLimitBytes: number;
}

/** Who called, handed from the HTTP layer to the tool handlers through the SDK's pass-through `authInfo`. */
interface Caller {
  tenant: string;
  trace: TraceContext;
}

const SERVER_INFO = { name: 'llm-orchestrator', version: '0.1.0' } as const;

/**
 * Run-request fields a tool call's arguments may carry besides `input`
 * (docs/mcp.md lists the mapping). Their JSON Schemas come from the one zod
 * source of the run request, so MCP advertises exactly what `/v1/runs` takes.
 */
const RUN_FIELDS = ['tool_version', 'agent', 'replicates', 'seed', 'timeout_ms', 'budget', 'early_stop', 'launch', 'synthesize', 'metadata', 'options'] as const;
const RUN_FIELD_SET = new Set<string>(['input', ...RUN_FIELDS]);

function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const RUN_FIELD_SCHEMAS = (
  jsonSchemaOf(RunRequestSchema.pick(Object.fromEntries(RUN_FIELDS.map((f) => [f, true])) as { [K in (typeof RUN_FIELDS)[number]]: true }), 'input') as {
    properties: Record<string, unknown>;
  }
).properties;
const RUN_RESULT_SCHEMA = jsonSchemaOf(RunResultSchema, 'output') as { properties: Record<string, unknown> } & JsonSchema;

/** The MCP `inputSchema` of a tool: its own input schema, plus the run fields it does not define itself. */
export function mcpInputSchema(tool: ToolDefinition): JsonSchema {
  const own = tool.input_schema as { properties?: Record<string, unknown>; required?: string[] };
  return {
    ...tool.input_schema,
    type: 'object',
    properties: { ...RUN_FIELD_SCHEMAS, ...own.properties },
    required: own.required ?? ['input'],
  };
}

/** The MCP `outputSchema` of a tool: the run record, whose `output` is the tool's output schema. */
export function mcpOutputSchema(tool: ToolDefinition): JsonSchema {
  return { ...RUN_RESULT_SCHEMA, properties: { ...RUN_RESULT_SCHEMA.properties, output: tool.output_schema } };
}

/**
 * Maps a tool call's arguments onto a run request of that tool: `input`
 * and the run fields are taken as they are; any other argument is a
 * tool-specific input and goes into `options`.
 */
export function runRequestFromArguments(toolName: string, args: Record<string, unknown>): RunRequest {
  const body: Record<string, unknown> = { tool: toolName };
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (RUN_FIELD_SET.has(key)) body[key] = value;
    else extra[key] = value;
  }
  if (Object.keys(extra).length > 0) body.options = { ...(body.options as Record<string, unknown> | undefined), ...extra };
  return parseOr400(RunRequestSchema, body, 'tool arguments');
}

/**
 * A progress message for the events that become MCP progress notifications;
 * null for the others. Events of a composed (inner) tool name it.
 */
function progressMessage(event: RunEvent, toolName: string): string | null {
  const inner = event.tool !== undefined && event.tool !== toolName ? `${event.tool} ` : '';
  if (event.type === 'run_started') return `run_started: run ${event.run_id} (${event.replicates ?? 'no'} replicates), readable at /v1/runs/${event.run_id}`;
  if (event.type === 'replicate_done') {
    const r = event.replicate;
    return `replicate_done: ${inner}replicate ${r.index} ${r.status}${r.error ? ` (${r.error.code})` : ''}`;
  }
  if (event.type === 'partial_summary') {
    const s = event.statistics;
    return `partial_summary: ${inner}${s.completed}/${s.requested} replicates, confidence ${event.summary.confidence.toFixed(2)}, consensus ${outputText(event.summary.consensus).slice(0, 200)}`;
  }
  return null;
}

/** A finished run as a tool result: the answer as text, the run record (Evidence Bundle included) as structured content. */
function toolResult(run: RunResult): CallToolResult {
  const structuredContent = run as unknown as Record<string, unknown>;
  if (run.status !== 'succeeded') {
    const why = run.error ? `${run.error.code}: ${run.error.message}` : run.status;
    return { isError: true, content: [{ type: 'text', text: `run ${run.id} ${run.status}: ${why}` }], structuredContent };
  }
  // A consensus that does not satisfy the tool's output schema cannot be offered as that tool's output.
  if (run.bundle?.summary.consensus_valid === false) {
    return { isError: true, content: [{ type: 'text', text: `run ${run.id}: the replicates' consensus does not satisfy the tool's output schema` }], structuredContent };
  }
  return { content: [{ type: 'text', text: outputText(run.output) }], structuredContent };
}

function errorResult(error: unknown): CallToolResult {
  const e = error instanceof ServiceError ? error : new ServiceError('internal', 'internal error');
  return { isError: true, content: [{ type: 'text', text: `${e.code}: ${e.message}` }] };
}

/**
 * `POST /mcp`: the tool catalogue as an MCP server (Streamable HTTP,
 * stateless: every request is served by a fresh server instance, so any
 * replica answers any request). `tools/call` runs the tool like
 * `POST /v1/runs`; progress notifications follow `replicate_done` and
 * `partial_summary` when the client sent a progress token; a cancelled
 * call (`notifications/cancelled`, or the client closing the request)
 * cancels the run.
 */
export const mcpRoutes: FastifyPluginAsync<McpRoutesOptions> = async (app, { orchestrator, registry, store, heartbeatMs, bodyLimitBytes }) => {
  /**
   * In-flight calls of this process by tenant and JSON-RPC id, for a
   * `notifications/cancelled` that arrives as its own request. Stateless
   * clients of one tenant may reuse ids, so a key can hold several calls.
   */
  const inFlight = new Map<string, Set<AbortController>>();
  const callKey = (tenant: string, id: unknown) => `${tenant}\u0000${JSON.stringify(id)}`;

  async function callTool(tool: ToolDefinition, caller: Caller, args: Record<string, unknown>, ctx: ServerContext): Promise<CallToolResult> {
    let prepared;
    try {
      prepared = orchestrator.prepare(runRequestFromArguments(tool.name, args), { trace: caller.trace, tenant: caller.tenant });
    } catch (error) {
      return errorResult(error);
    }
    const progressToken = ctx.mcpReq._meta?.progressToken;
    const sent: Promise<void>[] = [];
    let progress = 0;
    const onEvent =
      progressToken === undefined
        ? undefined
        : (event: RunEvent) => {
            const message = progressMessage(event, tool.name);
            if (message === null) return;
            // Progress must increase with each notification; it counts the notifications, the message says what happened.
            progress++;
            sent.push(ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress, message } }).catch(() => undefined));
          };
    const cancel = new AbortController();
    const key = callKey(caller.tenant, ctx.mcpReq.id);
    const calls = inFlight.get(key) ?? new Set<AbortController>();
    calls.add(cancel);
    inFlight.set(key, calls);
    const signal = AbortSignal.any([ctx.mcpReq.signal, cancel.signal]);
    try {
      const run = await runToEnd(orchestrator, store, prepared, { signal, ...(onEvent ? { onEvent } : {}) });
      await Promise.all(sent);
      return toolResult(run);
    } catch (error) {
      return errorResult(error);
    } finally {
      calls.delete(cancel);
      if (calls.size === 0) inFlight.delete(key);
    }
  }

  /**
   * The MCP SDK, the tools' schemas (their validators compiled once; every
   * per-request server shares them) and the handler, built on the first
   * `/mcp` request: a service no MCP client talks to never loads the SDK
   * (~10 MiB of RSS at idle, BENCHMARKS.md).
   */
  let handlerReady: Promise<McpHandler> | undefined;
  const mcpHandler = (): Promise<McpHandler> =>
    (handlerReady ??= import('@modelcontextprotocol/server').then(({ createMcpHandler, fromJsonSchema, McpServer }) => {
      const tools = registry.list().map((tool) => ({
        tool,
        inputSchema: fromJsonSchema<Record<string, unknown>>(mcpInputSchema(tool)),
        outputSchema: fromJsonSchema(mcpOutputSchema(tool)),
      }));
      const serverFor = (caller: Caller): McpServer => {
        const server = new McpServer(SERVER_INFO, { capabilities: { tools: { listChanged: false } } });
        for (const { tool, inputSchema, outputSchema } of tools) {
          server.registerTool(tool.name, { description: tool.description, inputSchema, outputSchema }, (args, ctx) => callTool(tool, caller, args, ctx));
        }
        return server;
      };
      return createMcpHandler(
        (ctx) => {
          const caller = ctx.authInfo?.extra?.caller as Caller | undefined;
          // Only the HTTP route below constructs servers, always with a caller; anything else is a bug, not a guest.
          if (!caller) throw new Error('MCP request without an authenticated caller');
          return serverFor(caller);
        },
        {
          legacy: 'stateless',
          keepAliveMs: heartbeatMs,
          maxRequestBodySize: bodyLimitBytes,
          onerror: (error) => app.log.debug({ err: error }, 'mcp request rejected'),
        },
      );
    }));
  app.addHook('onClose', async () => {
    if (handlerReady) await (await handlerReady).close();
  });

  /** A `notifications/cancelled` for a call this process runs: its run is cancelled here, whichever request carries it. */
  function cancelNotified(tenant: string, body: unknown): void {
    const messages = Array.isArray(body) ? body : [body];
    for (const m of messages) {
      if (m && typeof m === 'object' && (m as { method?: unknown }).method === 'notifications/cancelled') {
        const params = (m as { params?: { requestId?: unknown } }).params;
        const calls = inFlight.get(callKey(tenant, params?.requestId));
        // Two calls of one tenant with the same id cannot be told apart: cancel neither rather than the wrong one.
        if (calls?.size === 1) for (const call of calls) call.abort();
      }
    }
  }

  async function serve(request: FastifyRequest, reply: FastifyReply) {
    // Fastify answers HEAD with the GET route; MCP has no HEAD, and no standalone stream to describe either.
    if (request.method === 'HEAD') return reply.code(405).header('allow', 'POST').send();
    // Registered inside the protected scope: its hook has checked the bearer key and set the tenant.
    const tenant = request.tenant;
    if (request.method === 'POST') cancelNotified(tenant, request.body);
    // The client closing its request before the answer cancels the exchange (and so the call's run).
    const disconnected = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) disconnected.abort();
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      // The bearer token stays here: the SDK does not need it, and it must not travel further.
      if (value === undefined || name === 'authorization' || name === 'host' || name === 'content-length') continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    const url = new URL(request.url, `http://${request.host || 'localhost'}`);
    const webRequest = new Request(url, { method: request.method, headers, signal: disconnected.signal });
    const handler = await mcpHandler();
    const response = await handler.fetch(webRequest, {
      parsedBody: request.method === 'POST' ? request.body : undefined,
      authInfo: { token: '', clientId: tenant, scopes: [], extra: { caller: { tenant, trace: request.trace } satisfies Caller } },
    });
    return reply.send(response);
  }

  app.route({ method: ['POST', 'GET', 'DELETE'], url: '/mcp', handler: serve });
};
