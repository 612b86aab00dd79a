import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseApiKeys, parseApiKeysFile } from './auth/keys.ts';
import { StartupError } from './errors.ts';
import { int, isOriginSpec, optionalString, otlpHeaders, parseKeys, pricingJson } from './configFields.ts';
import { compileRedactPatterns } from './lib/redaction.ts';

export { ModelPriceSchema, type ModelPrice } from './configFields.ts';

/** The longest delay a Node timer holds (2^31 − 1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Every setting the service reads, from the environment, in one schema.
 * Limits are explicit: each queue, map and log has a named bound here.
 */
export const ConfigSchema = z.object({
  PORT: int(8080, 0, 65535),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  // Providers. Read exactly as the openai SDK reads them; with neither set the
  // embedded simulator is started on loopback.
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalString,
  OPENAI_API: z.enum(['chat_completions', 'responses']).default('chat_completions'),
  /** YAML file of named providers (docs/providers.md); read and checked at startup by server.ts, which names file and field on error. */
  PROVIDERS_FILE: optionalString,
  DEFAULT_MODEL: z.string().min(1).default('gpt-4o-mini'),
  /** Overrides/extends the pricing table: JSON `{ "model": { "input": usdPer1M, "output": usdPer1M } }`, parsed here. */
  PRICING_JSON: pricingJson,
  SIMULATOR_LATENCY_MS: int(0, 0, 600_000),

  STORE: z.enum(['memory', 'redis']).default('memory'),
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z.string().default('orch:'),
  /** With STORE=redis: a run whose replica stops renewing its job lock is taken over by another within this long. */
  RUN_LEASE_MS: int(30_000, 500, 3_600_000),
  /** With STORE=redis: bytes of run writes (events, final records) held while Redis is unreachable, retried once it is back. */
  STORE_BUFFER_BYTES: int(16 * 1_048_576, 1024),
  /** With STORE=redis: how long buffered run writes are retried before they are dropped (and logged). */
  STORE_RETRY_MS: int(300_000, 1000),

  /**
   * Comma-separated `key` or `key:tenant` entries; when any key is configured
   * (here or in API_KEYS_FILE), every /v1 route needs one. Parsed here into
   * digests: the raw keys go no further than this schema.
   */
  API_KEYS: z.string().default('').transform((text, ctx) => parseKeys(text, parseApiKeys, ctx)),
  /** A file of `sha256hex[:tenant]` lines (keys need not be in the environment). */
  API_KEYS_FILE: z
    .string()
    .trim()
    .optional()
    .transform((path, ctx) => {
      if (path === undefined || path === '') return [];
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` });
        return z.NEVER;
      }
      return parseKeys(text, parseApiKeysFile, ctx);
    }),

  // The HTTP edge: slow clients, oversized requests, floods (see SECURITY.md, "HTTP edge").
  /** Time allowed to receive a request's headers (Node `headersTimeout`); 408 after. */
  HTTP_HEADERS_TIMEOUT_MS: int(10_000, 1, 600_000),
  /** Time allowed to receive a whole request, headers and body (Node `requestTimeout`); 408 after. */
  HTTP_REQUEST_TIMEOUT_MS: int(30_000, 1, 3_600_000),
  /** How long an idle keep-alive connection stays open between requests. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(72_000, 1, 600_000),
  /** Socket inactivity bound while a request is open (a waiting POST sends nothing until its run ends); unset: MAX_TIMEOUT_MS + 60 s; 0 = off. */
  HTTP_IDLE_TIMEOUT_MS: z.coerce.number().int().min(0).max(7_200_000).optional(),
  /** Request line plus headers, in bytes (Node `maxHeaderSize`); 431 above. */
  HTTP_MAX_HEADER_BYTES: int(16_384, 1024, 1_048_576),
  /** Characters of one path parameter (run id, tool name); 414 above. */
  HTTP_MAX_PARAM_LENGTH: int(128, 16, 4096),
  /** Requests per tenant (per client IP when auth is off, and for requests refused for their credentials) per RATE_LIMIT_WINDOW_MS on /v1 routes; 0 = off. */
  RATE_LIMIT_MAX: int(600, 0, 10_000_000),
  RATE_LIMIT_WINDOW_MS: int(60_000, 100, 86_400_000),

  /** Browser origins allowed to call the API (comma-separated, or `*`); unset, CORS is off. */
  CORS_ORIGINS: optionalString.refine((spec) => spec === undefined || spec.split(',').every((o) => isOriginSpec(o.trim())), {
    message: 'comma-separated origins such as https://app.example or http://localhost:3000 (scheme, host, optional port; no path), or *',
  }),
  /** How long browsers may cache a CORS preflight answer, in seconds. */
  CORS_MAX_AGE_S: int(600, 0, 86_400),
  /** HMAC key of stream tokens (at least 32 characters); replicas must share it. Unset, one is made at startup. */
  STREAM_TOKEN_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  /** Lifetime of a stream token (`?stream_token=` on a run's events). */
  STREAM_TOKEN_TTL_MS: int(600_000, 1000, 86_400_000),

  /** The contract's bound on `replicates` (default 20); raise it for 100-replicate runs. */
  MAX_REPLICATES: int(20, 1, 1000),
  /** Replicates of one run in flight at once. */
  MAX_CONCURRENCY: int(20, 1, 1000),
  /** Provider calls in flight across all runs of this process. */
  MAX_GLOBAL_CONCURRENCY: int(512, 1, 100_000),
  /** Runs executing at once in this process; further runs wait in a queue. */
  MAX_ACTIVE_RUNS: int(1000, 1, 100_000),
  /** Runs waiting for an active slot; past it, new runs get 503 `unavailable` with Retry-After. */
  MAX_QUEUED_RUNS: int(1000, 0, 1_000_000),
  /** Open SSE streams per process; past it, new streams get 503 `unavailable`. */
  MAX_STREAMS: int(10_000, 1, 1_000_000),
  DEFAULT_TIMEOUT_MS: int(120_000, 1, 3_600_000),
  MAX_TIMEOUT_MS: int(600_000, 1, 3_600_000),
  BODY_LIMIT_BYTES: int(1_048_576, 1024, 64 * 1_048_576),

  RUN_TTL_MS: int(3_600_000, 1000),
  MAX_RUNS: int(10_000, 1),
  MAX_EVENTS_PER_RUN: int(5_000, 10),
  IDEMPOTENCY_TTL_MS: int(86_400_000, 1000),
  MAX_IDEMPOTENCY_KEYS: int(100_000, 1),

  // Resource bounds (SECURITY.md, "Resource bounds").
  /** Bytes of one provider response body (one replicate's output plus its JSON envelope allowance); longer fails the call. */
  MAX_OUTPUT_BYTES: int(1_048_576, 1024, 256 * 1_048_576),
  /** Bytes of one run's stored event log; past it partial summaries are not stored and large payloads are elided. */
  MAX_EVENT_LOG_BYTES: int(4 * 1_048_576, 4096),
  /** Bytes of run records, event logs and idempotency records held by the memory store. */
  MAX_STORE_BYTES: int(512 * 1_048_576, 65_536),
  /** Idempotency records one tenant may hold at once; past it (or MAX_IDEMPOTENCY_KEYS) new keys get 429. */
  MAX_IDEMPOTENCY_KEYS_PER_TENANT: int(25_000, 1),
  /** Bytes one SSE stream may leave unsent before it is cut (the reader resumes with Last-Event-ID). */
  MAX_UNSENT_BYTES_PER_STREAM: int(8 * 1_048_576, 1024),
  /** Bytes all SSE streams together may leave unsent; past it the slowest readers are cut. */
  MAX_UNSENT_BYTES_TOTAL: int(64 * 1_048_576, 1024),
  /** Runs (executing or queued) one tenant may have in this process; past it, 429 `rate_limited`. */
  MAX_RUNS_PER_TENANT: int(100, 1, 1_000_000),
  /** Open SSE streams one tenant may hold; past it, 429 `rate_limited`. */
  MAX_STREAMS_PER_TENANT: int(1000, 1, 1_000_000),
  /** Provider calls one tenant may have in flight (0: no cap below MAX_GLOBAL_CONCURRENCY; waiting calls are served round-robin across tenants either way). */
  MAX_PROVIDER_CALLS_PER_TENANT: int(0, 0, 100_000),
  /** Token budget of a run that names none (0: none beyond MAX_TOKENS_PER_RUN). */
  DEFAULT_MAX_TOKENS_PER_RUN: int(0, 0),
  /** The most tokens any run may budget or need; requests above it get 400 (0: no ceiling). */
  MAX_TOKENS_PER_RUN: int(4_000_000, 0),
  /** The most USD any run may budget or need (0: no ceiling). With a ceiling, unpriced models are refused. */
  MAX_COST_USD_PER_RUN: z.coerce.number().min(0).default(0),
  /** Output tokens reserved for a call that sets no max_output_tokens, when a token or cost budget applies. */
  OUTPUT_TOKENS_RESERVED: int(1024, 1, 1_000_000),
  SSE_HEARTBEAT_MS: int(15_000, 10),
  /** The `retry:` hint streams open with: how long a browser's EventSource waits before reconnecting. */
  SSE_RETRY_MS: int(2_000, 0, 600_000),
  /** Largest `limit` of `GET /v1/runs`. */
  RUN_LIST_MAX_LIMIT: int(100, 1, 1000),

  RETRY_MAX_ATTEMPTS: int(3, 1, 20),
  RETRY_BASE_MS: int(250, 0),
  RETRY_MAX_DELAY_MS: int(8_000, 0),
  RETRY_MAX_TOTAL_MS: int(30_000, 0),
  // Breakers count logical calls (after retries), per provider:model; defaults and anchors in docs/reliability.md.
  BREAKER_ERROR_PERCENT: int(50, 1, 100),
  BREAKER_VOLUME: int(20, 1),
  BREAKER_CONSECUTIVE_FAILURES: int(5, 1),
  BREAKER_RESET_MS: int(30_000, 10),
  BREAKER_ROLLING_MS: int(60_000, 100),
  /** Longest a retry waits for an open breaker's half-open probe instead of failing `circuit_open` at once. */
  BREAKER_WAIT_MS: int(5_000, 0, 600_000),
  /** Ceiling of the adaptive (AIMD) limit on calls in flight per provider:model: halved on a 429, +1 per success. */
  PROVIDER_MAX_CONCURRENCY: int(512, 1, 100_000),

  /**
   * Comma-separated regular expressions (RE2 syntax: linear-time, no lookaround or backreferences)
   * whose matches are masked in logs (and events when REDACT_EVENTS, results when REDACT_RESULTS).
   * Parsed once here: a bad entry is a config error naming it.
   */
  REDACT_PATTERNS: optionalString.transform((spec, ctx) => {
    try {
      return compileRedactPatterns(spec);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  }),
  REDACT_EVENTS: z.stringbool().default(false),
  /** Mask stored and answered run results (outputs, replicates, consensus) too. */
  REDACT_RESULTS: z.stringbool().default(false),

  // Untrusted input, bounded before any work is spent on it (SECURITY.md).
  /** Nesting of objects/arrays in a JSON request body; deeper bodies get 400. */
  MAX_JSON_DEPTH: int(64, 2, 10_000),
  /** UTF-8 bytes of one JSON Schema (`agent.output_schema`, tool schemas). */
  MAX_SCHEMA_BYTES: int(65_536, 256, 16 * 1_048_576),
  /** Nesting of one JSON Schema. */
  MAX_SCHEMA_DEPTH: int(32, 2, 1_000),
  /** Keywords and array items in one JSON Schema. */
  MAX_SCHEMA_NODES: int(5_000, 10, 1_000_000),
  /** Subschemas applied to one value once every `$ref` is expanded (a doubling `$defs` chain is 2^depth). */
  MAX_SCHEMA_REF_EXPANSION: int(10_000, 10, 10_000_000),
  /** UTF-8 bytes of a run's `input` (all message contents together). */
  MAX_INPUT_BYTES: int(524_288, 1, 64 * 1_048_576),
  /** UTF-8 bytes of `agent.instructions` and `synthesize.instructions`. */
  MAX_INSTRUCTIONS_BYTES: int(65_536, 1, 16 * 1_048_576),
  /** Keys in `metadata`, and characters of each key and each value. */
  MAX_METADATA_KEYS: int(32, 0, 10_000),
  MAX_METADATA_KEY_CHARS: int(64, 1, 10_000),
  MAX_METADATA_VALUE_CHARS: int(512, 1, 1_048_576),
  /** Characters of a model name (charset `A-Z a-z 0-9 . _ : / @ -`). */
  MAX_MODEL_NAME_CHARS: int(200, 1, 10_000),
  /** UTF-8 bytes of a prompt a pipeline step's template builds; past it the step fails. */
  MAX_PROMPT_BYTES: int(1_048_576, 1024, 64 * 1_048_576),

  // Run-scoped memory (`ctx.memory`, docs/memory.md): per run, in the store, dropped when the run ends.
  /** Bytes (keys + values, UTF-8) one run's memory may hold; a write past it is refused (tools get 400 `invalid_request`) or stored trimmed. */
  MEMORY_MAX_BYTES: int(1_048_576, 1024, 256 * 1_048_576),
  /** Entries one run's memory may hold; a new key past it is refused. */
  MEMORY_MAX_ENTRIES: int(256, 4, 100_000),
  /** A run's memory expires this long after its deadline (created_at + timeout_ms), should its end never be seen (a replica died). */
  MEMORY_TTL_GRACE_MS: int(60_000, 1000, 86_400_000),
  /** Serve the embedded simulator's `/_simulator/*` control and recording endpoints (tests, demos only). */
  SIMULATOR_CONTROL: z.stringbool().default(false),

  // OpenTelemetry spans (docs/tracing.md): the SDK and exporter start only when an endpoint is set.
  /** OTLP/HTTP base URL; traces go to `<endpoint>/v1/traces`. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** Full OTLP/HTTP traces URL; wins over OTEL_EXPORTER_OTLP_ENDPOINT. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** Headers of the OTLP requests (`k=v,k2=v2`, values URL-encoded as the OTel spec allows). */
  OTEL_EXPORTER_OTLP_HEADERS: otlpHeaders,
  OTEL_SERVICE_NAME: z.string().trim().min(1).default('llm-orchestrator'),
  /** Put prompts and outputs on spans (redacted by REDACT_PATTERNS). */
  OTEL_CAPTURE_CONTENT: z.stringbool().default(false),

  // Handoffs (docs/handoffs.md): tools whose agents hand the task to one another run only with HANDOFFS=on.
  HANDOFFS: z.stringbool().default(false),
  /** Model calls one replicate of a handoff tool may make across its agents; a tool's `max_turns` may not exceed it. */
  HANDOFFS_MAX_TURNS: int(6, 2, 64),

  TOOLS_DIR: z.string().default('tools'),
  /** Planner rules file (YAML); unset, config/planner.yaml is used when present, else runs without a `tool` use `bundle`. */
  PLANNER_RULES: optionalString,
  SHUTDOWN_GRACE_MS: int(10_000, 0),
});

/** The parsed, frozen configuration. */
export type Config = Readonly<z.infer<typeof ConfigSchema>>;

/** The OTLP/HTTP traces URL the configuration names, if any (the traces endpoint wins over the base one). */
export function otlpTracesUrl(config: Pick<Config, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'>): string | undefined {
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = config.OTEL_EXPORTER_OTLP_ENDPOINT;
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
}

/** A configuration problem found at boot; lists every issue at once. */
export class ConfigError extends StartupError {
  readonly issues: string[];

  constructor(issues: string[]) {
    super('config_invalid', `invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.issues = issues;
  }
}

/**
 * Parses the environment into a {@link Config}. Pure: same env, same result;
 * nothing is read at import time. Empty strings count as unset, as shells
 * often export `VAR=`.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(ConfigSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') cleaned[key] = value;
  }
  const parsed = ConfigSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  // Node fires a timer longer than 2^31−1 ms at once: every duration that feeds one is bounded (TTLs only go to the store).
  const tooLong = Object.entries(parsed.data).filter(([k, v]) => k.endsWith('_MS') && !k.endsWith('_TTL_MS') && typeof v === 'number' && v > MAX_TIMER_MS);
  if (tooLong.length > 0) throw new ConfigError(tooLong.map(([k]) => `${k}: at most ${MAX_TIMER_MS} ms (a longer timer would fire at once)`));
  const http = parsed.data;
  if (http.HTTP_HEADERS_TIMEOUT_MS > http.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError(['HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)']);
  }
  return Object.freeze(parsed.data);
}
