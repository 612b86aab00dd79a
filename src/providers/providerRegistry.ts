import { ServiceError } from '../errors.ts';
import { addUsage, type Usage } from '../schemas/bundle.ts';
import {
  ModelCallError,
  type EmbeddingRequest,
  type EmbeddingResult,
  type FallbackStep,
  type ModelCallRequest,
  type ModelCallResult,
  type ModelGateway,
  type ProviderListing,
  type Spend,
} from './callTypes.ts';
import { parseModelRef, type ModelRef } from './modelRef.ts';

/** One named provider the registry routes to: its client and what `GET /v1/models` may show of it. */
export interface RoutedProvider {
  name: string;
  client: ModelGateway;
  base_url: string;
  api: 'chat_completions' | 'responses';
  models: readonly string[];
}

/**
 * Routes each call to its provider: `provider/model` to that named provider,
 * a bare model to the default one. Each provider has its own client (openai
 * client, transport, breakers, retries, limits, prices), so a failing
 * provider trips only its own breakers. A call with `fallbackModels` moves
 * down the list when its model's circuit is open or it keeps failing
 * (a provider-side error after its retries), and says where it moved from.
 */
export class ProviderRegistry implements ModelGateway {
  /** The default provider's name (results of bare models name it). */
  readonly provider: string;
  readonly #providers = new Map<string, RoutedProvider>();
  readonly #names: ReadonlySet<string>;

  constructor(providers: readonly RoutedProvider[], defaultProvider: string) {
    for (const p of providers) this.#providers.set(p.name, p);
    if (!this.#providers.has(defaultProvider)) throw new RangeError(`ProviderRegistry: default provider "${defaultProvider}" is not among the providers`);
    this.provider = defaultProvider;
    this.#names = new Set(this.#providers.keys());
  }

  /** Which provider serves `ref`, and the model name it knows it by. */
  resolve(ref: string): ModelRef {
    return parseModelRef(ref, this.#names, this.provider);
  }

  async call(request: ModelCallRequest): Promise<ModelCallResult> {
    const chain = [request.model, ...(request.fallbackModels ?? [])];
    const moved: FallbackStep[] = [];
    let attempts = 0;
    let latency = 0;
    // What the models given up on spent before they failed (answered turns of a handoff conversation, charged as they
    // were answered): the call's usage includes it, whichever model ends it.
    let spent: Spend | undefined;
    for (const [position, ref] of chain.entries()) {
      const { provider, model } = this.resolve(ref);
      const client = this.#client(provider);
      try {
        const result = await client.call({
          ...request,
          model,
          // A fallback is another call, not a retry of the first: its own key, derived from the call's.
          ...(request.idempotencyKey !== undefined && position > 0 ? { idempotencyKey: `${request.idempotencyKey}.f${position}` } : {}),
        });
        return {
          ...result,
          ...(spent ? addSpend(spent, result) : {}),
          attempts: attempts + result.attempts,
          latency_ms: latency + result.latency_ms,
          ...(moved.length > 0 ? { fallbacks: moved } : {}),
        };
      } catch (error) {
        const failure = error instanceof ModelCallError ? error : new ModelCallError(new ServiceError('internal', String(error)), 0, 0);
        attempts += failure.attempts;
        latency += failure.latency_ms;
        if (failure.spent) spent = spent ? addSpend(spent, failure.spent) : failure.spent;
        const last = position === chain.length - 1;
        if (last || request.signal.aborted || !movesOn(failure.error)) {
          throw new ModelCallError(failure.error, attempts, latency, { provider, model, fallbacks: moved, spent });
        }
        moved.push({ provider, model, reason: failure.error.code });
      }
    }
    /* c8 ignore next */
    throw new ModelCallError(new ServiceError('internal', 'no model to call'), attempts, latency);
  }

  embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    if (request.model === undefined) return this.#client(this.provider).embed(request);
    const { provider, model } = this.resolve(request.model);
    return this.#client(provider).embed({ ...request, model });
  }

  costOf(ref: string, usage: Usage): number {
    const { provider, model } = this.resolve(ref);
    return this.#client(provider).costOf(model, usage);
  }

  hasPrice(ref: string): boolean {
    const { provider, model } = this.resolve(ref);
    return this.#client(provider).hasPrice?.(model) ?? true;
  }

  breakerStates(): Record<string, 'closed' | 'open' | 'half_open'> {
    const out: Record<string, 'closed' | 'open' | 'half_open'> = {};
    for (const p of this.#providers.values()) Object.assign(out, p.client.breakerStates());
    return out;
  }

  catalogue(): ProviderListing[] {
    return [...this.#providers.values()].map((p) => ({ name: p.name, default: p.name === this.provider, base_url: p.base_url, api: p.api, models: [...p.models] }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#providers.values()].map((p) => p.client.close()));
  }

  #client(provider: string): ModelGateway {
    return (this.#providers.get(provider) as RoutedProvider).client;
  }
}

/**
 * Whether a failed call moves on to the next fallback model: when the fault
 * is the provider's (its circuit is open, or it kept failing through the
 * retries: 5xx, timeouts, 429s). The caller's mistakes (a bad request) would
 * fail the same way elsewhere, so they do not.
 */
export function movesOn(error: ServiceError): boolean {
  return error.fault === 'provider';
}

function addSpend(a: Spend, b: Spend): Spend {
  return { usage: addUsage(a.usage, b.usage), cost_usd: a.cost_usd + b.cost_usd };
}
