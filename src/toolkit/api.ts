import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { ServiceError } from '../errors.ts';
import type { TraceContext } from '../lib/trace.ts';
import type { Bundle } from '../schemas/bundle.ts';
import type { EmittedEvent } from '../schemas/events.ts';
import type { AgentSpec, BudgetLimits, EarlyStopConfig, LaunchConfig, RunInput, SynthesizeConfig } from '../schemas/request.ts';
import type { EmbeddingRequest, EmbeddingResult, ModelCallRequest, ModelCallResult } from '../providers/gateway.ts';
import type { HandoffPlan } from '../providers/handoffRun.ts';

/** A JSON Schema document. */
export type JsonSchema = Record<string, unknown>;

/**
 * How replicate outputs are compared when building pairwise distances;
 * `semantic` embeds each output (one embeddings call per replicate, charged
 * to the run) and compares vectors by cosine.
 */
export type DistanceMetricName = 'auto' | 'structural' | 'textual' | 'semantic';

/** Defaults a tool brings; a request overrides them field by field. */
export interface ToolDefaults {
  replicates?: number;
  agent?: AgentSpec;
  early_stop?: EarlyStopConfig;
  budget?: BudgetLimits;
  launch?: LaunchConfig;
  synthesize?: SynthesizeConfig;
  metric?: DistanceMetricName;
  merge?: string;
  timeout_ms?: number;
}

/** The request as a tool sees it: defaults applied, model and seed resolved. */
export interface ResolvedRequest {
  input: RunInput;
  agent: AgentSpec & { model: string };
  replicates: number;
  seed: number;
  early_stop: EarlyStopConfig | undefined;
  launch: LaunchConfig;
  budget: BudgetLimits;
  synthesize: SynthesizeConfig | undefined;
  metric: DistanceMetricName;
  merge: string;
  /** `merge.weights` of the request: per model (`provider/model` or bare), the weight of its replicates' votes. */
  model_weights?: Record<string, number> | undefined;
  options: Record<string, unknown>;
  /** Set only by a tool with `handoffs: true` (never from a request): each replicate is a conversation of these agents. */
  handoffs?: HandoffPlan | undefined;
}

/** What a tool hands back: its output and, for bundle-style tools, the Evidence Bundle. */
export interface ToolOutcome {
  output: unknown;
  bundle: Bundle | null;
  /** Set when the tool failed in a way the run should report. */
  error?: ServiceError | null;
}

/**
 * A run-scoped handle on models: every call is charged to the run's budget
 * and cost lines. A call's `signal`, when given, replaces the run's and must
 * follow it (derive it with `AbortSignal.any([ctx.signal, yours])`), so
 * cancel, timeout and budget still reach the request; by default the run's
 * signal is used.
 */
export interface RunModels {
  call(request: Omit<ModelCallRequest, 'signal' | 'trace' | 'idempotencyKey'> & { signal?: AbortSignal; slot?: Pick<CallSlot, 'replicate'> }): Promise<ModelCallResult>;
  embed(request: Omit<EmbeddingRequest, 'signal' | 'trace' | 'idempotencyKey'> & { signal?: AbortSignal }): Promise<EmbeddingResult>;
  readonly provider: string;
  /** Which provider serves a model reference (`provider/model` or bare), and the model's name there. */
  resolve(ref: string): { provider: string; model: string };
}

/**
 * Which call of the run this is, for its provider `Idempotency-Key`: the
 * replicate (or the synthesizer) and the call within it (the orchestrator
 * numbers calls per replicate). Calls without one are numbered in the order
 * the run makes them.
 */
export interface CallSlot {
  replicate: number | 'synthesizer';
  call: number;
}

/** Options of {@link ToolMemory.set}. */
export interface MemorySetOptions {
  /**
   * Smaller forms of the value, tried in order when the whole value would
   * take the run's memory past MEMORY_MAX_BYTES; the one stored is marked
   * trimmed (logged as a warning, listed in the result's `memory.trimmed`).
   */
  trimmed?: readonly unknown[];
}

/**
 * What the run has seen, shared by its tools, pipeline steps and
 * synthesizer (docs/memory.md): `input`, `planner`, `partial[.<step>]`,
 * `synthesis[.<step>]`, `step.<label>`, `note.<name>`. Kept in the store
 * (memory or Redis) within MEMORY_MAX_BYTES and MEMORY_MAX_ENTRIES, expiring
 * with the run, dropped when it ends.
 */
export interface ToolMemory {
  /** An entry's value, or undefined when the run's memory has none under `key`. */
  get(key: string): Promise<unknown>;
  /** Every entry of the run, by key. */
  entries(): Promise<Record<string, unknown>>;
  /**
   * Writes an entry (any key of the grammar but `input` and `planner`).
   * @throws ServiceError `invalid_request` naming MEMORY_MAX_BYTES or MEMORY_MAX_ENTRIES when the run's memory cannot take it, or for a bad key or a value that is not JSON.
   */
  set(key: string, value: unknown, options?: MemorySetOptions): Promise<void>;
  /** Writes an observation without waiting and without failing: refused or failed writes are logged (the replicate engine's partials, the synthesizer's note). */
  record(key: string, value: unknown): void;
  /** The key of this tool's composite step `label` (`step.<label>`, under this tool's own step when it is itself a step). */
  stepKey(label: string): string;
  /** Where this tool's partial summary and synthesizer note go (`partial`/`synthesis`, or `partial.<step>`/`synthesis.<step>` for an inner tool). */
  readonly ownKeys: { partial: string; synthesis: string };
  /**
   * Keeps `summary` (any JSON value) in the run's result as `memory.summary`,
   * with the list of entries the memory held; the memory itself is dropped
   * when the run ends either way. The last call wins.
   * @throws ServiceError `invalid_request` when the summary alone is over MEMORY_MAX_BYTES.
   */
  keep(summary: unknown): void;
}

/** Runs replicates of `request.agent` and returns the bundle (shared by all agent tools). */
export type ReplicateFn = (overrides?: Partial<ResolvedRequest>) => Promise<ToolOutcome>;

/**
 * Everything a tool may touch while it runs. Nothing global: the signal is
 * the run's (cancel, timeout, budget and early stop all abort through it).
 */
export interface ToolContext {
  readonly runId: string;
  readonly toolName: string;
  readonly request: ResolvedRequest;
  readonly signal: AbortSignal;
  readonly trace: TraceContext;
  /** This tool's span (`tool`): spans the tool starts (replicates, inner tools) go under it. Non-recording without tracing. */
  readonly span: Span;
  readonly log: Logger;
  readonly models: RunModels;
  /** The run's memory: what it has seen so far, readable by every tool of the run (docs/memory.md). */
  readonly memory: ToolMemory;
  /** Emits an event; the orchestrator stamps seq, ids and time. */
  emit(event: EmittedEvent): void;
  /** The shared replicate engine: parallel sub-agents, validation, early stop, bundle. */
  replicate: ReplicateFn;
  /** Runs another registered tool inside this run (composition). Its events carry its own tool name. */
  runTool(name: string, request: Partial<ResolvedRequest>, options?: { version?: string; step?: string }): Promise<ToolOutcome>;
}

/** A tool: metadata for the catalogue plus `execute`. */
export interface ToolDefinition {
  name: string;
  /** semver */
  version: string;
  description: string;
  input_schema: JsonSchema;
  output_schema: JsonSchema;
  tags: string[];
  defaults?: ToolDefaults;
  /** Tools this one composes, by name and semver range; checked at startup. */
  dependencies?: Record<string, string>;
  /** Where the tool came from (a file path for declarative tools). */
  source?: string;
  /** Throws a ServiceError when this deployment cannot run the tool (e.g. handoffs while HANDOFFS is off); checked before a run is created. */
  admit?(): void;
  execute(ctx: ToolContext): Promise<ToolOutcome>;
}

/** Identity helper that gives tool modules type checking. */
export function defineTool(tool: ToolDefinition): ToolDefinition {
  return tool;
}
