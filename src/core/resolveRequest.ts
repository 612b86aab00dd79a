import { ServiceError } from '../errors.ts';
import type { RunRequest } from '../schemas/request.ts';
import type { ResolvedRequest, ToolDefinition } from '../tools/api.ts';

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
  const replicates = body.replicates ?? d.replicates ?? DEFAULT_REPLICATES;
  if (replicates > limits.maxReplicates) {
    throw new ServiceError('invalid_request', `replicates must be at most ${limits.maxReplicates} (MAX_REPLICATES), got ${replicates}`, {
      details: { field: 'replicates' },
    });
  }
  const timeout = body.timeout_ms ?? d.timeout_ms;
  if (timeout !== undefined && timeout > limits.maxTimeoutMs) {
    throw new ServiceError('invalid_request', `timeout_ms must be at most ${limits.maxTimeoutMs} (MAX_TIMEOUT_MS)`, { details: { field: 'timeout_ms' } });
  }
  const earlyStop = body.early_stop || d.early_stop ? { ...d.early_stop, ...body.early_stop } : undefined;
  // Only what the caller asked for is an error; a tool default that cannot apply to a smaller run is relaxed.
  if (body.early_stop?.min_replicates !== undefined && body.early_stop.min_replicates > replicates) {
    throw new ServiceError('invalid_request', `early_stop.min_replicates (${body.early_stop.min_replicates}) exceeds replicates (${replicates})`, {
      details: { field: 'early_stop.min_replicates' },
    });
  }
  if (body.early_stop?.quorum !== undefined && body.early_stop.quorum > replicates) {
    throw new ServiceError('invalid_request', `early_stop.quorum (${body.early_stop.quorum}) exceeds replicates (${replicates}); it could never be reached`, {
      details: { field: 'early_stop.quorum' },
    });
  }
  if (earlyStop?.quorum !== undefined && earlyStop.quorum > replicates) earlyStop.quorum = replicates;
  if (earlyStop?.min_replicates !== undefined && earlyStop.min_replicates > replicates) earlyStop.min_replicates = replicates;
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
