import { ServiceError } from '../errors.ts';
import { roundUsd } from '../providers/pricing.ts';
import { addUsage, emptyUsage, type Usage } from '../schemas/bundle.ts';
import type { BudgetLimits } from '../schemas/request.ts';
import type { BudgetReport, CostLine } from '../schemas/result.ts';
import type { CallEstimate } from './budgetCheck.ts';

/** Returns a call's reservation once its real spend is charged (or it failed). */
export type ReleaseReservation = () => void;

interface ReservationWaiter {
  estimate: CallEstimate;
  resolve: (release: ReleaseReservation) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

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
  /** Tokens and USD reserved by calls in flight. */
  #reservedTokens = 0;
  #reservedCost = 0;
  #inFlight = 0;
  readonly #waiters: ReservationWaiter[] = [];

  /** `startedAt` (epoch ms, default now): a run taken over by another replica counts its time from its original start. */
  constructor(limits: BudgetLimits, now: () => number, onExceeded: (error: ServiceError) => void, startedAt: number = now()) {
    this.limits = limits;
    this.#now = now;
    this.#startedAt = startedAt;
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

  /**
   * Reserves a call's estimated spend before it is sent, so concurrent calls
   * cannot together overshoot the budget: a call goes out when spend so far
   * plus what calls in flight reserved plus its own estimate fits; else it
   * waits for one in flight to settle. With nothing in flight, a call whose
   * certain minimum still fits goes out alone (its output may overshoot by
   * at most its own allowance); one that cannot fit even that ends the run
   * with `budget_exceeded`. Without a token or cost limit nothing is held.
   */
  reserve(estimate: CallEstimate, signal?: AbortSignal): Promise<ReleaseReservation> {
    const { max_tokens, max_cost_usd } = this.limits;
    if (max_tokens === undefined && max_cost_usd === undefined) return Promise.resolve(() => {});
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#waiters.length === 0) {
      const verdict = this.#admit(estimate);
      if (verdict === 'go') return Promise.resolve(this.#hold(estimate));
      if (verdict === 'never') return Promise.reject(this.#refuse(estimate));
    }
    return new Promise<ReleaseReservation>((resolve, reject) => {
      const waiter: ReservationWaiter = {
        estimate,
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /**
   * For a call that spends in several turns (a handoff conversation): the
   * error that stops it before its next turn, when the budget is already
   * crossed or even that turn's minimum (`minTokens`) cannot fit what is
   * left. Refusing ends the run over budget, like a call that cannot fit.
   */
  refuseTurn(minTokens: number): ServiceError | null {
    const crossed = this.exceeded();
    if (crossed) return crossed;
    const { max_tokens } = this.limits;
    if (max_tokens !== undefined && this.#usage.total_tokens + minTokens > max_tokens) {
      return this.#refuse({ tokens: minTokens, costUsd: 0, minTokens, minCostUsd: 0 });
    }
    return null;
  }

  /** Tokens reserved by calls in flight (for tests and reports). */
  get reservedTokens(): number {
    return this.#reservedTokens;
  }

  #admit(estimate: CallEstimate): 'go' | 'wait' | 'never' {
    const { max_tokens, max_cost_usd } = this.limits;
    const tokensFit = max_tokens === undefined || this.#usage.total_tokens + this.#reservedTokens + estimate.tokens <= max_tokens;
    const costFits = max_cost_usd === undefined || this.#cost + this.#reservedCost + estimate.costUsd <= max_cost_usd;
    if (tokensFit && costFits) return 'go';
    if (this.#inFlight > 0) return 'wait';
    const minFits =
      (max_tokens === undefined || this.#usage.total_tokens + estimate.minTokens <= max_tokens) &&
      (max_cost_usd === undefined || this.#cost + estimate.minCostUsd <= max_cost_usd);
    return minFits ? 'go' : 'never';
  }

  #hold(estimate: CallEstimate): ReleaseReservation {
    this.#reservedTokens += estimate.tokens;
    this.#reservedCost += estimate.costUsd;
    this.#inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#reservedTokens -= estimate.tokens;
      this.#reservedCost -= estimate.costUsd;
      this.#inFlight--;
      this.#wake();
    };
  }

  /** Lets waiting calls go in order once spend settled; the head blocks those behind it (no overtaking). */
  #wake(): void {
    while (this.#waiters.length > 0) {
      const head = this.#waiters[0] as ReservationWaiter;
      const verdict = this.#admit(head.estimate);
      if (verdict === 'wait') return;
      this.#waiters.shift();
      head.signal?.removeEventListener('abort', head.onAbort);
      if (verdict === 'go') head.resolve(this.#hold(head.estimate));
      else head.reject(this.#refuse(head.estimate));
    }
  }

  /** A call that cannot fit what is left: the run is over budget. */
  #refuse(estimate: CallEstimate): ServiceError {
    const { max_tokens } = this.limits;
    const tokens = max_tokens !== undefined && this.#usage.total_tokens + estimate.minTokens > max_tokens;
    const error = tokens
      ? new ServiceError('budget_exceeded', `token budget exceeded: ${this.#usage.total_tokens} used, the next call needs at least ${estimate.minTokens} more (max_tokens ${max_tokens})`, {
          details: { limit: 'max_tokens' },
        })
      : new ServiceError('budget_exceeded', `cost budget exceeded: $${roundUsd(this.#cost)} spent, the next call costs at least $${estimate.minCostUsd.toPrecision(3)} more (max_cost_usd ${this.limits.max_cost_usd})`, {
          details: { limit: 'max_cost_usd' },
        });
    const fire = this.#onExceeded;
    this.#onExceeded = () => {};
    fire(error);
    return error;
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
