import type { Logger } from 'pino';
import type { Semaphore } from '../lib/semaphore.ts';
import type { Tracing } from '../observability/tracing.ts';
import type { BreakerOptions } from '../reliability/breakers.ts';
import type { RetryPolicy } from '../reliability/retry.ts';
import type { Capabilities } from './capabilities.ts';
import type { PricingTable } from './pricing.ts';

/** How to reach the provider and how hard to try. */
export interface OpenAIGatewayOptions {
  provider: string;
  apiKey: string;
  baseURL?: string | undefined;
  api: 'chat_completions' | 'responses';
  retry: RetryPolicy;
  breaker: BreakerOptions;
  maxConcurrency: number;
  /** Provider calls one tenant may have in flight (0 or unset: no cap below maxConcurrency). */
  maxConcurrencyPerTenant?: number;
  /** Bytes of one provider answer's output (MAX_OUTPUT_BYTES); the response body may add an envelope allowance. */
  maxOutputBytes?: number;
  /** Ceiling of the adaptive limit of calls in flight per provider:model. */
  maxConcurrencyPerModel?: number;
  pricing: PricingTable;
  /** Capabilities per model name or pattern (the providers file's `capabilities`). */
  capabilities?: Record<string, Capabilities> | undefined;
  /** Timeout of one attempt (the openai client's `timeout`; the SDK default, 10 min, when unset). */
  timeoutMs?: number | undefined;
  /** Calls in flight across providers; shared by every provider's client (default: its own, of maxConcurrency). */
  globalLimit?: Semaphore | undefined;
  /** Calls in flight to this provider (its `max_concurrency`); unset: only the global bound. */
  providerMaxConcurrency?: number | undefined;
  logger: Logger;
  /** For tests of the retry policy: deterministic jitter. */
  random?: () => number;
  /** Spans of provider attempts (default: none recorded). */
  tracing?: Tracing;
}
