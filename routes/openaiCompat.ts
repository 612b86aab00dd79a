import { PassThrough } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Orchestrator } from '../src/runs/orchestrator.ts';
import { ServiceError } from '../src/errors.ts';
import { errorEnvelope, parseOr400 } from './http.ts';
import { outputText, runToEnd } from '../src/protocols/runs.ts';
import { ChatCompletionRequestSchema, type ChatCompletionRequest } from '../src/schemas/chatCompletion.ts';
import type { Message, RunRequest } from '../src/schemas/request.ts';
import type { RunResult } from '../src/schemas/result.ts';
import type { Store } from '../src/store/types.ts';
import type { ToolRegistry } from '../src/toolkit/registry.ts';
import type { ProviderListing } from '../src/providers/gateway.ts';

/** What the OpenAI-compatible routes need. */
export interface OpenaiCompatRoutesOptions {
  orchestrator: Orchestrator;
  registry: ToolRegistry;
  store: Store;
  /** Interval of `: keep-alive` comments while a streamed completion's replicates run. */
  heartbeatMs: number;
  defaultModel: string;
  maxReplicates: number;
  /** The configured providers (never their keys), listed beside the models as `providers`. */
  providers?: () => ProviderListing[];
}

/** A model name: `TOOL[/MODEL][@REPLICATES]` (docs/openai-compatible.md). */
export interface ModelSelector {
  tool: string;
  model?: string;
  replicates?: number;
}

const MODEL_NAME = /^([a-z][a-z0-9_.-]{0,63})(?:\/([^@\s]+))?(?:@(\d{1,6}))?$/;

/** Parses a model name into tool, agent model and replicates; 400 when it does not follow the grammar. */
export function parseModelName(name: string): ModelSelector {
  const m = MODEL_NAME.exec(name);
  if (!m) {
    throw new ServiceError('invalid_request', `model "${name}" is not TOOL[/MODEL][@REPLICATES] (e.g. "sentiment", "bundle/gpt-4o-mini@5")`, {
      details: { field: 'model' },
    });
  }
  const replicates = m[3] === undefined ? undefined : Number(m[3]);
  if (replicates === 0) throw new ServiceError('invalid_request', 'replicates in the model name must be at least 1', { details: { field: 'model' } });
  return { tool: m[1] as string, ...(m[2] ? { model: m[2] } : {}), ...(replicates !== undefined ? { replicates } : {}) };
}



const ModelParams = z.object({ model: z.string().min(1).max(256) });

function messageText(content: ChatCompletionRequest['messages'][number]['content']): string {
  if (typeof content === 'string') return content;
  return (content ?? []).map((p) => p.text).join('\n');
}

/** Maps a chat completion request onto a run request (docs/openai-compatible.md has the table). */
export function runRequestFromChat(body: ChatCompletionRequest, selector: ModelSelector): RunRequest {
  const input: Message[] = body.messages.map((m) => ({ role: m.role, content: messageText(m.content) }));
  if (!input.some((m) => m.content.trim() !== '')) throw new ServiceError('invalid_request', 'messages hold no text', { details: { field: 'messages' } });
  const agent: NonNullable<RunRequest['agent']> = {};
  if (selector.model) agent.model = selector.model;
  if (typeof body.temperature === 'number') agent.temperature = body.temperature;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (typeof maxTokens === 'number') agent.max_output_tokens = maxTokens;
  const format = body.response_format;
  if (format?.type === 'json_schema') agent.output_schema = format.json_schema.schema ?? { type: 'object' };
  else if (format?.type === 'json_object') agent.output_schema = { type: 'object' };
  return {
    tool: selector.tool,
    input,
    ...(Object.keys(agent).length > 0 ? { agent } : {}),
    ...(selector.replicates !== undefined ? { replicates: selector.replicates } : {}),
    ...(typeof body.seed === 'number' ? { seed: body.seed } : {}),
    ...(body.metadata ? { metadata: body.metadata } : {}),
  };
}

function usageOf(run: RunResult) {
  return { prompt_tokens: run.usage.input_tokens, completion_tokens: run.usage.output_tokens, total_tokens: run.usage.total_tokens };
}

/** A failed run as the service's error (its code and message), naming the run. */
function runError(run: RunResult): ServiceError {
  const error = run.error ?? { code: 'internal' as const, message: `run ended ${run.status}`, retryable: true };
  return new ServiceError(error.code, error.message, { details: { run_id: run.id, status: run.status } });
}

/** Splits the answer into a few chunks, never inside a surrogate pair. */
function chunksOf(text: string, size = 64): string[] {
  const out: string[] = [];
  const chars = Array.from(text);
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
  return out.length > 0 ? out : [''];
}

/** `POST /v1/chat/completions`, `GET /v1/models`, `GET /v1/models/{id}`: the service behind any OpenAI client. */
export const openaiCompatRoutes: FastifyPluginAsync<OpenaiCompatRoutesOptions> = async (app, { orchestrator, registry, store, heartbeatMs, defaultModel, maxReplicates, providers }) => {
  const created = Math.floor(Date.now() / 1000);

  /** A model object in OpenAI's shape, with what it selects as extension fields. */
  function modelObject(id: string, checkLimits = true) {
    const selector = parseModelName(id);
    const tool = registry.resolve(selector.tool);
    const replicates = selector.replicates ?? tool.defaults?.replicates ?? null;
    // A name asked about must be usable; the listing shows every tool whatever its defaults.
    if (checkLimits && replicates !== null && replicates > maxReplicates) {
      throw new ServiceError('invalid_request', `replicates must be at most ${maxReplicates} (MAX_REPLICATES), got ${replicates}`, { details: { field: 'model' } });
    }
    return {
      id,
      object: 'model',
      created,
      owned_by: 'llm-orchestrator',
      tool: tool.name,
      tool_version: tool.version,
      agent_model: selector.model ?? tool.defaults?.agent?.model ?? defaultModel,
      replicates,
      description: tool.description,
    };
  }

  app.get('/v1/models', async () => {
    const ids: string[] = [];
    for (const tool of registry.list()) {
      ids.push(tool.name);
      ids.push(`${tool.name}/${tool.defaults?.agent?.model ?? defaultModel}`);
    }
    // `providers` is an extension field: OpenAI clients read `data` and ignore it.
    return { object: 'list', data: ids.map((id) => modelObject(id, false)), ...(providers ? { providers: providers() } : {}) };
  });

  // Model ids hold a `/`: clients encode it (`bundle%2Fgpt-4o-mini`), which keeps it one path segment.
  app.get('/v1/models/:model', async (request) => {
    const { model } = parseOr400(ModelParams, request.params, 'path');
    return modelObject(model);
  });

  app.post('/v1/chat/completions', async (request, reply) => {
    if (request.body === undefined || request.body === null || typeof request.body !== 'object' || Array.isArray(request.body)) {
      throw new ServiceError('invalid_request', 'the request body must be a JSON object');
    }
    const body = parseOr400(ChatCompletionRequestSchema, request.body, 'request body');
    const selector = parseModelName(body.model);
    const prepared = orchestrator.prepare(runRequestFromChat(body, selector), { trace: request.trace, tenant: request.tenant });
    reply.header('x-run-id', prepared.id);
    reply.header('location', `/v1/runs/${prepared.id}`);
    const id = `chatcmpl-${prepared.id}`;
    // A client that goes away before its answer cancels the run, and with it the provider requests.
    const gone = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) gone.abort();
    });
    if (body.stream === true) return stream(request, reply, body, prepared, id, gone);
    const run = await runToEnd(orchestrator, store, prepared, { signal: gone.signal });
    if (run.status !== 'succeeded') throw runError(run);
    return {
      id,
      object: 'chat.completion',
      created: Math.floor(Date.parse(run.created_at) / 1000),
      model: body.model,
      system_fingerprint: null,
      choices: [{ index: 0, message: { role: 'assistant', content: outputText(run.output), refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: usageOf(run),
      run_id: run.id,
      evidence_bundle: run.bundle,
    };
  });

  /**
   * Streams the answer as `chat.completion.chunk` frames once the run has
   * ended, with `: keep-alive` comments while its replicates work (the
   * consensus is only known at the end), closing with `data: [DONE]`.
   */
  function stream(request: FastifyRequest, reply: FastifyReply, body: ChatCompletionRequest, prepared: ReturnType<Orchestrator['prepare']>, id: string, gone: AbortController) {
    const out = new PassThrough();
    const write = (text: string) => {
      if (out.writableEnded) return;
      out.write(text);
    };
    const frame = (payload: unknown) => write(`data: ${JSON.stringify(payload)}\n\n`);
    const createdAt = Math.floor(Date.now() / 1000);
    const chunk = (delta: object, finish: string | null, extra: object = {}) => ({
      id,
      object: 'chat.completion.chunk',
      created: createdAt,
      model: body.model,
      system_fingerprint: null,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      run_id: prepared.id,
      ...extra,
    });
    write(': run started\n\n');
    const keepAlive = setInterval(() => write(': keep-alive\n\n'), heartbeatMs);
    void runToEnd(orchestrator, store, prepared, { signal: gone.signal })
      .then((run) => {
        if (run.status !== 'succeeded') {
          frame(errorEnvelope(runError(run), request.trace.request_id));
          return;
        }
        frame(chunk({ role: 'assistant', content: '', refusal: null }, null));
        for (const piece of chunksOf(outputText(run.output))) frame(chunk({ content: piece }, null));
        frame(chunk({}, 'stop', { evidence_bundle: run.bundle }));
        if (body.stream_options?.include_usage) frame({ ...chunk({}, null), choices: [], usage: usageOf(run) });
        write('data: [DONE]\n\n');
      })
      .catch((error: unknown) => {
        const e = error instanceof ServiceError ? error : new ServiceError('internal', 'internal error', { cause: error });
        if (e.status >= 500) request.log.error({ err: error }, 'streamed completion failed');
        frame(errorEnvelope(e, request.trace.request_id));
      })
      .finally(() => {
        clearInterval(keepAlive);
        out.end();
      });
    return reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-cache').header('x-accel-buffering', 'no').send(out);
  }
};
