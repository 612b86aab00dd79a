import { ServiceError } from '../errors.ts';
import type { EarlyStopConfig, RunRequest } from '../schemas/request.ts';
import type { ResolvedRequest, ToolDefinition } from '../toolkit/api.ts';

/** Service-wide bounds a request must fit. */
export interface RequestLimits {
  maxReplicates: number;
  maxTimeoutMs: number;
  defaultTimeoutMs: number;
  defaultModel: string;
}

/** Replicates a tool runs when neither the request nor the tool says. */
export const DEFAULT_REPLICATES = 3;

/**
 * Applies the tool's defaults (and the planner's options) under the
 * request's own fields, resolves the model and the seed, and refuses what
 * cannot work with a 400 that says which field is wrong.
 */
export function resolveRequest(
  body: RunRequest,
  tool: ToolDefinition,
  plannerOptions: Record<string, unknown> | undefined,
  limits: RequestLimits,
  randomSeed: () => number,
): ResolvedRequest {
  tool.admit?.();
  const d = tool.defaults ?? {};
  const replicates = checkReplicates(body.replicates ?? d.replicates ?? DEFAULT_REPLICATES, limits);
  const timeout = body.timeout_ms ?? d.timeout_ms;
  if (timeout !== undefined && timeout > limits.maxTimeoutMs) {
    throw new ServiceError('invalid_request', `timeout_ms must be at most ${limits.maxTimeoutMs} (MAX_TIMEOUT_MS)`, { details: { field: 'timeout_ms' } });
  }
  const earlyStop = fitEarlyStop(body.early_stop || d.early_stop ? { ...d.early_stop, ...body.early_stop } : undefined, body.early_stop, replicates);
  const agent = { ...d.agent, ...body.agent };
  return {
    input: body.input,
    // A panel's first model stands for the run where one model is needed (the synthesizer's default, estimates).
    agent: { ...agent, model: agent.model ?? firstModel(agent.models) ?? limits.defaultModel },
    replicates,
    seed: body.seed ?? randomSeed(),
    early_stop: earlyStop,
    launch: { policy: 'all', ...d.launch, ...body.launch },
    budget: { ...d.budget, ...body.budget },
    synthesize: body.synthesize ?? d.synthesize,
    metric: d.metric ?? 'auto',
    merge: d.merge ?? 'vote',
    ...(body.merge?.weights !== undefined ? { model_weights: body.merge.weights } : {}),
    options: { ...plannerOptions, ...body.options },
  };
}

function firstModel(models: ReadonlyArray<string | { model: string }> | undefined): string | undefined {
  const first = models?.[0];
  return typeof first === 'string' ? first : first?.model;
}

/** The seed of replicate `index`: distinct per replicate, reproducible from the run seed. */
export function replicateSeed(runSeed: number, index: number): number {
  return (runSeed + index + 1) % 2 ** 31;
}

/**
 * The request of an inner tool of a composite: it runs on its own defaults
 * under what the composite asks for it; only the run-wide choices (seed,
 * budget, model fallback, options) carry over from the run's request. The
 * same bounds apply as to a run's (MAX_REPLICATES, early stop within the
 * replicates).
 */
export function resolveInnerRequest(outer: ResolvedRequest, tool: ToolDefinition, inner: Partial<ResolvedRequest>, limits: Pick<RequestLimits, 'maxReplicates'>): ResolvedRequest {
  const d = tool.defaults ?? {};
  const replicates = checkReplicates(inner.replicates ?? d.replicates ?? outer.replicates, limits);
  return {
    ...outer,
    input: inner.input ?? outer.input,
    replicates,
    early_stop: fitEarlyStop(inner.early_stop ?? (d.early_stop ? { ...d.early_stop } : undefined), inner.early_stop, replicates),
    launch: { policy: 'all', ...d.launch, ...inner.launch },
    synthesize: inner.synthesize ?? d.synthesize,
    metric: inner.metric ?? d.metric ?? 'auto',
    merge: inner.merge ?? d.merge ?? 'vote',
    agent: { model: outer.agent.model, ...d.agent, ...inner.agent } as ResolvedRequest['agent'],
  };
}

function checkReplicates(replicates: number, limits: Pick<RequestLimits, 'maxReplicates'>): number {
  if (replicates > limits.maxReplicates) {
    throw new ServiceError('invalid_request', `replicates must be at most ${limits.maxReplicates} (MAX_REPLICATES), got ${replicates}`, {
      details: { field: 'replicates' },
    });
  }
  return replicates;
}

/**
 * Early stop within `replicates`: what was asked for (`asked`) and cannot be
 * reached is an error; a default that cannot apply to a smaller run is relaxed.
 */
function fitEarlyStop(earlyStop: EarlyStopConfig | undefined, asked: EarlyStopConfig | undefined, replicates: number): EarlyStopConfig | undefined {
  if (asked?.min_replicates !== undefined && asked.min_replicates > replicates) {
    throw new ServiceError('invalid_request', `early_stop.min_replicates (${asked.min_replicates}) exceeds replicates (${replicates})`, {
      details: { field: 'early_stop.min_replicates' },
    });
  }
  if (asked?.quorum !== undefined && asked.quorum > replicates) {
    throw new ServiceError('invalid_request', `early_stop.quorum (${asked.quorum}) exceeds replicates (${replicates}); it could never be reached`, {
      details: { field: 'early_stop.quorum' },
    });
  }
  if (earlyStop?.quorum !== undefined && earlyStop.quorum > replicates) earlyStop.quorum = replicates;
  if (earlyStop?.min_replicates !== undefined && earlyStop.min_replicates > replicates) earlyStop.min_replicates = replicates;
  return earlyStop;
}
