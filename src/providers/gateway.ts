/**
 * The model gateway: the seam between tools and providers (tools never see
 * the openai SDK). Its shapes live in callTypes.ts, one provider's client in
 * providerClient.ts, the routing across providers and fallbacks in
 * providerRegistry.ts; this module wires them from the configuration.
 */
import type { Logger } from 'pino';
import { Semaphore } from '../lib/semaphore.ts';
import type { Tracing } from '../observability/tracing.ts';
import type { Config } from '../config.ts';
import { PricingTable } from './pricing.ts';
import { LazyProviderClient } from './lazyClient.ts';
import type { ProviderSet, ProviderSpec } from './providersFile.ts';
import { ProviderRegistry, type RoutedProvider } from './providerRegistry.ts';

export {
  DEFAULT_EMBEDDING_MODEL,
  ModelCallError,
  type CallAccounting,
  type EmbeddingRequest,
  type EmbeddingResult,
  type FallbackStep,
  type ModelCallRequest,
  type ModelCallResult,
  type ModelGateway,
  type ProviderListing,
} from './callTypes.ts';
export type { OpenAIGatewayOptions } from './clientOptions.ts';
export { ProviderRegistry } from './providerRegistry.ts';

/** Where the default (environment) provider is, and what every provider's client shares. */
export interface GatewayTarget {
  /** Name of the OPENAI_BASE_URL provider (`openai`, `openai_compatible`, `simulator`). */
  provider: string;
  baseURL: string | undefined;
  apiKey: string;
  logger: Logger;
  random?: () => number;
  tracing?: Tracing;
  /** The providers of PROVIDERS_FILE, beside (or, with `withTarget: false`, instead of) the environment's. */
  providers?: ProviderSet | undefined;
  /** Whether the OPENAI_BASE_URL provider is served too (default true); false when only the file configures providers. */
  withTarget?: boolean;
}

/**
 * The gateway the configuration describes: the OPENAI_BASE_URL / OPENAI_API_KEY
 * provider, plus every provider of PROVIDERS_FILE, each with its own client,
 * breakers, retries, prices and limits; one global bound on calls in flight
 * (MAX_GLOBAL_CONCURRENCY) across all of them. Bare model names go to the
 * file's declared `default`, else to the environment's provider, else to the
 * file's first.
 */
export function gatewayFromConfig(config: Config, target: GatewayTarget): ProviderRegistry {
  const globalLimit = new Semaphore(config.MAX_GLOBAL_CONCURRENCY, { perKeyLimit: config.MAX_PROVIDER_CALLS_PER_TENANT || undefined });
  const routed: RoutedProvider[] = [];
  const file = target.providers;
  const withTarget = target.withTarget ?? true;
  if (withTarget && !file?.providers.some((p) => p.name === target.provider)) {
    routed.push({
      name: target.provider,
      client: clientFor(config, target, globalLimit, { name: target.provider, baseURL: target.baseURL, apiKey: target.apiKey, api: config.OPENAI_API }),
      base_url: publicUrl(target.baseURL ?? 'https://api.openai.com/v1'),
      api: config.OPENAI_API,
      models: [config.DEFAULT_MODEL],
    });
  }
  for (const spec of file?.providers ?? []) {
    routed.push({
      name: spec.name,
      client: clientFor(config, target, globalLimit, { name: spec.name, baseURL: spec.base_url, apiKey: spec.apiKey ?? 'sk-no-key', api: spec.api, spec }),
      base_url: publicUrl(spec.base_url),
      api: spec.api,
      models: spec.models,
    });
  }
  const defaultProvider = file && (file.defaultDeclared || !withTarget) ? file.defaultProvider : target.provider;
  return new ProviderRegistry(routed, defaultProvider);
}

/** One provider's client: the service-wide settings under what its file entry overrides. */
function clientFor(
  config: Config,
  target: GatewayTarget,
  globalLimit: Semaphore,
  p: { name: string; baseURL: string | undefined; apiKey: string; api: 'chat_completions' | 'responses'; spec?: ProviderSpec },
): LazyProviderClient {
  const { spec } = p;
  // The SDK stack loads at the provider's first call (lazyClient.ts).
  return new LazyProviderClient({
    provider: p.name,
    // OpenAI-compatible servers often need no key; the SDK insists on one.
    apiKey: p.apiKey,
    baseURL: p.baseURL,
    api: p.api,
    retry: {
      maxAttempts: spec?.retry?.max_attempts ?? config.RETRY_MAX_ATTEMPTS,
      baseMs: spec?.retry?.base_ms ?? config.RETRY_BASE_MS,
      maxDelayMs: spec?.retry?.max_delay_ms ?? config.RETRY_MAX_DELAY_MS,
      maxTotalMs: spec?.retry?.max_total_ms ?? config.RETRY_MAX_TOTAL_MS,
    },
    breaker: {
      errorThresholdPercentage: spec?.breaker?.error_percent ?? config.BREAKER_ERROR_PERCENT,
      volumeThreshold: spec?.breaker?.volume ?? config.BREAKER_VOLUME,
      consecutiveFailures: spec?.breaker?.consecutive_failures ?? config.BREAKER_CONSECUTIVE_FAILURES,
      resetTimeout: spec?.breaker?.reset_ms ?? config.BREAKER_RESET_MS,
      rollingCountTimeout: spec?.breaker?.rolling_ms ?? config.BREAKER_ROLLING_MS,
      maxWaitMs: config.BREAKER_WAIT_MS,
    },
    maxConcurrency: config.MAX_GLOBAL_CONCURRENCY,
    maxConcurrencyPerTenant: config.MAX_PROVIDER_CALLS_PER_TENANT,
    maxOutputBytes: config.MAX_OUTPUT_BYTES,
    maxConcurrencyPerModel: config.PROVIDER_MAX_CONCURRENCY,
    globalLimit,
    providerMaxConcurrency: spec?.max_concurrency,
    timeoutMs: spec?.timeout_ms,
    capabilities: spec?.capabilities,
    pricing: new PricingTable({ ...config.PRICING_JSON, ...spec?.pricing }),
    logger: target.logger.child({ provider: p.name }),
    ...(target.random ? { random: target.random } : {}),
    ...(target.tracing ? { tracing: target.tracing } : {}),
  });
}

/** A base URL fit to show: no user, password, query or fragment (where keys sometimes hide). */
function publicUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid)';
  }
}
