import { ServiceError } from '../errors.ts';
import { TenantSlots } from '../lib/tenantSlots.ts';

/** The admission bounds of one process. */
export interface AdmissionLimits {
  maxActiveRuns: number;
  maxQueuedRuns: number;
  maxRunsPerTenant?: number | undefined;
}

/**
 * Runs accepted here and not yet ended, plus prepared ones about to be, in
 * total and per tenant: the admission bound. A slot is reserved before
 * anything awaits, so a burst cannot all pass the checks, and given back
 * once (the release is idempotent).
 */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #slots = new TenantSlots();
  #draining = false;

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  /** True while draining (readiness answers 503, new runs are refused). */
  get draining(): boolean {
    return this.#draining;
  }

  stopAdmitting(): void {
    this.#draining = true;
  }

  /**
   * Reserves a run slot for `tenant`, or refuses with the error the caller
   * gets (503 while draining or full, 429 past the tenant's share).
   * @returns the release of the slot (safe to call twice).
   */
  admit(tenant: string): () => void {
    if (this.#draining) throw new ServiceError('unavailable', 'server is shutting down');
    const { maxActiveRuns, maxQueuedRuns, maxRunsPerTenant } = this.#limits;
    const mine = this.#slots.of(tenant);
    if (maxRunsPerTenant !== undefined && mine >= maxRunsPerTenant) {
      throw new ServiceError('rate_limited', `too many runs in progress for this tenant (${mine}, MAX_RUNS_PER_TENANT=${maxRunsPerTenant}); retry shortly`, {
        retryAfterMs: 1000,
        details: { limit: 'MAX_RUNS_PER_TENANT' },
      });
    }
    if (this.#slots.total >= maxActiveRuns + maxQueuedRuns) {
      throw new ServiceError('unavailable', `too many runs in progress (${this.#slots.total}); retry shortly`, { retryAfterMs: 1000 });
    }
    return this.#slots.take(tenant);
  }
}
