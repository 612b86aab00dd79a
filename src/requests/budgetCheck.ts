import { ServiceError } from '../errors.ts';
import type { Usage } from '../schemas/bundle.ts';
import { inputText } from '../schemas/inputText.ts';
import type { ResolvedRequest } from '../toolkit/api.ts';

/**
 * Characters per token for a lower bound on prompt size. English averages
 * about 4; 6 keeps the estimate below the real count for nearly any text,
 * so a request is only refused when it certainly cannot fit.
 */
const CHARS_PER_TOKEN_LOWER_BOUND = 6;

/** A lower bound on the tokens one replicate of `request` spends: its prompt, plus one output token. */
export function minimumReplicateUsage(request: ResolvedRequest): Usage {
  const text = inputText(request.input);
  const chars = text.length + (request.agent.instructions?.length ?? 0);
  const input = Math.ceil(chars / CHARS_PER_TOKEN_LOWER_BOUND);
  return { input_tokens: input, output_tokens: 1, total_tokens: input + 1 };
}

/**
 * Refuses up front a run whose minimum (the replicates early stop needs, or
 * one) cannot fit its token or cost budget, rather than spending part of it
 * to find out.
 */
export function checkBudgetFits(request: ResolvedRequest, costOf: (model: string, usage: Usage) => number): void {
  const { max_tokens, max_cost_usd } = request.budget;
  if (max_tokens === undefined && max_cost_usd === undefined) return;
  const minimum = Math.max(1, request.early_stop?.min_replicates ?? 1);
  const one = minimumReplicateUsage(request);
  const tokens = minimum * one.total_tokens;
  if (max_tokens !== undefined && tokens > max_tokens) {
    throw new ServiceError(
      'invalid_request',
      `budget.max_tokens (${max_tokens}) cannot cover the minimum of ${minimum} replicate(s): the prompt alone is at least ${one.input_tokens} tokens each (${tokens} in all)`,
      { details: { field: 'budget.max_tokens', minimum_tokens: tokens } },
    );
  }
  const cheapest = cheapestModel(request, one, costOf);
  const cost = minimum * costOf(cheapest, one);
  if (max_cost_usd !== undefined && cost > max_cost_usd) {
    throw new ServiceError(
      'invalid_request',
      `budget.max_cost_usd (${max_cost_usd}) cannot cover the minimum of ${minimum} replicate(s) on ${cheapest.slice(0, 100)}: at least $${cost.toPrecision(3)}`,
      { details: { field: 'budget.max_cost_usd', minimum_cost_usd: cost } },
    );
  }
}

/** The operator's ceilings on what one run may spend (0 or unset: none). */
export interface CostLimits {
  /** Token budget of a run that names none (DEFAULT_MAX_TOKENS_PER_RUN). */
  defaultMaxTokensPerRun?: number | undefined;
  /** The most tokens a run may budget or certainly need (MAX_TOKENS_PER_RUN). */
  maxTokensPerRun?: number | undefined;
  /** The most USD a run may budget or certainly need (MAX_COST_USD_PER_RUN). */
  maxCostUsdPerRun?: number | undefined;
}

/** The models a replicate may be asked of first: the panel's (`agent.models`), else the agent's. */
function replicateModels(request: ResolvedRequest): string[] {
  return request.agent.models?.map((m) => (typeof m === 'string' ? m : m.model)) ?? [request.agent.model];
}

/** The replicate model whose call costs least: what a run certainly spends is priced on it. */
function cheapestModel(request: ResolvedRequest, usage: Usage, costOf: (model: string, usage: Usage) => number): string {
  return replicateModels(request).reduce((best, m) => (costOf(m, usage) < costOf(best, usage) ? m : best));
}

/** The models a run's calls may go to: the panel's or the agent's, their fallbacks, and the synthesizer's. */
function modelsOf(request: ResolvedRequest): string[] {
  const synth = typeof request.synthesize === 'object' ? request.synthesize.model : undefined;
  return [...new Set([...replicateModels(request), request.agent.model, ...(request.agent.fallback_models ?? []), ...(synth !== undefined ? [synth] : [])])];
}

/**
 * Applies the operator's ceilings to a resolved request, in place: a
 * request budgeting above a ceiling, or whose replicates certainly need more
 * than it (every prompt at the lower-bound estimate), is refused with 400
 * naming the limit; a run without a budget gets the default one and the
 * ceilings as its limits. A cost budget on a model with no known price could
 * never trip, so it is refused too.
 */
export function applyCostCeilings(
  request: ResolvedRequest,
  limits: CostLimits,
  costOf: (model: string, usage: Usage) => number,
  hasPrice: (model: string) => boolean,
): void {
  const maxTokens = positive(limits.maxTokensPerRun);
  const maxCost = positive(limits.maxCostUsdPerRun);
  const budget = request.budget;
  if (maxTokens !== undefined && budget.max_tokens !== undefined && budget.max_tokens > maxTokens) {
    throw new ServiceError('invalid_request', `budget.max_tokens (${budget.max_tokens}) is above this server's ceiling MAX_TOKENS_PER_RUN (${maxTokens})`, {
      details: { field: 'budget.max_tokens', limit: 'MAX_TOKENS_PER_RUN', max: maxTokens },
    });
  }
  if (maxCost !== undefined && budget.max_cost_usd !== undefined && budget.max_cost_usd > maxCost) {
    throw new ServiceError('invalid_request', `budget.max_cost_usd (${budget.max_cost_usd}) is above this server's ceiling MAX_COST_USD_PER_RUN (${maxCost})`, {
      details: { field: 'budget.max_cost_usd', limit: 'MAX_COST_USD_PER_RUN', max: maxCost },
    });
  }
  const one = minimumReplicateUsage(request);
  const needed = one.total_tokens * request.replicates;
  if (maxTokens !== undefined && needed > maxTokens) {
    throw new ServiceError(
      'invalid_request',
      `this run needs at least ${needed} tokens (${request.replicates} replicate(s) of a prompt of at least ${one.input_tokens} tokens), above this server's ceiling MAX_TOKENS_PER_RUN (${maxTokens}); send a shorter input or fewer replicates`,
      { details: { field: 'input', limit: 'MAX_TOKENS_PER_RUN', max: maxTokens, minimum_tokens: needed } },
    );
  }
  if (budget.max_cost_usd !== undefined || maxCost !== undefined) {
    const unpriced = modelsOf(request).find((model) => !hasPrice(model));
    if (unpriced !== undefined) {
      const which = budget.max_cost_usd !== undefined ? 'budget.max_cost_usd' : "this server's MAX_COST_USD_PER_RUN";
      throw new ServiceError('invalid_request', `${which} cannot be enforced on model "${unpriced.slice(0, 100)}": it has no known price (PRICING_JSON)`, {
        details: { field: budget.max_cost_usd !== undefined ? 'budget.max_cost_usd' : 'agent.model', limit: 'MAX_COST_USD_PER_RUN' },
      });
    }
  }
  if (maxCost !== undefined) {
    const cost = request.replicates * costOf(cheapestModel(request, one, costOf), one);
    if (cost > maxCost) {
      throw new ServiceError('invalid_request', `this run costs at least $${cost.toPrecision(3)}, above this server's ceiling MAX_COST_USD_PER_RUN ($${maxCost})`, {
        details: { field: 'input', limit: 'MAX_COST_USD_PER_RUN', max: maxCost, minimum_cost_usd: cost },
      });
    }
  }
  const fallback = positive(limits.defaultMaxTokensPerRun);
  if (budget.max_tokens === undefined && (fallback ?? maxTokens) !== undefined) {
    budget.max_tokens = Math.min(fallback ?? Number.POSITIVE_INFINITY, maxTokens ?? Number.POSITIVE_INFINITY);
  }
  if (budget.max_cost_usd === undefined && maxCost !== undefined) budget.max_cost_usd = maxCost;
}

/**
 * Tokens (and USD) reserved for one call before it is sent: the prompt at
 * the typical 4 characters a token plus the output allowance, and the
 * certain minimum (lower-bound prompt, one output token) with which a call
 * may still go out alone on a nearly spent budget.
 */
export interface CallEstimate {
  tokens: number;
  costUsd: number;
  minTokens: number;
  minCostUsd: number;
}

/** Characters per token of a typical prompt, for reservations (not for refusals, which use the lower bound). */
const CHARS_PER_TOKEN_TYPICAL = 4;

/**
 * The reservation of one call of `chars` prompt characters with up to
 * `outputTokens` of output on the first of `models`, or on any of the others
 * (its fallbacks) in turn: reserved at the dearest of them, since the call
 * may end up there, and with the cheapest one's minimum, since it may not.
 */
export function estimateCall(models: readonly string[], chars: number, outputTokens: number, costOf: (model: string, usage: Usage) => number): CallEstimate {
  const input = Math.ceil(chars / CHARS_PER_TOKEN_TYPICAL);
  const minInput = Math.ceil(chars / CHARS_PER_TOKEN_LOWER_BOUND);
  const full: Usage = { input_tokens: input, output_tokens: outputTokens, total_tokens: input + outputTokens };
  const min: Usage = { input_tokens: minInput, output_tokens: 1, total_tokens: minInput + 1 };
  let costUsd = 0;
  let minCostUsd = Number.POSITIVE_INFINITY;
  for (const model of models) {
    costUsd = Math.max(costUsd, costOf(model, full));
    minCostUsd = Math.min(minCostUsd, costOf(model, min));
  }
  return { tokens: full.total_tokens, costUsd, minTokens: min.total_tokens, minCostUsd };
}

function positive(value: number | undefined): number | undefined {
  return value !== undefined && value > 0 ? value : undefined;
}
