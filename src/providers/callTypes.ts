/**
 * The shapes at the seam between tools and providers: what a call asks,
 * what it answers, how it fails. Their own module so the per-provider
 * client, the router across providers and the wiring share them without
 * importing each other.
 */
import type { Span } from '@opentelemetry/api';
import type { ServiceError } from '../errors.ts';
import type { TraceContext } from '../lib/trace.ts';
import type { Usage } from '../schemas/bundle.ts';
import type { RunInput } from '../schemas/request.ts';
import type { Tool } from '@openai/agents-core';
import type { HandoffRequest } from './handoffRun.ts';
import type { SdkPath } from './singleTurn.ts';

/** One call to a model, as a tool asks for it. */
export interface ModelCallRequest {
  model: string;
  instructions?: string | undefined;
  input: RunInput;
  /** JSON Schema the answer must follow; the answer is then parsed JSON. */
  outputSchema?: Record<string, unknown> | undefined;
  seed?: number | undefined;
  temperature?: number | undefined;
  maxOutputTokens?: number | undefined;
  signal: AbortSignal;
  trace: TraceContext;
  /** Whose call it is: provider-call slots are shared round-robin across tenants. */
  tenant?: string | undefined;
  /** The span this call belongs to (a replicate, the synthesis): each attempt is a `provider_call` under it. */
  span?: Span | undefined;
  /** Models (`provider/model` or bare) tried in order when `model`'s circuit is open or it keeps failing. */
  fallbackModels?: readonly string[] | undefined;
  /** Sent as the `Idempotency-Key` header of every attempt of this call (see reliability/callKeys.ts). */
  idempotencyKey?: string | undefined;
  /** Run the call as a conversation of agents that hand the task to one another (docs/handoffs.md); only tools with `handoffs: true` set it. */
  handoffs?: HandoffRequest | undefined;
  /** Tools the sub-agent may call: such an agent runs on the Agents SDK's Runner (see `singleTurn.ts`). */
  tools?: Tool[] | undefined;
}

/** A model a call moved away from, and why (the error code that made it move). */
export interface FallbackStep {
  provider: string;
  model: string;
  reason: string;
}

/** What every successful provider operation reports for accounting. */
export interface CallAccounting {
  usage: Usage;
  cost_usd: number;
  provider: string;
  model: string;
  attempts: number;
  latency_ms: number;
}

/** What a successful call returns: the answer plus its accounting. */
export interface ModelCallResult extends CallAccounting {
  output: unknown;
  /** The agent runtime that answered (`openai_agents`: the OpenAI Agents SDK). */
  runtime?: 'openai_agents';
  /** Which layer of it: its model layer for a single turn, its Runner for tools or handoffs (`singleTurn.ts`). */
  sdk_path?: SdkPath;
  /** Features the model's capabilities made the call give up (no seed sent, JSON mode instead of a schema…). */
  warnings?: string[] | undefined;
  /** Models tried before the one that answered, in order; absent or empty when the first answered. */
  fallbacks?: FallbackStep[] | undefined;
  /** True when each turn was already reported through `handoffs.onTurn` (whose caller charged it): the totals are for the record only. */
  chargedByTurn?: boolean;
}

/** Texts to embed (for the semantic distance metric). */
export interface EmbeddingRequest {
  input: string[];
  model?: string | undefined;
  signal: AbortSignal;
  trace: TraceContext;
  tenant?: string | undefined;
  /** The span this call belongs to: each attempt is a `provider_call` under it. */
  span?: Span | undefined;
  /** Sent as the `Idempotency-Key` header of every attempt of this call. */
  idempotencyKey?: string | undefined;
}

/** Vectors in input order, plus accounting. */
export interface EmbeddingResult extends CallAccounting {
  vectors: number[][];
}

/** The embedding model when a tool names none. */
export const DEFAULT_EMBEDDING_MODEL = 'text-embedding-3-small';

/** What a call spent. */
export interface Spend {
  usage: Usage;
  cost_usd: number;
}

/** A failed call: the mapped error plus what was spent finding out. */
export class ModelCallError extends Error {
  readonly error: ServiceError;
  readonly attempts: number;
  readonly latency_ms: number;
  /** The provider and model of the last call tried, when the gateway knows them. */
  readonly provider: string | undefined;
  readonly model: string | undefined;
  /** Models given up on before the last one, in order. */
  readonly fallbacks: FallbackStep[];
  /** What the call spent before it failed (turns of a handoff run that were answered), when anything. */
  readonly spent: Spend | undefined;

  constructor(
    error: ServiceError,
    attempts: number,
    latencyMs: number,
    where: { provider?: string; model?: string; fallbacks?: FallbackStep[]; spent?: Spend | undefined } = {},
  ) {
    super(error.message, { cause: error });
    this.name = new.target.name;
    this.error = error;
    this.attempts = attempts;
    this.latency_ms = latencyMs;
    this.provider = where.provider;
    this.model = where.model;
    this.fallbacks = where.fallbacks ?? [];
    this.spent = where.spent;
  }
}

/** The seam between tools and providers: tools never see the openai SDK. */
export interface ModelGateway {
  /** Name on results and events (`simulator`, `openai`, …). */
  readonly provider: string;
  /** One model call with retries, breaker, error mapping, usage and price. */
  call(request: ModelCallRequest): Promise<ModelCallResult>;
  /** Embeddings of texts, with the same retries, breaker and accounting as calls. */
  embed(request: EmbeddingRequest): Promise<EmbeddingResult>;
  /** What `usage` on `model` costs, in USD (0 for unpriced models). */
  costOf(model: string, usage: Usage): number;
  /** Whether `model` has a known price (a cost budget cannot be enforced on one without). Absent: every model is priced. */
  hasPrice?(model: string): boolean;
  /** Breaker state per provider:model. */
  breakerStates(): Record<string, 'closed' | 'open' | 'half_open'>;
  /** Which provider serves a model reference, and the model's name there. Absent: every model is `provider`'s. */
  resolve?(ref: string): { provider: string; model: string };
  /** The configured providers and their models, without keys (`GET /v1/models`). Absent: only `provider`. */
  catalogue?(): ProviderListing[];
  close(): Promise<void>;
}

/** One configured provider as `GET /v1/models` shows it: never its key. */
export interface ProviderListing {
  name: string;
  /** Whether bare model names go to it. */
  default: boolean;
  base_url: string;
  api: 'chat_completions' | 'responses';
  /** Models it declares (it may serve others). */
  models: string[];
}
