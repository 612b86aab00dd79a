import OpenAI from 'openai';
// The SDK's packages, not `@openai/agents`: its index also loads the realtime client and `ws` (~3 MiB), which no call uses.
import { Runner, setSensitiveDataLoggingEnabled, setTracingDisabled, type AgentInputItem } from '@openai/agents-core';
import { SpanKind, type Attributes, type Span } from '@opentelemetry/api';
import { ServiceError } from '../errors.ts';
import { Semaphore } from '../lib/semaphore.ts';
import { childTraceparent, outgoingHeaders, type TraceContext } from '../lib/trace.ts';
import { breakerOutcome } from '../reliability/breakers.ts';
import { endSpan, NOOP_TRACING, traceparentOf, usageAttributes, type Tracing } from '../observability/tracing.ts';
import { CallPolicy } from '../reliability/callPolicy.ts';
import { emptyUsage, type Usage } from '../schemas/bundle.ts';
import { agentRequest, sumUsage, toAgentInput, type CallAgent } from './agentRequest.ts';
import { DEFAULT_EMBEDDING_MODEL, ModelCallError, type EmbeddingRequest, type EmbeddingResult, type ModelCallRequest, type ModelCallResult, type ModelGateway } from './callTypes.ts';
import type { OpenAIGatewayOptions } from './clientOptions.ts';
import { capabilitiesFor, planCall, type CallPlan } from './capabilities.ts';
import { mapProviderError } from './errorMap.ts';
import { HandoffRunError, runWithHandoffs, type HandoffRequest, type HandoffRunDeps } from './handoffRun.ts';
import { BoundedModelProvider } from './modelProvider.ts';
import { sdkPathOf, singleTurn } from './singleTurn.ts';
import { createTransport, RESPONSE_ENVELOPE_BYTES, type Transport } from './transport.ts';

export type { OpenAIGatewayOptions };

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
  readonly #providerLimit: Semaphore | null;
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
    // Nor does it log prompts or answers, whatever its environment variables say: what reaches the logs is ours to
    // redact. Set here, the SDK also stops reading two environment variables on every model call.
    setSensitiveDataLoggingEnabled(false);
    // Trace headers travel per call through async context (see outgoingHeaders).
    this.#transport = createTransport(() => outgoingHeaders.getStore(), {
      maxResponseBytes: (options.maxOutputBytes ?? 1_048_576) + RESPONSE_ENVELOPE_BYTES,
    });
    const client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      maxRetries: 0,
      fetch: this.#transport.fetch,
      ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    });
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
    this.#limit = options.globalLimit ?? new Semaphore(options.maxConcurrency, { perKeyLimit: options.maxConcurrencyPerTenant || undefined });
    this.#providerLimit = options.providerMaxConcurrency !== undefined ? new Semaphore(options.providerMaxConcurrency) : null;
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
    if (request.handoffs) return this.#callWithHandoffs(request, request.handoffs);
    const started = performance.now();
    const { signal } = request;
    const { api } = this.#options;
    const plan = planCall(
      { seed: request.seed, temperature: request.temperature, structured: request.outputSchema !== undefined, api },
      capabilitiesFor(request.model, this.#options.capabilities),
    );
    const { agent, read } = agentRequest(request, plan, api);
    const input = toAgentInput(request.input);
    const spans = this.#tracing.enabled && request.span ? this.#callSpans(request, plan) : undefined;
    // A single turn (no tools, no handoffs) on the SDK's model layer, anything more on its Runner (singleTurn.ts).
    const path = sdkPathOf(agent);
    const operation = path === 'model' ? () => singleTurn(this.#modelProvider.getModel(request.model), agent, input, signal) : () => runAgent(this.#runner, agent, input, signal);
    const attempt = this.#invoke(request.model, request, operation, spans);
    const { attempts } = attempt;
    try {
      const result = await attempt.value;
      const usage = sumUsage(result.rawResponses.map((r) => r.usage));
      return {
        output: read(result.finalOutput),
        usage,
        cost_usd: this.#options.pricing.cost(request.model, usage),
        provider: this.provider,
        model: request.model,
        attempts: attempts(),
        latency_ms: performance.now() - started,
        warnings: plan.warnings,
        runtime: 'openai_agents',
        sdk_path: path,
      };
    } catch (error) {
      throw this.#failure(error, signal, attempts(), started, request.model);
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
      throw this.#failure(error, request.signal, attempt.attempts(), started, model);
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
    request: { signal: AbortSignal; trace: TraceContext; tenant?: string | undefined; span?: Span | undefined; idempotencyKey?: string | undefined },
    operation: () => Promise<T>,
    spans?: AttemptSpans<NoInfer<T>>,
  ): { value: Promise<T>; attempts: () => number } {
    const { signal } = request;
    let attempts = 0;
    // Built once per call: every retry of it carries the same Idempotency-Key.
    const idempotency = request.idempotencyKey !== undefined ? { 'idempotency-key': request.idempotencyKey } : {};
    const providerLimit = this.#providerLimit;
    const send = providerLimit ? () => providerLimit.run(operation, signal) : operation;
    const value = this.#policy.run(`${this.provider}:${model}`, signal, () =>
      this.#limit.run(() => {
        // Counted when the request really goes out: not when the breaker refuses it or the run ends while it waits for a slot.
        attempts++;
        if (!spans || !request.span) {
          const headers = { traceparent: childTraceparent(request.trace), 'x-request-id': request.trace.request_id, ...idempotency };
          return outgoingHeaders.run(headers, send);
        }
        // One provider_call span per attempt; the provider sees it as the parent of its own spans.
        const span = this.#tracing.startChild('provider_call', request.span, { ...spans.attributes, 'provider_call.attempt': attempts }, SpanKind.CLIENT);
        const headers = { traceparent: traceparentOf(span) ?? childTraceparent(request.trace), 'x-request-id': request.trace.request_id, ...idempotency };
        return outgoingHeaders.run(headers, send).then(
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
  #callSpans(request: ModelCallRequest, plan: CallPlan): AttemptSpans<{ rawResponses: Array<{ usage?: { inputTokens: number; outputTokens: number } | undefined }> }> {
    const attributes: Attributes = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': this.provider, 'gen_ai.request.model': request.model };
    if (plan.seed !== undefined) attributes['gen_ai.request.seed'] = plan.seed;
    if (plan.temperature !== undefined) attributes['gen_ai.request.temperature'] = plan.temperature;
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
  #failure(error: unknown, signal: AbortSignal, attempts: number, started: number, model: string): ModelCallError {
    const mapped = signal.aborted && signal.reason instanceof ServiceError ? signal.reason : mapProviderError(error);
    return new ModelCallError(mapped, attempts, performance.now() - started, { provider: this.provider, model });
  }

  /** A call whose agents hand the task to one another: each turn its own attempt (src/providers/handoffRun.ts). */
  async #callWithHandoffs(request: ModelCallRequest, handoffs: HandoffRequest): Promise<ModelCallResult> {
    const started = performance.now();
    const { api } = this.#options;
    // Fitted to the model like a one-turn call; the handoff run builds its own agents from these options.
    const plan = planCall(
      { seed: request.seed, temperature: request.temperature, structured: request.outputSchema !== undefined, api },
      capabilitiesFor(request.model, this.#options.capabilities),
    );
    const { agent, read, fit } = agentRequest(request, plan, api);
    const agentOptions = {
      ...(agent.outputType !== 'text' ? { outputType: agent.outputType as never } : {}),
      modelSettings: agent.modelSettings,
    };
    let turn = 0;
    const deps: HandoffRunDeps = {
      runner: this.#runner,
      model: (name) => this.#modelProvider.getModel(name),
      // Each turn is its own provider call: its own Idempotency-Key, kept across that turn's retries.
      invoke: (model, call, operation, spans) =>
        this.#invoke(model, { ...call, idempotencyKey: request.idempotencyKey === undefined ? undefined : `${request.idempotencyKey}.t${turn++}` }, operation, spans),
      cost: (model, usage) => this.#options.pricing.cost(model, usage),
      provider: this.provider,
      tracing: this.#tracing,
    };
    try {
      const outcome = await runWithHandoffs(deps, { ...request, input: toAgentInput(request.input), handoffs, agentOptions, fitInstructions: fit });
      return {
        output: read(outcome.finalOutput),
        usage: outcome.usage,
        cost_usd: outcome.cost_usd,
        provider: this.provider,
        model: request.model,
        attempts: outcome.attempts,
        latency_ms: performance.now() - started,
        chargedByTurn: handoffs.onTurn !== undefined,
        warnings: plan.warnings,
        runtime: 'openai_agents',
        sdk_path: 'runner',
      };
    } catch (error) {
      const failed = error instanceof HandoffRunError ? error : new HandoffRunError(error, 0, emptyUsage(), 0);
      const mapped = this.#failure(failed.cause, request.signal, failed.attempts, started, request.model);
      throw new ModelCallError(mapped.error, failed.attempts, mapped.latency_ms, { provider: this.provider, model: request.model, spent: { usage: failed.usage, cost_usd: failed.cost_usd } });
    }
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


/**
 * The one place the Agents SDK runs a model call: one turn of `agent` on
 * `input`. Kept this small so other call paths (a direct Model.getResponse,
 * a Runner with handoffs) replace exactly this.
 */
export function runAgent(runner: Runner, agent: CallAgent, input: string | AgentInputItem[], signal: AbortSignal) {
  return runner.run(agent, input, { signal, maxTurns: 1 });
}
