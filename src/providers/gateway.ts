import OpenAI from 'openai';
// The SDK's packages, not `@openai/agents`: its index also loads the realtime client and `ws` (~3 MiB), which no call uses.
import { Agent, Runner, setTracingDisabled, type AgentInputItem, type Tool } from '@openai/agents-core';
import { SpanKind, type Attributes, type Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { ServiceError } from '../errors.ts';
import { Semaphore } from '../core/semaphore.ts';
import { childTraceparent, outgoingHeaders, type TraceContext } from '../core/trace.ts';
import { breakerOutcome, type BreakerOptions } from '../reliability/breakers.ts';
import { endSpan, NOOP_TRACING, traceparentOf, usageAttributes, type Tracing } from '../observability/tracing.ts';
import { CallPolicy } from '../reliability/callPolicy.ts';
import type { RetryPolicy } from '../reliability/retry.ts';
import { addUsage, emptyUsage, type Usage } from '../schemas/bundle.ts';
import type { RunInput } from '../schemas/request.ts';
import { mapProviderError } from './errorMap.ts';
import { BoundedModelProvider } from './modelProvider.ts';
import { PricingTable } from './pricing.ts';
import { sdkPathOf, singleTurn, type SdkPath } from './singleTurn.ts';
import { createTransport, RESPONSE_ENVELOPE_BYTES, type Transport } from './transport.ts';
import type { Config } from '../config.ts';

/** One call to a model, as a tool asks for it. */
export interface ModelCallRequest {
  model: string;
  instructions?: string | undefined;
  input: RunInput;
  /** JSON Schema the answer must follow; the answer is then parsed JSON. */
  outputSchema?: Record<string, unknown> | undefined;
  seed?: number | undefined;
  temperature?: number | undefined;
  maxOutputTokens?: number | undefined;
  signal: AbortSignal;
  trace: TraceContext;
  /** Whose call it is: provider-call slots are shared round-robin across tenants. */
  tenant?: string | undefined;
  /** The span this call belongs to (a replicate, the synthesis): each attempt is a `provider_call` under it. */
  span?: Span | undefined;
  /** Tools the sub-agent may call: such an agent runs on the Agents SDK's Runner (see `singleTurn.ts`). */
  tools?: Tool[] | undefined;
}

/** What every successful provider operation reports for accounting. */
export interface CallAccounting {
  usage: Usage;
  cost_usd: number;
  provider: string;
  model: string;
  attempts: number;
  latency_ms: number;
}

/** What a successful call returns: the answer plus its accounting. */
export interface ModelCallResult extends CallAccounting {
  output: unknown;
  /** The agent runtime that answered (`openai_agents`: the OpenAI Agents SDK). */
  runtime?: 'openai_agents';
  /** Which layer of it: its model layer for a single turn, its Runner otherwise (`singleTurn.ts`). */
  sdk_path?: SdkPath;
}

/** Texts to embed (for the semantic distance metric). */
export interface EmbeddingRequest {
  input: string[];
  model?: string | undefined;
  signal: AbortSignal;
  trace: TraceContext;
  tenant?: string | undefined;
  /** The span this call belongs to: each attempt is a `provider_call` under it. */
  span?: Span | undefined;
}

/** Vectors in input order, plus accounting. */
export interface EmbeddingResult extends CallAccounting {
  vectors: number[][];
}

/** The embedding model when a tool names none. */
export const DEFAULT_EMBEDDING_MODEL = 'text-embedding-3-small';

/** A failed call: the mapped error plus what was spent finding out. */
export class ModelCallError extends Error {
  readonly error: ServiceError;
  readonly attempts: number;
  readonly latency_ms: number;

  constructor(error: ServiceError, attempts: number, latencyMs: number) {
    super(error.message, { cause: error });
    this.name = new.target.name;
    this.error = error;
    this.attempts = attempts;
    this.latency_ms = latencyMs;
  }
}

/** The seam between tools and providers: tools never see the openai SDK. */
export interface ModelGateway {
  /** Name on results and events (`simulator`, `openai`, …). */
  readonly provider: string;
  /** One model call with retries, breaker, error mapping, usage and price. */
  call(request: ModelCallRequest): Promise<ModelCallResult>;
  /** Embeddings of texts, with the same retries, breaker and accounting as calls. */
  embed(request: EmbeddingRequest): Promise<EmbeddingResult>;
  /** What `usage` on `model` costs, in USD (0 for unpriced models). */
  costOf(model: string, usage: Usage): number;
  /** Whether `model` has a known price (a cost budget cannot be enforced on one without). Absent: every model is priced. */
  hasPrice?(model: string): boolean;
  /** Breaker state per provider:model. */
  breakerStates(): Record<string, 'closed' | 'open' | 'half_open'>;
  close(): Promise<void>;
}

/** How to reach the provider and how hard to try. */
export interface OpenAIGatewayOptions {
  provider: string;
  apiKey: string;
  baseURL?: string | undefined;
  api: 'chat_completions' | 'responses';
  retry: RetryPolicy;
  breaker: BreakerOptions;
  maxConcurrency: number;
  /** Provider calls one tenant may have in flight (0 or unset: no cap below maxConcurrency). */
  maxConcurrencyPerTenant?: number;
  /** Bytes of one provider answer's output (MAX_OUTPUT_BYTES); the response body may add an envelope allowance. */
  maxOutputBytes?: number;
  /** Ceiling of the adaptive limit of calls in flight per provider:model. */
  maxConcurrencyPerModel?: number;
  pricing: PricingTable;
  logger: Logger;
  /** For tests of the retry policy: deterministic jitter. */
  random?: () => number;
  /** Spans of provider attempts (default: none recorded). */
  tracing?: Tracing;
}

/** The gateway the configuration describes, for `provider` at `baseURL`. */
export function gatewayFromConfig(
  config: Config,
  target: { provider: string; baseURL: string | undefined; apiKey: string; logger: Logger; random?: () => number; tracing?: Tracing },
): OpenAIGateway {
  return new OpenAIGateway({
    provider: target.provider,
    apiKey: target.apiKey,
    baseURL: target.baseURL,
    api: config.OPENAI_API,
    retry: { maxAttempts: config.RETRY_MAX_ATTEMPTS, baseMs: config.RETRY_BASE_MS, maxDelayMs: config.RETRY_MAX_DELAY_MS, maxTotalMs: config.RETRY_MAX_TOTAL_MS },
    breaker: {
      errorThresholdPercentage: config.BREAKER_ERROR_PERCENT,
      volumeThreshold: config.BREAKER_VOLUME,
      consecutiveFailures: config.BREAKER_CONSECUTIVE_FAILURES,
      resetTimeout: config.BREAKER_RESET_MS,
      rollingCountTimeout: config.BREAKER_ROLLING_MS,
      maxWaitMs: config.BREAKER_WAIT_MS,
    },
    maxConcurrency: config.MAX_GLOBAL_CONCURRENCY,
    maxConcurrencyPerTenant: config.MAX_PROVIDER_CALLS_PER_TENANT,
    maxOutputBytes: config.MAX_OUTPUT_BYTES,
    maxConcurrencyPerModel: config.PROVIDER_MAX_CONCURRENCY,
    pricing: new PricingTable(config.PRICING_JSON),
    logger: target.logger,
    ...(target.random ? { random: target.random } : {}),
    ...(target.tracing ? { tracing: target.tracing } : {}),
  });
}

/** Wraps a JSON Schema whose root is not an object, since structured outputs need an object root. */
const WRAP_KEY = 'value';
/** Keywords holding data, not schemas: a `$ref` inside them is not a reference. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples']);

/**
 * `{type: object, properties: {value: schema}}`, with the schema's `$defs`
 * and `definitions` hoisted to the wrapper's root so `#/$defs/…` references
 * still resolve, and every other local reference (`#`, `#/properties/…`)
 * moved under `#/properties/value`. The schema was checked by the validator
 * already (bounded depth, local references only).
 */
export function wrapSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node === null || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#') && !/^#\/(\$defs|definitions)(\/|$)/.test(v)) {
        Object.defineProperty(out, k, { value: `#/properties/${WRAP_KEY}${v.slice(1)}`, enumerable: true, writable: true, configurable: true });
      } else Object.defineProperty(out, k, { value: DATA_KEYWORDS.has(k) ? v : rewrite(v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  // An inner $id would rebase the references under it; it belongs to the document's root.
  const { $defs, definitions, $id, $schema, ...inner } = rewrite(schema) as Record<string, unknown>;
  return {
    ...($schema !== undefined ? { $schema } : {}),
    ...($id !== undefined ? { $id } : {}),
    type: 'object',
    properties: { [WRAP_KEY]: inner },
    required: [WRAP_KEY],
    additionalProperties: false,
    ...($defs !== undefined ? { $defs } : {}),
    ...(definitions !== undefined ? { definitions } : {}),
  };
}

/**
 * Model calls on the OpenAI Agents SDK. The openai client's own retries are
 * off: one policy (ours) owns retrying; per provider:model a breaker admits
 * each attempt and counts each call once, and an adaptive limit lowers the
 * calls in flight after 429s; a global semaphore bounds calls in flight
 * across runs.
 */
export class OpenAIGateway implements ModelGateway {
  readonly provider: string;
  readonly #runner: Runner;
  readonly #options: OpenAIGatewayOptions;
  readonly #policy: CallPolicy;
  readonly #limit: Semaphore;
  readonly #modelProvider: BoundedModelProvider;
  readonly #client: OpenAI;
  readonly #transport: Transport;
  readonly #tracing: Tracing;

  constructor(options: OpenAIGatewayOptions) {
    this.provider = options.provider;
    this.#options = options;
    this.#tracing = options.tracing ?? NOOP_TRACING;
    // The Agents SDK's own trace export stays off: our provider_call spans cover its calls, in the run's trace.
    setTracingDisabled(true);
    // Trace headers travel per call through async context (see outgoingHeaders).
    this.#transport = createTransport(() => outgoingHeaders.getStore(), {
      maxResponseBytes: (options.maxOutputBytes ?? 1_048_576) + RESPONSE_ENVELOPE_BYTES,
    });
    const client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0, fetch: this.#transport.fetch });
    this.#client = client;
    // Not the SDK's OpenAIProvider: it keeps a model wrapper per model name for good (see BoundedModelProvider).
    this.#modelProvider = new BoundedModelProvider({ client, useResponses: options.api === 'responses' });
    this.#runner = new Runner({ modelProvider: this.#modelProvider, tracingDisabled: true });
    this.#policy = new CallPolicy({
      retry: options.retry,
      breaker: options.breaker,
      maxConcurrencyPerKey: options.maxConcurrencyPerModel ?? options.maxConcurrency,
      classify: mapProviderError,
      logger: options.logger,
      random: options.random,
    });
    this.#limit = new Semaphore(options.maxConcurrency, { perKeyLimit: options.maxConcurrencyPerTenant || undefined });
  }

  breakerStates() {
    return this.#policy.breakerStates();
  }

  costOf(model: string, usage: Usage): number {
    return this.#options.pricing.cost(model, usage);
  }

  hasPrice(model: string): boolean {
    return this.#options.pricing.has(model);
  }

  async call(request: ModelCallRequest): Promise<ModelCallResult> {
    const started = performance.now();
    const { signal } = request;
    const schema = request.outputSchema;
    const wrapped = schema !== undefined && schema.type !== 'object';
    // A fresh Agent per call on purpose: the seed lives in its modelSettings (a run takes no
    // model settings of its own), building one costs ~0.5 µs, and neither a cached Agent nor a
    // resolved Model object measurably cuts the SDK's cost (bench/agentsPath.ts): that is spent
    // inside Runner.run itself (RunState, session bookkeeping even without a session, input copies).
    const agent = new Agent({
      name: 'replicate',
      instructions: request.instructions ?? '',
      model: request.model,
      ...(request.tools?.length ? { tools: request.tools } : {}),
      ...(schema !== undefined
        ? {
            outputType: {
              type: 'json_schema' as const,
              name: 'output',
              strict: false,
              schema: (wrapped ? wrapSchema(schema) : schema) as never,
            },
          }
        : {}),
      modelSettings: {
        ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
        ...(request.maxOutputTokens !== undefined ? { maxTokens: request.maxOutputTokens } : {}),
        // The Responses API has no `seed`; sending one there is refused by OpenAI.
        ...(request.seed !== undefined && this.#options.api === 'chat_completions' ? { providerData: { seed: request.seed } } : {}),
      },
    });
    const input = toAgentInput(request.input);
    const spans = this.#tracing.enabled && request.span ? this.#callSpans(request) : undefined;
    const path = sdkPathOf(agent);
    const operation = path === 'model' ? () => singleTurn(this.#modelProvider.getModel(request.model), agent, input, signal) : () => this.#runner.run(agent, input, { signal, maxTurns: 1 });
    const attempt = this.#invoke(request.model, request, operation, spans);
    const { attempts } = attempt;
    try {
      const result = await attempt.value;
      const usage = sumUsage(result.rawResponses.map((r) => r.usage));
      let output: unknown = result.finalOutput;
      if (wrapped && output !== null && typeof output === 'object') output = (output as Record<string, unknown>)[WRAP_KEY];
      return {
        output,
        usage,
        cost_usd: this.#options.pricing.cost(request.model, usage),
        provider: this.provider,
        model: request.model,
        attempts: attempts(),
        latency_ms: performance.now() - started,
        runtime: 'openai_agents',
        sdk_path: path,
      };
    } catch (error) {
      throw this.#failure(error, signal, attempts(), started);
    }
  }

  async embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    const started = performance.now();
    const model = request.model ?? DEFAULT_EMBEDDING_MODEL;
    const spans: AttemptSpans<{ usage?: { prompt_tokens: number } | undefined }> | undefined =
      this.#tracing.enabled && request.span
        ? {
            attributes: { 'gen_ai.operation.name': 'embeddings', 'gen_ai.provider.name': this.provider, 'gen_ai.request.model': model },
            usage: (response) => ({ input_tokens: response.usage?.prompt_tokens ?? 0, output_tokens: 0 }),
          }
        : undefined;
    const attempt = this.#invoke(model, request, () => this.#client.embeddings.create({ model, input: request.input }, { signal: request.signal }), spans);
    try {
      const response = await attempt.value;
      const input = response.usage?.prompt_tokens ?? 0;
      const usage: Usage = { input_tokens: input, output_tokens: 0, total_tokens: input };
      const vectors = [...response.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
      return { vectors, usage, cost_usd: this.#options.pricing.cost(model, usage), provider: this.provider, model, attempts: attempt.attempts(), latency_ms: performance.now() - started };
    } catch (error) {
      throw this.#failure(error, request.signal, attempt.attempts(), started);
    }
  }

  /**
   * One provider operation under the call policy of provider:model (retries,
   * breaker, adaptive limit: `src/reliability/callPolicy.ts`); each attempt
   * then waits for the global semaphore and goes out with the trace headers.
   * Returns the pending value and a live attempt count (it keeps counting
   * while the value settles).
   */
  #invoke<T>(
    model: string,
    request: { signal: AbortSignal; trace: TraceContext; tenant?: string | undefined; span?: Span | undefined },
    operation: () => Promise<T>,
    spans?: AttemptSpans<NoInfer<T>>,
  ): { value: Promise<T>; attempts: () => number } {
    const { signal } = request;
    let attempts = 0;
    const value = this.#policy.run(`${this.provider}:${model}`, signal, () =>
      this.#limit.run(() => {
        // Counted when the request really goes out: not when the breaker refuses it or the run ends while it waits for a slot.
        attempts++;
        if (!spans || !request.span) {
          const headers = { traceparent: childTraceparent(request.trace), 'x-request-id': request.trace.request_id };
          return outgoingHeaders.run(headers, operation);
        }
        // One provider_call span per attempt; the provider sees it as the parent of its own spans.
        const span = this.#tracing.startChild('provider_call', request.span, { ...spans.attributes, 'provider_call.attempt': attempts }, SpanKind.CLIENT);
        const headers = { traceparent: traceparentOf(span) ?? childTraceparent(request.trace), 'x-request-id': request.trace.request_id };
        return outgoingHeaders.run(headers, operation).then(
          (result) => {
            endSpan(span, { attributes: { ...usageAttributes(spans.usage(result)), 'provider_call.breaker_outcome': 'success' } });
            return result;
          },
          (error: unknown) => {
            const mapped = signal.aborted && signal.reason instanceof ServiceError ? signal.reason : mapProviderError(error);
            const status = (mapped.details as { provider_status?: unknown } | undefined)?.provider_status;
            endSpan(span, {
              error: mapped,
              attributes: {
                // What this attempt told the breaker (an aborted one tells it nothing).
                'provider_call.breaker_outcome': signal.aborted ? 'ignored' : breakerOutcome(mapped),
                'provider_call.retryable': mapped.retryable,
                ...(typeof status === 'number' ? { 'http.response.status_code': status } : {}),
              },
            });
            throw error;
          },
        );
      }, signal, request.tenant),
    );
    return { value, attempts: () => attempts };
  }

  /** What the attempt spans of a model call carry (only built when tracing is on). */
  #callSpans(request: ModelCallRequest): AttemptSpans<{ rawResponses: Array<{ usage?: { inputTokens: number; outputTokens: number } | undefined }> }> {
    const attributes: Attributes = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': this.provider, 'gen_ai.request.model': request.model };
    if (request.seed !== undefined) attributes['gen_ai.request.seed'] = request.seed;
    if (request.temperature !== undefined) attributes['gen_ai.request.temperature'] = request.temperature;
    if (request.maxOutputTokens !== undefined) attributes['gen_ai.request.max_tokens'] = request.maxOutputTokens;
    return {
      attributes,
      usage: (result) => {
        const usage = sumUsage(result.rawResponses.map((r) => r.usage));
        return { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens };
      },
    };
  }

  /** An aborted run reports why it was aborted (cancel, timeout, budget), not how the socket died. */
  #failure(error: unknown, signal: AbortSignal, attempts: number, started: number): ModelCallError {
    const mapped = signal.aborted && signal.reason instanceof ServiceError ? signal.reason : mapProviderError(error);
    return new ModelCallError(mapped, attempts, performance.now() - started);
  }

  async close(): Promise<void> {
    this.#policy.shutdown();
    await this.#modelProvider.close();
    await this.#transport.close();
  }
}

/** How the attempts of one operation are described on their `provider_call` spans. */
interface AttemptSpans<T> {
  attributes: Attributes;
  usage(result: T): { input_tokens: number; output_tokens: number };
}

function toAgentInput(input: RunInput): string | AgentInputItem[] {
  if (typeof input === 'string') return input;
  return input.map((m): AgentInputItem => {
    if (m.role === 'assistant') {
      return { role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: m.content }] };
    }
    if (m.role === 'user') return { role: 'user', content: m.content };
    return { role: 'system', content: m.content };
  });
}

/** The Agents SDK's per-response usage, summed; total is input + output, as the contract counts it. */
function sumUsage(parts: Array<{ inputTokens: number; outputTokens: number } | undefined>): Usage {
  return parts.reduce<Usage>((sum, p) => (p ? addUsage(sum, { input_tokens: p.inputTokens, output_tokens: p.outputTokens, total_tokens: p.inputTokens + p.outputTokens }) : sum), emptyUsage());
}
