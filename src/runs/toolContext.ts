import type { Span } from '@opentelemetry/api';
import { isAbortError, ServiceError } from '../errors.ts';
import { lazyChild } from '../observability/logger.ts';
import { endSpan, type Tracing } from '../observability/tracing.ts';
import { DEFAULT_EMBEDDING_MODEL, ModelCallError, type CallAccounting } from '../providers/gateway.ts';
import { estimateCall, type CallEstimate } from '../requests/budgetCheck.ts';
import { resolveInnerRequest } from '../requests/resolveRequest.ts';
import { runReplicates } from '../replicates/replicateRunner.ts';
import type { Usage } from '../schemas/bundle.ts';
import type { EmittedEvent } from '../schemas/events.ts';
import type { RunInput } from '../schemas/request.ts';
import type { ResolvedRequest, RunModels, ToolContext, ToolDefinition, ToolOutcome } from '../toolkit/api.ts';
import { rememberStep } from '../toolkit/stepMemory.ts';
import { callKeyring } from './callKeyring.ts';
import { cancelledError, type ActiveRun, type OrchestratorDeps } from './runTypes.ts';

/**
 * Runs tools inside a run: the run's own, and the inner tools of a
 * composite, each under its own `tool` span with a {@link ToolContext}
 * whose provider calls are reserved on and charged to the run's account.
 */
export class ToolRunner {
  readonly #deps: OrchestratorDeps;
  readonly #tracing: Tracing;
  readonly #emit: (active: ActiveRun, event: EmittedEvent) => void;

  constructor(deps: OrchestratorDeps, tracing: Tracing, emit: (active: ActiveRun, event: EmittedEvent) => void) {
    this.#deps = deps;
    this.#tracing = tracing;
    this.#emit = emit;
  }

  /** Runs one tool (the run's, or an inner one of a composite) under its own `tool` span. */
  async execute(active: ActiveRun, tool: ToolDefinition, request: ResolvedRequest, signal: AbortSignal, parent: Span, step: string | null): Promise<ToolOutcome> {
    const tracing = this.#tracing;
    if (!tracing.enabled) return tool.execute(this.#context(active, tool, request, signal, parent, step ?? undefined));
    const span = tracing.startChild('tool', parent, { 'tool.name': tool.name, 'tool.version': tool.version, ...(step !== null ? { 'tool.step': step } : {}) });
    try {
      const outcome = await tool.execute(this.#context(active, tool, request, signal, span, step ?? undefined));
      endSpan(span, { error: outcome.error ?? (signal.aborted && signal.reason instanceof ServiceError ? signal.reason : null) });
      return outcome;
    } catch (error) {
      endSpan(span, { error: error instanceof ServiceError ? error : new ServiceError('internal', String(error)) });
      throw error;
    }
  }

  /** The run's models for one tool: every call reserved on, then charged to, the run's account. */
  #models(active: ActiveRun, signal: AbortSignal, span: Span, step: string | undefined): RunModels {
    const deps = this.#deps;
    const keyOf = callKeyring({ id: active.id, idempotencyKey: active.idempotencyKey }, step);
    const costOf = (model: string, usage: Usage) => deps.gateway.costOf(model, usage);
    const outputAllowance = deps.limits.outputTokensReserved ?? 1024;
    return {
      provider: deps.gateway.provider,
      resolve: (ref) => deps.gateway.resolve?.(ref) ?? { provider: deps.gateway.provider, model: ref },
      call: ({ slot, ...call }) =>
        charged(
          active,
          estimateCall([call.model, ...(call.fallbackModels ?? [])], promptChars(call.input) + (call.instructions?.length ?? 0), call.maxOutputTokens ?? outputAllowance, costOf),
          call.signal ?? signal,
          (callSignal) => deps.gateway.call({ span, ...call, signal: callSignal, trace: active.trace, tenant: active.tenant, idempotencyKey: keyOf(slot) }),
        ),
      embed: (call) =>
        charged(
          active,
          estimateCall([call.model ?? DEFAULT_EMBEDDING_MODEL], call.input.reduce((n, text) => n + text.length, 0), 0, costOf),
          call.signal ?? signal,
          (callSignal) => deps.gateway.embed({ span, ...call, signal: callSignal, trace: active.trace, tenant: active.tenant, idempotencyKey: keyOf() }),
        ),
    };
  }

  #context(active: ActiveRun, tool: ToolDefinition, request: ResolvedRequest, signal: AbortSignal, span: Span, step?: string): ToolContext {
    const deps = this.#deps;
    const tracing = this.#tracing;
    const models = this.#models(active, signal, span, step);
    const ctx: ToolContext = {
      runId: active.id,
      toolName: tool.name,
      request,
      signal,
      trace: active.trace,
      span,
      // The run's logger already names its tool; only inner tools need their own.
      log: tool === active.tool ? active.log : lazyChild(active.log, { tool: tool.name }),
      models,
      memory: active.memory.view(step),
      // An inner tool's replicates say which step of the composite made them.
      emit: (event) =>
        this.#emit(active, { tool: tool.name, ...(step !== undefined && event.type === 'replicate_done' ? { ...event, replicate: { ...event.replicate, step } } : event) }),
      replicate: (overrides) => {
        // A take-over's kept replicates belong to the run's own first replicate pass (composite runs are never continued).
        const kept = tool === active.tool ? active.kept : [];
        if (kept.length > 0) active.kept = [];
        return runReplicates(
          {
            signal,
            models,
            emit: ctx.emit,
            validator: deps.validator,
            maxConcurrency: deps.limits.maxConcurrency,
            account: active.account,
            log: ctx.log,
            tracing,
            span,
            spanContent: tracing.captureContent ? (value) => spanText(deps.redact(value, 'log')) : undefined,
            kept,
            memory: ctx.memory,
          },
          { ...request, ...overrides },
        );
      },
      runTool: async (name, inner, options = {}) => {
        const innerTool = deps.registry.resolve(name, options.version);
        const innerRequest = resolveInnerRequest(request, innerTool, inner, deps.limits);
        const innerStep = options.step ?? innerTool.name;
        ctx.emit({ type: 'tool_started', tool: innerTool.name, step: innerStep });
        const result = await this.execute(active, innerTool, innerRequest, signal, span, innerStep);
        await rememberStep(ctx, innerStep, innerTool.name, result);
        ctx.emit({ type: 'tool_completed', tool: innerTool.name, step: innerStep, status: result.error ? 'failed' : 'succeeded' });
        return result;
      },
    };
    return ctx;
  }
}

/**
 * Every provider operation's spend lands on the run's account, whoever made it; its estimate is
 * reserved on the account before it is sent, so calls in flight together cannot overshoot the budget.
 */
async function charged<T extends CallAccounting>(active: ActiveRun, estimate: CallEstimate, callSignal: AbortSignal, operation: (signal: AbortSignal) => Promise<T>): Promise<T> {
  let release: (() => void) | undefined;
  try {
    release = await active.account.reserve(estimate, callSignal);
    const result = await operation(callSignal);
    if (!('chargedByTurn' in result && result.chargedByTurn)) active.account.charge(result.provider, result.model, result.usage, result.cost_usd);
    return result;
  } catch (error) {
    if (error instanceof ModelCallError) throw error;
    if (error instanceof ServiceError) throw new ModelCallError(error, 0, 0);
    throw new ModelCallError(isAbortError(error) || callSignal.aborted ? cancelledError() : new ServiceError('internal', String(error)), 0, 0);
  } finally {
    release?.();
  }
}

/** Characters of a prompt (for call reservations). */
function promptChars(input: RunInput): number {
  return typeof input === 'string' ? input.length : input.reduce((n, m) => n + m.content.length, 0);
}

/** A value as span attribute text: strings as they are, anything else as JSON. */
function spanText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');
}
