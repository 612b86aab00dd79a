/**
 * Slots held in total and per tenant (runs admitted, streams open). The
 * caller checks its bounds against {@link total} and {@link of}, then takes
 * a slot synchronously; the release it gets is safe to call twice.
 */
export class TenantSlots {
  #total = 0;
  readonly #byTenant = new Map<string, number>();

  get total(): number {
    return this.#total;
  }

  /** Slots `tenant` holds. */
  of(tenant: string): number {
    return this.#byTenant.get(tenant) ?? 0;
  }

  take(tenant: string): () => void {
    this.#total++;
    this.#byTenant.set(tenant, this.of(tenant) + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#total--;
      const left = this.of(tenant) - 1;
      if (left <= 0) this.#byTenant.delete(tenant);
      else this.#byTenant.set(tenant, left);
    };
  }
}
