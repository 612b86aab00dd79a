import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { ServiceError } from '../errors.ts';
import { afterRequestOut } from '../lib/offPath.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Tracing } from '../observability/tracing.ts';
import type { ModelGateway } from '../providers/gateway.ts';
import type { RunAccount } from '../requests/runAccount.ts';
import type { CostLimits } from '../requests/budgetCheck.ts';
import type { RequestLimits } from '../requests/resolveRequest.ts';
import type { Bundle, Replicate } from '../schemas/bundle.ts';
import type { EventStamp, RunEvent } from '../schemas/events.ts';
import type { RunRequest } from '../schemas/request.ts';
import type { PlannerDecision, RunResult } from '../schemas/result.ts';
import type { Store } from '../store/types.ts';
import type { ResolvedRequest, ToolDefinition } from '../toolkit/api.ts';
import type { ToolRegistry } from '../toolkit/registry.ts';
import type { MemoryLimits, RunMemory } from '../toolkit/runMemory.ts';
import type { Planner } from '../planning/planner.ts';
import type { Redactor } from '../lib/redaction.ts';
import type { Clock } from '../lib/clock.ts';
import type { TraceContext } from '../lib/trace.ts';
import type { SchemaValidator } from '../lib/validator.ts';

/** What the orchestrator needs; all of it passed in, nothing global. */
export interface OrchestratorDeps {
  store: Store;
  registry: ToolRegistry;
  planner: Planner;
  gateway: ModelGateway;
  validator: SchemaValidator;
  metrics: Metrics;
  logger: Logger;
  redact: Redactor;
  redactEvents: boolean;
  /** Mask REDACT_PATTERNS matches in the final result before it is stored and answered (REDACT_RESULTS). */
  redactResults?: boolean;
  limits: RequestLimits & { maxConcurrency: number; maxActiveRuns: number; maxQueuedRuns: number; maxRunsPerTenant?: number; outputTokensReserved?: number } & CostLimits;
  /** Time for records, deadlines and event stamps (default: the wall clock). */
  clock?: Clock;
  /**
   * With STORE=redis: runs go through a shared job queue and any replica's
   * worker may execute them (see Orchestrator.process). Without it,
   * a run executes in the process that accepted it.
   */
  dispatch?: RunDispatch;
  /** Spans of runs (`run` → `tool` → `replicate` → `provider_call`); default: none recorded. */
  tracing?: Tracing;
  /** Bounds of run memory (`ctx.memory`, docs/memory.md); default: the config's defaults. */
  memory?: MemoryLimits;
}

/** A queued run: everything a worker on any replica needs besides the run record. */
export interface RunJob {
  id: string;
  tool: string;
  tool_version: string;
  request: ResolvedRequest;
  trace: TraceContext;
  timeoutMs: number;
  idempotencyKey?: string | undefined;
}

/** The job queue as the orchestrator uses it (src/runs/runQueue.ts on BullMQ). */
export interface RunDispatch {
  enqueue(job: RunJob): Promise<void>;
  /** Removes a job no worker holds yet, answering its data. */
  takeWaiting(id: string): Promise<RunJob | null>;
  /** Whether the job is still to be executed or being executed (another replica may hold it). */
  exists(id: string): Promise<boolean>;
  stopTaking(): Promise<void>;
  /** Take-overs of one run before it ends `worker_lost`. */
  readonly maxTakeovers: number;
  /** How long a dead replica's run may wait for a take-over. */
  readonly leaseMs: number;
}

/** How a run was asked for, beyond its body. */
export interface StartOptions {
  trace: TraceContext;
  /** Who asks; with API keys on, run ids carry it so other tenants cannot reach the run. */
  tenant?: string | undefined;
  /** Store key of the idempotency record to complete when the run ends. */
  idempotencyKey?: string | undefined;
}

/** How a prepared run is launched. */
export interface LaunchOptions {
  /** Store key of the idempotency record to complete when the run ends. */
  idempotencyKey?: string | undefined;
  /** The caller answers with the final record (a synchronous POST): let it answer first ({@link RunHandle.answer}). */
  answerAtEnd?: boolean;
}

/** A checked request, ready to launch: its id is fixed before anything is stored. */
export interface PreparedRun {
  id: string;
  body: RunRequest;
  tool: ToolDefinition;
  request: ResolvedRequest;
  decision: PlannerDecision;
  trace: TraceContext;
  timeoutMs: number;
  /** Whose run it is (admission shares are per tenant). */
  tenant: string;
  /** Frees the admission slot reserved by `prepare` (idempotent); call it when the run is not launched. */
  release: () => void;
}

/** A started run: its first record, and a promise of its last. */
export interface RunHandle {
  id: string;
  record: RunResult;
  done: Promise<RunResult>;
  /**
   * Once `done` has settled: the JSON of the record it resolved with, when
   * this process made it while ending the run (once: a second call answers
   * undefined), so an answer need not serialize the record again. Undefined
   * otherwise (a run executed by another replica, a store that does not
   * measure JSON).
   */
  takeJson?: () => string | undefined;
  /**
   * For a run launched to be answered at its end (`answerAtEnd`): resolves
   * with the final record as soon as it is made (like `done`, then
   * `takeJson`), before the run's last writes when the store writes in
   * process (`Store.writesInProcess`). Those writes (the last events, the
   * final record, the idempotency record, `run_completed`) are made at the
   * end of the same turn of the event loop: an answer sent on resolving
   * goes out first, and every request handled after it still finds them.
   * Absent for other runs: their answer waits for `done`.
   */
  answer?: Promise<RunResult>;
}

/** A run executing (or ending) in this process. */
export interface ActiveRun {
  id: string;
  /** The tenant tag of the run id: run slots and provider calls are queued fairly per tenant. */
  tenant: string;
  record: RunResult;
  tool: ToolDefinition;
  request: ResolvedRequest;
  controller: AbortController;
  account: RunAccount;
  trace: TraceContext;
  log: Logger;
  seq: number;
  writes: Promise<void>[];
  done: Promise<RunResult>;
  /** What has arrived so far, for the live record. */
  partial: { replicates: Replicate[]; summary: Bundle['summary'] | null; statistics: Bundle['statistics'] | null };
  idempotencyKey: string | undefined;
  /** Replicates a previous executor finished (take-over). */
  kept: Replicate[];
  /** Set when another replica may now own the run: nothing more is written for it here. */
  relinquished: boolean;
  /**
   * Writes the run owes that its first provider request does not need, in
   * the order they were owed (today the start's: the `running` record,
   * `run_started`). Done
   * before the run's next event, before its end, or once its first provider
   * request is out (`afterRequestOut`), whichever comes first ({@link flushOwed}).
   */
  owed: (() => void)[];
  /** The run's span, from launch (or pick-up) to its end here. */
  span: Span;
  /** What the run has seen (`ctx.memory`), dropped when it ends. */
  memory: RunMemory;
  /** The JSON of the final record, made while ending the run, until an answer takes it ({@link RunHandle.takeJson}). */
  finalJson?: string | undefined;
  /**
   * Set for a run answered first ({@link RunHandle.answer}): resolves its
   * answer; `unsent` then holds the events stamped this turn, appended to
   * the store at the end of it (`RunEvents.flush`). Null otherwise: events
   * are appended as they are emitted.
   */
  answered: ((final: RunResult) => void) | null;
  unsent: RunEvent[] | null;
}

/** Events only the orchestrator emits, before stamping. */
export type OwnEvent =
  | Omit<Extract<RunEvent, { type: 'run_started' }>, keyof EventStamp>
  | Omit<Extract<RunEvent, { type: 'run_resumed' }>, keyof EventStamp>
  | Omit<Extract<RunEvent, { type: 'run_completed' }>, keyof EventStamp>;

/**
 * Owes `write` for `active` (see {@link ActiveRun.owed}): done with the
 * run's other owed writes, in order, once its first provider request is out,
 * or sooner by {@link flushOwed}. One schedule per batch of owed writes.
 */
export function owe(active: ActiveRun, write: () => void): void {
  active.owed.push(write);
  if (active.owed.length === 1) afterRequestOut(() => flushOwed(active));
}

/** Does the writes `active` still owes, in order, now (nothing once the run was handed over). */
export function flushOwed(active: ActiveRun): void {
  if (active.owed.length === 0) return;
  const owed = active.owed.splice(0);
  if (!active.relinquished) for (const write of owed) write();
}

/** The final record's JSON made while ending `active`, handed over once ({@link RunHandle.takeJson}). */
export function takeFinalJson(active: ActiveRun): string | undefined {
  const json = active.finalJson;
  active.finalJson = undefined;
  return json;
}

export function cancelledError(): ServiceError {
  return new ServiceError('cancelled', 'run cancelled by request');
}
