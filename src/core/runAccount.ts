import { ServiceError } from '../errors.ts';
import { roundUsd } from '../providers/pricing.ts';
import { addUsage, emptyUsage, type Usage } from '../schemas/bundle.ts';
import type { BudgetLimits } from '../schemas/request.ts';
import type { BudgetReport, CostLine } from '../schemas/result.ts';

/**
 * What one run has spent, and whether it may spend more. Every model call of
 * the run is charged here (replicates, synthesizer, inner tools), so usage,
 * the cost breakdown and budget checks come from one place.
 */
export class RunAccount {
  readonly limits: BudgetLimits;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #lines = new Map<string, CostLine>();
  #usage: Usage = emptyUsage();
  #cost = 0;
  #onExceeded: (error: ServiceError) => void;

  constructor(limits: BudgetLimits, now: () => number, onExceeded: (error: ServiceError) => void) {
    this.limits = limits;
    this.#now = now;
    this.#startedAt = now();
    this.#onExceeded = onExceeded;
  }

  /** Records a model call's spend; crossing a limit calls `onExceeded` once. */
  charge(provider: string, model: string, usage: Usage, costUsd: number): void {
    this.#usage = addUsage(this.#usage, usage);
    this.#cost += costUsd;
    const key = `${provider}\u0000${model}`;
    const line = this.#lines.get(key) ?? { provider, model, input_tokens: 0, output_tokens: 0, cost_usd: 0 };
    line.input_tokens += usage.input_tokens;
    line.output_tokens += usage.output_tokens;
    line.cost_usd = roundUsd(line.cost_usd + costUsd);
    this.#lines.set(key, line);
    const crossed = this.exceeded();
    if (crossed) {
      const fire = this.#onExceeded;
      this.#onExceeded = () => {};
      fire(crossed);
    }
  }

  /** The limit crossed so far, if any (time is enforced by the orchestrator's timer). */
  exceeded(): ServiceError | null {
    const { max_tokens, max_cost_usd } = this.limits;
    if (max_tokens !== undefined && this.#usage.total_tokens > max_tokens) {
      return new ServiceError('budget_exceeded', `token budget exceeded: ${this.#usage.total_tokens} > ${max_tokens}`, {
        details: { limit: 'max_tokens' },
      });
    }
    if (max_cost_usd !== undefined && this.#cost > max_cost_usd) {
      return new ServiceError('budget_exceeded', `cost budget exceeded: $${roundUsd(this.#cost)} > $${max_cost_usd}`, {
        details: { limit: 'max_cost_usd' },
      });
    }
    return null;
  }

  get usage(): Usage {
    return { ...this.#usage };
  }

  /** Lines per provider/model, in first-use order. */
  get costBreakdown(): CostLine[] {
    return [...this.#lines.values()].map((l) => ({ ...l }));
  }

  /** The sum of the breakdown lines, so the two always agree. */
  get costUsd(): number {
    let total = 0;
    for (const line of this.#lines.values()) total += line.cost_usd;
    return roundUsd(total);
  }

  /** Limits and spend as shown on results and partial summaries. */
  report(): BudgetReport {
    return {
      limits: { ...this.limits },
      used: { tokens: this.#usage.total_tokens, cost_usd: this.costUsd, time_ms: Math.max(0, this.#now() - this.#startedAt) },
    };
  }
}

/** Empty accounting for a run that has not started. */
export function emptyBudgetReport(limits: BudgetLimits = {}): BudgetReport {
  return { limits: { ...limits }, used: { tokens: 0, cost_usd: 0, time_ms: 0 } };
}

export { emptyUsage };
