import { ServiceError } from '../errors.ts';
import type { Usage } from '../schemas/bundle.ts';
import { inputText } from '../schemas/inputText.ts';
import type { ResolvedRequest } from '../tools/api.ts';

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
  const cost = minimum * costOf(request.agent.model, one);
  if (max_cost_usd !== undefined && cost > max_cost_usd) {
    throw new ServiceError(
      'invalid_request',
      `budget.max_cost_usd (${max_cost_usd}) cannot cover the minimum of ${minimum} replicate(s) on ${request.agent.model}: at least $${cost.toPrecision(3)}`,
      { details: { field: 'budget.max_cost_usd', minimum_cost_usd: cost } },
    );
  }
}
