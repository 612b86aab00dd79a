import type { Usage } from '../schemas/bundle.ts';
import type { EmbeddingRequest, EmbeddingResult, ModelCallRequest, ModelCallResult, ModelGateway } from './callTypes.ts';
import type { OpenAIGatewayOptions } from './clientOptions.ts';
import type { OpenAIGateway } from './providerClient.ts';

/**
 * One provider's client whose SDK stack (the openai SDK, the Agents SDK,
 * undici: ~550 modules, ~60 MiB of an idle service's RSS) is loaded at its
 * first call, not at start-up: a started service that has not run anything
 * yet does not hold them. The first call waits for the import once (every
 * call meanwhile shares it); from then on calls go straight to the
 * {@link OpenAIGateway}. Prices need no SDK, and before any call there is no
 * breaker to report.
 */
export class LazyProviderClient implements ModelGateway {
  readonly provider: string;
  readonly #options: OpenAIGatewayOptions;
  #client: OpenAIGateway | null = null;
  #loading: Promise<OpenAIGateway> | null = null;

  constructor(options: OpenAIGatewayOptions) {
    this.provider = options.provider;
    this.#options = options;
  }

  // Not async once loaded: the call goes straight to the client, with no frame of its own per call.
  call(request: ModelCallRequest): Promise<ModelCallResult> {
    return this.#client ? this.#client.call(request) : this.#load().then((client) => client.call(request));
  }

  embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    return this.#client ? this.#client.embed(request) : this.#load().then((client) => client.embed(request));
  }

  costOf(model: string, usage: Usage): number {
    return this.#options.pricing.cost(model, usage);
  }

  hasPrice(model: string): boolean {
    return this.#options.pricing.has(model);
  }

  breakerStates(): Record<string, 'closed' | 'open' | 'half_open'> {
    return this.#client?.breakerStates() ?? {};
  }

  async close(): Promise<void> {
    const client = this.#client ?? (this.#loading ? await this.#loading.catch(() => null) : null);
    await client?.close();
  }

  #load(): Promise<OpenAIGateway> {
    this.#loading ??= import('./providerClient.ts').then(
      ({ OpenAIGateway }) => (this.#client = new OpenAIGateway(this.#options)),
      (error: unknown) => {
        // A failed import is retried by the next call rather than remembered.
        this.#loading = null;
        throw error;
      },
    );
    return this.#loading;
  }
}
