/**
 * The service's error vocabulary: one table maps each stable `code` to its HTTP
 * status and whether a client may retry. Routes, the orchestrator and provider
 * error mapping all speak these codes; the contract (CONTRACT.md) and
 * openapi.yaml list the same set, and a test checks they agree.
 */
export const ERROR_TABLE = {
  invalid_request: { status: 400, retryable: false },
  unauthorized: { status: 401, retryable: false },
  forbidden: { status: 403, retryable: false },
  not_found: { status: 404, retryable: false },
  request_timeout: { status: 408, retryable: true },
  tool_not_found: { status: 404, retryable: false },
  idempotency_in_progress: { status: 409, retryable: true },
  payload_too_large: { status: 413, retryable: false },
  uri_too_long: { status: 414, retryable: false },
  idempotency_conflict: { status: 422, retryable: false },
  rate_limited: { status: 429, retryable: true },
  header_too_large: { status: 431, retryable: false },
  internal: { status: 500, retryable: true },
  provider_error: { status: 502, retryable: true },
  unavailable: { status: 503, retryable: true },
  circuit_open: { status: 503, retryable: true },
  timeout: { status: 504, retryable: true },
  // Run-level codes: they appear in a run's `error`, never as an HTTP status of their own.
  cancelled: { status: 499, retryable: false },
  budget_exceeded: { status: 402, retryable: false },
  schema_validation: { status: 422, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

/** A stable, lower_snake_case error code from {@link ERROR_TABLE}. */
export type ErrorCode = keyof typeof ERROR_TABLE;

/** Every code, in table order (used by the openapi enum test). */
export const ERROR_CODES = Object.keys(ERROR_TABLE) as ErrorCode[];

/** The JSON shape of an error, inside the HTTP envelope and on runs/replicates. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  details?: unknown;
}

/**
 * An error the service raises on purpose. `code` fixes the HTTP status and
 * the default `retryable`; a provider error may override `retryable` (a 400
 * from a provider maps to `provider_error` but must not be retried).
 */
export class ServiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: unknown;
  /** Seconds the caller should wait before trying again, when known (429s). */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: unknown; retryable?: boolean; status?: number; retryAfterMs?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? ERROR_TABLE[code].status;
    this.retryable = options.retryable ?? ERROR_TABLE[code].retryable;
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
