import { z } from 'zod';

/**
 * Who is at fault when an error happens. It decides what the service does
 * about it, in one place:
 * - `caller`: the request's doing (bad input, a provider 400, a refusal, an
 *   answer that breaks the schema, the caller's own cancel or budget). Never
 *   retried, never counts toward a circuit breaker.
 * - `provider`: the provider failed (5xx, timeouts, resets, 429). Retried when
 *   `retryable`; counts toward the provider's breaker (429 excepted: rate
 *   limiting lowers concurrency instead, see `src/reliability/adaptiveLimit.ts`).
 * - `service`: our own failure (a bug, draining, a full queue). Never retried
 *   against the provider and never charged to it.
 */
export type Fault = 'caller' | 'provider' | 'service';

/**
 * The service's error vocabulary: one table maps each stable `code` to its HTTP
 * status, whether a client may retry, and whose fault it is by default. Routes,
 * the orchestrator and provider error mapping all speak these codes; the
 * contract (CONTRACT.md) and openapi.yaml list the same set, and a test checks
 * they agree.
 */
export const ERROR_TABLE = {
  invalid_request: { status: 400, retryable: false, fault: 'caller' },
  unauthorized: { status: 401, retryable: false, fault: 'caller' },
  forbidden: { status: 403, retryable: false, fault: 'caller' },
  not_found: { status: 404, retryable: false, fault: 'caller' },
  request_timeout: { status: 408, retryable: true, fault: 'caller' },
  tool_not_found: { status: 404, retryable: false, fault: 'caller' },
  // A tool whose agents hand the task to one another, while this deployment runs with HANDOFFS off.
  handoffs_disabled: { status: 400, retryable: false, fault: 'caller' },
  idempotency_in_progress: { status: 409, retryable: true, fault: 'caller' },
  payload_too_large: { status: 413, retryable: false, fault: 'caller' },
  uri_too_long: { status: 414, retryable: false, fault: 'caller' },
  idempotency_conflict: { status: 422, retryable: false, fault: 'caller' },
  // A provider's 429 by default; the tenant limiter's own 429 is the caller's (it says so where it is raised).
  rate_limited: { status: 429, retryable: true, fault: 'provider' },
  header_too_large: { status: 431, retryable: false, fault: 'caller' },
  internal: { status: 500, retryable: true, fault: 'service' },
  provider_error: { status: 502, retryable: true, fault: 'provider' },
  unavailable: { status: 503, retryable: true, fault: 'service' },
  circuit_open: { status: 503, retryable: true, fault: 'provider' },
  timeout: { status: 504, retryable: true, fault: 'provider' },
  // Run-level codes: they appear in a run's `error`, never as an HTTP status of their own.
  cancelled: { status: 499, retryable: false, fault: 'caller' },
  budget_exceeded: { status: 402, retryable: false, fault: 'caller' },
  schema_validation: { status: 422, retryable: false, fault: 'caller' },
  // The replica executing the run died and the run could not safely continue elsewhere.
  worker_lost: { status: 503, retryable: true, fault: 'service' },
} as const satisfies Record<string, { status: number; retryable: boolean; fault: Fault }>;

/** A stable, lower_snake_case error code from {@link ERROR_TABLE}. */
export type ErrorCode = keyof typeof ERROR_TABLE;

/** Every code, in table order (used by the openapi enum test). */
export const ERROR_CODES = Object.keys(ERROR_TABLE) as ErrorCode[];

/** The JSON shape of an error, inside the HTTP envelope and on runs/replicates: the one schema of it. */
export const ErrorBodySchema = z.object({
  code: z.enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
  retryable: z.boolean(),
  details: z.unknown().optional(),
});

/** The JSON shape of an error (derived from {@link ErrorBodySchema}). */
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/**
 * An error the service raises on purpose. `code` fixes the HTTP status, the
 * default `retryable` and the default `fault`. The provider error map may
 * override `retryable` and `fault` for one error, since one code covers
 * answers of both kinds: a provider 500 and a provider 400 are both
 * `provider_error`, but only the first is the provider's fault and worth
 * retrying. `fault` is not part of the JSON body.
 */
export class ServiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly fault: Fault;
  readonly details: unknown;
  /** Milliseconds the caller should wait before trying again, when known (429s, Retry-After). */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: unknown; retryable?: boolean; fault?: Fault; status?: number; retryAfterMs?: number | undefined } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    // The one remaining status override is the 406 for an unacceptable Accept (app.ts), which the contract files under invalid_request.
    this.status = options.status ?? ERROR_TABLE[code].status;
    this.retryable = options.retryable ?? ERROR_TABLE[code].retryable;
    this.fault = options.fault ?? ERROR_TABLE[code].fault;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** The error as it appears in JSON (run `error`, replicate `error`, envelope). */
  toJSON(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.details !== undefined) body.details = this.details;
    return body;
  }
}

/** True for errors thrown because an AbortSignal fired (DOM AbortError and friends). */
export function isAbortError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === 'AbortError' || error.name === 'APIUserAbortError' || (error as { code?: unknown }).code === 'ABORT_ERR';
}

/**
 * What can stop the service from starting; never an HTTP answer. The code
 * goes to the log (`code`) and to stderr, so an operator can act on it.
 */
export const STARTUP_ERROR_CODES = ['config_invalid', 'planner_rules_invalid', 'tool_invalid', 'store_unreachable', 'routes_unprotected'] as const;
export type StartupErrorCode = (typeof STARTUP_ERROR_CODES)[number];

/** A problem found while the service starts, with its {@link StartupErrorCode}. */
export class StartupError extends Error {
  readonly code: StartupErrorCode;

  constructor(code: StartupErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
