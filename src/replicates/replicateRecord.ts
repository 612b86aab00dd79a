import type { Span } from '@opentelemetry/api';
import { ServiceError } from '../errors.ts';
import { endSpan, usageAttributes } from '../observability/tracing.ts';
import { ModelCallError } from '../providers/gateway.ts';
import { emptyUsage, type Replicate } from '../schemas/bundle.ts';
import type { ResolvedRequest } from '../toolkit/api.ts';
import { isoMicros, preciseNow } from '../lib/clock.ts';
import { replicateSeed } from '../requests/resolveRequest.ts';
import { handoffCall } from './handoffCall.ts';
import type { PanelPlan } from './panelPlan.ts';
import type { ReplicateEnv } from './replicateEnv.ts';

/**
 * A replicate record: who it is (index, seed, model) from the request, and
 * what happened to it; anything not said is nothing (no output, no usage,
 * no time). The one place a {@link Replicate} is put together.
 */
export function replicateRecord(
  request: ResolvedRequest,
  index: number,
  where: { provider: string; model: string },
  outcome: Partial<Omit<Replicate, 'index' | 'seed'>> & Pick<Replicate, 'status'>,
): Replicate {
  return {
    index,
    output: null,
    valid: false,
    provider: where.provider,
    model: where.model,
    seed: replicateSeed(request.seed, index),
    attempts: 0,
    usage: emptyUsage(),
    cost_usd: 0,
    latency_ms: 0,
    started_at: null,
    ended_at: null,
    error: null,
    ...outcome,
  };
}

/** One replicate under its `replicate` span: the call and its outcome. Never throws. */
export async function callOne(env: ReplicateEnv, request: ResolvedRequest, index: number, signal: AbortSignal, panel: PanelPlan): Promise<Replicate> {
  const { tracing } = env;
  if (!tracing.enabled) return callModel(env, request, index, signal, undefined, panel);
  const seed = replicateSeed(request.seed, index);
  const span = tracing.startChild('replicate', env.span, { 'replicate.index': index, 'replicate.seed': seed, 'gen_ai.request.model': panel.modelOf(index) });
  if (env.spanContent) span.setAttribute('gen_ai.input.messages', env.spanContent(request.input));
  const replicate = await callModel(env, request, index, signal, span, panel);
  if (env.spanContent && replicate.output !== null) span.setAttribute('gen_ai.output.messages', env.spanContent(replicate.output));
  endSpan(span, {
    error: replicate.error,
    attributes: {
      'replicate.status': replicate.status,
      'replicate.valid': replicate.valid,
      'replicate.attempts': replicate.attempts,
      'gen_ai.provider.name': replicate.provider,
      'orchestrator.cost_usd': replicate.cost_usd,
      ...usageAttributes(replicate.usage),
    },
  });
  return replicate;
}

/** One replicate: one model call, then schema validation. Never throws. */
async function callModel(env: ReplicateEnv, request: ResolvedRequest, index: number, signal: AbortSignal, span: Span | undefined, panel: PanelPlan): Promise<Replicate> {
  const schema = request.agent.output_schema;
  const startedAt = preciseNow();
  const model = panel.modelOf(index);
  try {
    const result = await env.models.call({
      model,
      fallbackModels: panel.fallbacks,
      slot: { replicate: index },
      instructions: request.agent.instructions,
      input: request.input,
      outputSchema: schema,
      seed: replicateSeed(request.seed, index),
      temperature: request.agent.temperature,
      maxOutputTokens: request.agent.max_output_tokens,
      signal,
      span,
      ...handoffCall(env, request, index),
    });
    const check = schema ? env.validator.validate(schema, result.output) : { valid: true, errors: [] };
    return replicateRecord(request, index, { provider: result.provider, model: result.model }, {
      status: check.valid ? 'succeeded' : 'failed',
      output: check.discard ? null : result.output,
      valid: check.valid,
      attempts: result.attempts,
      usage: result.usage,
      cost_usd: result.cost_usd,
      latency_ms: round(result.latency_ms),
      started_at: isoMicros(startedAt),
      ended_at: isoMicros(preciseNow()),
      error: check.valid
        ? null
        : new ServiceError('schema_validation', `output does not match output_schema: ${check.errors.slice(0, 5).join('; ')}`, { details: { errors: check.errors.slice(0, 20) } }).toJSON(),
      ...(result.warnings?.length ? { warnings: result.warnings } : {}),
      ...(result.fallbacks?.length ? { fallbacks: result.fallbacks } : {}),
      ...(result.runtime ? { runtime: result.runtime } : {}),
    });
  } catch (error) {
    const failure = error instanceof ModelCallError ? error : new ModelCallError(new ServiceError('internal', String(error)), 0, 0);
    if (!signal.aborted) env.log.warn({ replicate: index, code: failure.error.code, attempts: failure.attempts, err: failure.error }, 'replicate failed');
    const tried = failure.provider !== undefined && failure.model !== undefined ? { provider: failure.provider, model: failure.model } : env.models.resolve(model);
    return replicateRecord(request, index, tried, {
      status: signal.aborted ? 'cancelled' : 'failed',
      attempts: failure.attempts,
      ...(failure.spent ? { usage: failure.spent.usage, cost_usd: failure.spent.cost_usd } : {}),
      latency_ms: round(failure.latency_ms),
      started_at: isoMicros(startedAt),
      ended_at: isoMicros(preciseNow()),
      error: failure.error.toJSON(),
      ...(failure.fallbacks.length > 0 ? { fallbacks: failure.fallbacks } : {}),
    });
  }
}

/** A replicate that was never launched (the run stopped first). */
export function notLaunched(index: number, request: ResolvedRequest, where: { provider: string; model: string }, signal: AbortSignal): Replicate {
  const reason = signal.reason instanceof ServiceError ? signal.reason : new ServiceError('cancelled', 'not launched');
  return replicateRecord(request, index, where, { status: 'cancelled', error: reason.toJSON() });
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
