import { createHash, randomInt, randomUUID } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { computeStatistics, summarize } from '../bundle/index.ts';
import { isAbortError, ServiceError } from '../errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import { endSpan, NOOP_TRACING, usageAttributes, type Tracing } from '../observability/tracing.ts';
import { callKeyring } from './callKeyring.ts';
import { DEFAULT_EMBEDDING_MODEL, ModelCallError, type CallAccounting, type ModelGateway } from '../providers/gateway.ts';
import type { Bundle, Replicate, Usage } from '../schemas/bundle.ts';
import type { EmittedEvent, EventStamp, RunEvent } from '../schemas/events.ts';
import type { RunInput, RunRequest } from '../schemas/request.ts';
import { isTerminal, type PlannerDecision, type RunResult, type RunStatus } from '../schemas/result.ts';
import { tenantOfRun, type Store } from '../store/types.ts';
import type { ResolvedRequest, RunModels, ToolContext, ToolDefinition, ToolOutcome } from '../tools/api.ts';
import type { ToolRegistry } from '../tools/registry.ts';
import { rememberStep } from '../tools/stepMemory.ts';
import type { Planner } from './planner.ts';
import type { Redactor } from './redaction.ts';
import { applyCostCeilings, checkBudgetFits, estimateCall, type CallEstimate, type CostLimits } from './budgetCheck.ts';
import { isoMicros, preciseNow } from './clock.ts';
import { RunWaiters } from './eventFeed.ts';
import { runReplicates } from './replicateRunner.ts';
import { RunMemory, type MemoryLimits } from './runMemory.ts';
import { resolveRequest, type RequestLimits } from './resolveRequest.ts';
import { emptyBudgetReport, emptyUsage, RunAccount } from './runAccount.ts';
import { Semaphore } from './semaphore.ts';
import { deadlinesOf, planPickUp, type RunDeadlines } from './takeover.ts';
import type { TraceContext } from './trace.ts';
import type { SchemaValidator } from './validator.ts';

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
  now?: () => number;
  /**
   * With STORE=redis: runs go through a shared job queue and any replica's
   * worker may execute them (see {@link Orchestrator.process}). Without it,
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

/** The job queue as the orchestrator uses it (src/core/runQueue.ts on BullMQ). */
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
}

interface ActiveRun {
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
  /** The run's span, from launch (or pick-up) to its end here. */
  span: Span;
  /** What the run has seen (`ctx.memory`), dropped when it ends. */
  memory: RunMemory;
}

/**
 * Owns every run's lifecycle: status, AbortController, timeout and budget
 * timers, event numbering and the run record. Tools do the work; the
 * orchestrator decides how a run ends.
 */
export class Orchestrator {
  readonly #deps: OrchestratorDeps;
  readonly #now: () => number;
  /** Clock of event `ts`: sub-millisecond unless a test injects `now`. */
  readonly #eventNow: () => number;
  readonly #tracing: Tracing;
  readonly #active = new Map<string, ActiveRun>();
  readonly #slots: Semaphore;
  readonly #unsubscribeCancel: () => void;
  /** Runs accepted here and not yet ended, plus prepared ones about to be: the admission bound. */
  #admitted = 0;
  readonly #admittedByTenant = new Map<string, number>();
  /** Callers waiting on runs accepted here (resolved by the local executor or from the store). */
  readonly #waiters: RunWaiters;
  #draining = false;

  constructor(deps: OrchestratorDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#eventNow = deps.now ?? preciseNow;
    this.#tracing = deps.tracing ?? NOOP_TRACING;
    this.#slots = new Semaphore(deps.limits.maxActiveRuns);
    this.#waiters = new RunWaiters(deps.store, this.#now);
    this.#unsubscribeCancel = deps.store.onCancel((runId) => this.#abortLocal(runId, cancelledError()));
  }

  /** Runs executing or queued in this process. */
  get activeCount(): number {
    return this.#active.size;
  }

  /**
   * Checks a request and plans its run without side effects: a ServiceError
   * here is an HTTP error for the caller, and nothing was created.
   */
  prepare(body: RunRequest, options: StartOptions): PreparedRun {
    if (this.#draining) throw new ServiceError('unavailable', 'server is shutting down');
    const { maxActiveRuns, maxQueuedRuns, maxRunsPerTenant } = this.#deps.limits;
    const tenant = options.tenant ?? PUBLIC_TENANT;
    const mine = this.#admittedByTenant.get(tenant) ?? 0;
    if (maxRunsPerTenant !== undefined && mine >= maxRunsPerTenant) {
      throw new ServiceError('rate_limited', `too many runs in progress for this tenant (${mine}, MAX_RUNS_PER_TENANT=${maxRunsPerTenant}); retry shortly`, {
        retryAfterMs: 1000,
        details: { limit: 'MAX_RUNS_PER_TENANT' },
      });
    }
    if (this.#admitted >= maxActiveRuns + maxQueuedRuns) {
      throw new ServiceError('unavailable', `too many runs in progress (${this.#admitted}); retry shortly`, { retryAfterMs: 1000 });
    }
    // Reserved before anything awaits, so a burst cannot all pass the checks above; released if the run is not launched.
    this.#admitted++;
    this.#admittedByTenant.set(tenant, mine + 1);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      this.#admitted--;
      const left = (this.#admittedByTenant.get(tenant) ?? 1) - 1;
      if (left <= 0) this.#admittedByTenant.delete(tenant);
      else this.#admittedByTenant.set(tenant, left);
    };
    try {
      return this.#prepareAdmitted(body, options, tenant, release);
    } catch (error) {
      release();
      throw error;
    }
  }

  #prepareAdmitted(body: RunRequest, options: StartOptions, tenant: string, release: () => void): PreparedRun {
    const plan = this.#plan(body);
    const tool = this.#deps.registry.resolve(plan.tool, body.tool_version ?? plan.version);
    const request = resolveRequest(body, tool, plan.options, this.#deps.limits, () => randomInt(0, 2 ** 31 - 1));
    if (request.agent.output_schema) this.#deps.validator.compile(request.agent.output_schema);
    const costOf = (model: string, usage: Usage) => this.#deps.gateway.costOf(model, usage);
    applyCostCeilings(request, this.#deps.limits, costOf, (model) => this.#deps.gateway.hasPrice?.(model) ?? true);
    checkBudgetFits(request, costOf);
    const decision: PlannerDecision = { tool: tool.name, version: tool.version, rule: plan.rule ?? null, reason: plan.reason };
    return {
      id: runId(options.tenant),
      body,
      tool,
      request,
      decision,
      trace: options.trace,
      timeoutMs: body.timeout_ms ?? tool.defaults?.timeout_ms ?? this.#deps.limits.defaultTimeoutMs,
      tenant,
      release,
    };
  }

  /**
   * Starts a prepared run. Once this returns, the run exists and ends in a
   * terminal status whatever happens.
   */
  async launch(prepared: PreparedRun, idempotencyKey?: string): Promise<RunHandle> {
    try {
      return await this.#launch(prepared, idempotencyKey);
    } catch (error) {
      prepared.release();
      throw error;
    }
  }

  async #launch(prepared: PreparedRun, idempotencyKey: string | undefined): Promise<RunHandle> {
    const { id, tool, request, decision, trace, body } = prepared;
    const createdAt = new Date(this.#now()).toISOString();
    const record: RunResult = {
      id,
      object: 'run',
      status: 'queued',
      tool: tool.name,
      tool_version: tool.version,
      created_at: createdAt,
      started_at: null,
      completed_at: null,
      bundle: null,
      output: null,
      usage: emptyUsage(),
      cost_usd: 0,
      cost_breakdown: [],
      budget: emptyBudgetReport(request.budget),
      planner: decision,
      trace_id: trace.trace_id,
      request_id: trace.request_id,
      metadata: body.metadata ?? {},
      error: null,
    };
    // Accepted means stored: this write is never buffered, it lands or the request gets 503.
    await this.#deps.store.saveRun(record);
    const dispatch = this.#deps.dispatch;
    if (!dispatch) {
      const active = this.#activate(record, tool, request, trace, idempotencyKey, { seq: 0, kept: [], startedAt: this.#now() });
      active.done = this.#execute(active, deadlinesOf(this.#now(), prepared.timeoutMs, request), { slot: true, resumed: null }).finally(prepared.release);
      return { id, record, done: active.done };
    }
    const job: RunJob = { id, tool: tool.name, tool_version: tool.version, request, trace, timeoutMs: prepared.timeoutMs, idempotencyKey };
    try {
      await dispatch.enqueue(job);
    } catch (error) {
      // The record exists: end it (held through the outage if need be) so nothing accepted stays `queued`.
      const failed: RunResult = { ...record, status: 'failed', completed_at: new Date(this.#now()).toISOString(), error: (error instanceof ServiceError ? error : new ServiceError('unavailable', String(error))).toJSON() };
      this.#deps.store.saveRun(failed).catch(() => {});
      throw error;
    }
    // Registered after the enqueue without an await in between; a run that ended even sooner is seen by the head watch.
    const done = this.#waiters.wait(id, {
      executingHere: () => this.#active.has(id),
      // Past its timeout and a take-over, a run nobody ended (its job was lost with Redis' data) is ended here.
      giveUpAt: Date.parse(createdAt) + prepared.timeoutMs + dispatch.leaseMs * 2 + 5000,
      lookAgainMs: dispatch.leaseMs,
      endIfStuck: () => this.#endIfStuck(job),
    });
    done.then(prepared.release, prepared.release);
    return { id, record, done };
  }

  /**
   * Executes a queued run on this replica's worker: a fresh run, or one
   * whose executor died (take-over, see src/core/takeover.ts). Resolves when
   * the run has ended here (or was handed on).
   */
  async process(job: RunJob, attempt: number): Promise<void> {
    if (this.#active.has(job.id)) return;
    const record = await this.#deps.store.getRun(job.id);
    if (!record) {
      this.#deps.logger.warn({ run_id: job.id }, 'queued run has no record (expired or lost with Redis): dropped');
      return;
    }
    const events = record.status === 'queued' && attempt <= 1 ? [] : await this.#deps.store.readEvents(job.id, 0);
    const deadlines = deadlinesOf(Date.parse(record.created_at), job.timeoutMs, job.request);
    const pickUp = planPickUp(record, events, deadlines, this.#now(), attempt, this.#deps.dispatch?.maxTakeovers ?? DEFAULT_MAX_TAKEOVERS);
    const tool = this.#deps.registry.resolve(job.tool, job.tool_version);
    const startedAt = Date.parse(record.created_at);
    if (pickUp.kind === 'ended') {
      // Its executor died after saving the end but before announcing it: announce it now, once.
      if (pickUp.completed) return;
      const active = this.#activate(record, tool, job.request, job.trace, job.idempotencyKey, { seq: pickUp.lastSeq, kept: [], startedAt });
      this.#emit(active, { type: 'run_completed', result: record });
      if (job.idempotencyKey) await this.#deps.store.completeIdempotency(job.idempotencyKey, record).catch(() => {});
      await Promise.allSettled(active.writes);
      this.#active.delete(job.id);
      this.#deps.metrics.activeRuns.dec();
      this.#waiters.resolve(job.id, record);
      return;
    }
    const seq = pickUp.kind === 'fresh' ? 0 : pickUp.lastSeq;
    const kept = pickUp.kind === 'fresh' ? [] : pickUp.kept;
    const active = this.#activate(record, tool, job.request, job.trace, job.idempotencyKey, { seq, kept, startedAt });
    if (pickUp.kind === 'lost') {
      active.log.warn({ reason: pickUp.reason, attempt }, 'run taken over but cannot continue: worker_lost');
      active.done = this.#finish(active, null, new ServiceError('worker_lost', `the replica executing the run stopped and the run could not continue: ${pickUp.reason}`));
    } else {
      const resumed = pickUp.kind === 'resume' ? { after: pickUp.lastSeq, kept: kept.length, attempt } : null;
      if (resumed) active.log.info(resumed, 'run taken over');
      active.done = this.#execute(active, deadlines, { slot: false, resumed });
    }
    await active.done;
  }

  /** Ends a run BullMQ gave up on (or found queued with nobody to execute it) as `worker_lost`, unless it already ended. */
  async abandon(job: RunJob, reason = 'it was taken over too often'): Promise<void> {
    if (this.#active.has(job.id)) return;
    const record = await this.#deps.store.getRun(job.id);
    if (!record || isTerminal(record.status)) return;
    await this.#endElsewhere(job, record, new ServiceError('worker_lost', `the replica executing the run stopped and the run could not continue: ${reason}`));
  }

  /** This replica lost its lock on a run another replica may now execute: stop writing for it here. */
  relinquish(id: string): void {
    const active = this.#active.get(id);
    const dispatch = this.#deps.dispatch;
    if (!active || !dispatch) return;
    // A job gone from Redis (Redis restarted empty) has no other executor: this one finishes the run.
    void dispatch.exists(id).then(
      (exists) => {
        if (!exists || active.relinquished) return;
        active.log.warn('lock on the run lost: another replica takes it over');
        active.relinquished = true;
        active.controller.abort(new ServiceError('worker_lost', 'the run was handed to another replica'));
      },
      () => {},
    );
  }

  /** Ends a run that is not executing anywhere, from this replica: its log goes on from the stored seq. */
  async #endElsewhere(job: RunJob, record: RunResult, error: ServiceError): Promise<RunResult> {
    const events = await this.#deps.store.readEvents(job.id, 0);
    const tool = this.#deps.registry.resolve(job.tool, job.tool_version);
    const active = this.#activate(record, tool, job.request, job.trace, job.idempotencyKey, { seq: events.at(-1)?.seq ?? 0, kept: [], startedAt: Date.parse(record.created_at) });
    if (error.code === 'cancelled') active.controller.abort(error);
    active.done = this.#finish(active, null, error);
    return active.done;
  }

  #activate(record: RunResult, tool: ToolDefinition, request: ResolvedRequest, trace: TraceContext, idempotencyKey: string | undefined, from: { seq: number; kept: Replicate[]; startedAt: number }): ActiveRun {
    const controller = new AbortController();
    const log = this.#deps.logger.child({ run_id: record.id, trace_id: trace.trace_id, request_id: trace.request_id, tool: tool.name });
    const account = new RunAccount(request.budget, this.#now, (error) => controller.abort(error), from.startedAt);
    // What the kept replicates cost was spent: budgets count it.
    for (const r of from.kept) account.charge(r.provider, r.model, r.usage, r.cost_usd);
    const active: ActiveRun = {
      id: record.id,
      tenant: tenantOfRun(record.id),
      record,
      tool,
      request,
      controller,
      account,
      trace,
      log,
      seq: from.seq,
      writes: [],
      done: Promise.resolve(record),
      partial: { replicates: [...from.kept], summary: null, statistics: null },
      idempotencyKey,
      kept: from.kept,
      relinquished: false,
      span: this.#tracing.enabled
        ? this.#tracing.startRun(trace, { 'run.id': record.id, 'tool.name': tool.name, 'tool.version': tool.version, 'run.replicates': request.replicates })
        : this.#tracing.startRun(trace),
      memory: new RunMemory(this.#deps.store.runMemory, record.id, this.#deps.memory, log, this.#now),
    };
    this.#active.set(record.id, active);
    this.#deps.metrics.activeRuns.inc();
    return active;
  }

  async #endIfStuck(job: RunJob): Promise<RunResult | null> {
    const id = job.id;
    if (this.#active.has(id)) return null;
    const record = await this.#deps.store.getRun(id);
    if (!record) return null;
    if (isTerminal(record.status)) return record;
    const dispatch = this.#deps.dispatch as RunDispatch;
    if (await dispatch.exists(id)) return null;
    return this.#endElsewhere(job, record, new ServiceError('worker_lost', 'the run was lost with the job queue (Redis restarted without its data)'));
  }

  /** prepare + launch, for callers without an idempotency gate in between. */
  async start(body: RunRequest, options: StartOptions): Promise<RunHandle> {
    return this.launch(this.prepare(body, options), options.idempotencyKey);
  }

  /** The current record: live for runs of this process, else from the store. */
  async get(id: string): Promise<RunResult | null> {
    const active = this.#active.get(id);
    if (!active) return this.#deps.store.getRun(id);
    const { replicates, summary, statistics } = active.partial;
    if (active.record.bundle || replicates.length === 0) return active.record;
    // Replicates of a composite's steps are numbered per step: the live view numbers them in step order.
    const composite = replicates.some((r) => r.step !== undefined);
    const ordered = composite
      ? [...replicates].sort((a, b) => (a.step ?? '').localeCompare(b.step ?? '') || a.index - b.index).map((r, index) => ({ ...r, index }))
      : [...replicates].sort((a, b) => a.index - b.index);
    // The tool's own latest summary when it covers what has arrived; otherwise (between summaries, or a composite) one made now.
    const current = !composite && summary && statistics && statistics.completed === ordered.length;
    const bundle: Bundle = {
      replicates: ordered,
      summary: current ? summary : summarize(ordered, { merge: active.request.merge }),
      statistics: current ? statistics : computeStatistics(ordered, composite ? ordered.length : active.request.replicates),
      early_stop: { triggered: false, reason: null },
    };
    return { ...active.record, bundle, usage: active.account.usage, cost_usd: active.account.costUsd, cost_breakdown: active.account.costBreakdown, budget: active.account.report() };
  }

  /**
   * Cancels a run wherever it runs. Answers the record once the run has
   * ended (or after `waitMs` if its owner does not answer); null if unknown.
   */
  async cancel(id: string, waitMs = 5000): Promise<RunResult | null> {
    const active = this.#active.get(id);
    if (active) {
      this.#abortLocal(id, cancelledError());
      return active.done;
    }
    const record = await this.#deps.store.getRun(id);
    if (!record || isTerminal(record.status)) return record;
    await this.#deps.store.publishCancel(id);
    // A queued run no worker holds yet has nobody to hear the cancel: take its job off the queue and end it here.
    const waiting = await this.#deps.dispatch?.takeWaiting(id);
    if (waiting) return this.#endElsewhere(waiting, record, cancelledError());
    return this.#waitForTerminal(id, record, waitMs);
  }

  /** Stops taking runs and waits (up to `graceMs`) for active ones; cancels what is left. */
  async drain(graceMs: number): Promise<void> {
    this.#draining = true;
    await this.#deps.dispatch?.stopTaking();
    const pending = [...this.#active.values()].map((a) => a.done);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const outcome = await Promise.race([Promise.allSettled(pending), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      for (const id of this.#active.keys()) this.#abortLocal(id, new ServiceError('cancelled', 'the server shut down before the run finished'));
      await Promise.allSettled([...this.#active.values()].map((a) => a.done));
    }
    this.#unsubscribeCancel();
  }

  /** True while draining (readiness answers 503). */
  get draining(): boolean {
    return this.#draining;
  }

  #plan(body: RunRequest) {
    if (body.tool !== undefined) return { tool: body.tool, reason: 'tool named in the request', rule: null, version: undefined, options: undefined };
    return this.#deps.planner.choose(body);
  }

  #abortLocal(id: string, reason: ServiceError): void {
    const active = this.#active.get(id);
    if (active && !active.controller.signal.aborted) active.controller.abort(reason);
  }

  async #execute(active: ActiveRun, deadlines: RunDeadlines, opts: { slot: boolean; resumed: { after: number; kept: number; attempt: number } | null }): Promise<RunResult> {
    const { controller, log } = active;
    let outcome: ToolOutcome | null = null;
    let thrown: unknown = null;
    const timers: NodeJS.Timeout[] = [];
    // timeout_ms is the run's whole wall-clock limit from its creation: time queued (and lost to a dead replica) counts.
    const { timeoutMs, maxTimeMs } = deadlines;
    timers.push(setTimeout(() => controller.abort(new ServiceError('timeout', `run exceeded timeout_ms (${timeoutMs} ms)`)), Math.max(0, deadlines.timeoutAt - this.#now())));
    if (maxTimeMs !== undefined && deadlines.maxTimeAt !== undefined) {
      timers.push(
        setTimeout(
          () => controller.abort(new ServiceError('budget_exceeded', `time budget exceeded: ${maxTimeMs} ms`, { details: { limit: 'max_time_ms' } })),
          Math.max(0, deadlines.maxTimeAt - this.#now()),
        ),
      );
    }
    try {
      // Run slots go round-robin across tenants: one tenant's queued backlog does not hold back another's run.
      if (opts.slot) await this.#slots.acquire(controller.signal, active.tenant);
      try {
        active.memory.begin(deadlines.timeoutAt, active.request.input, active.record.planner);
        if (opts.resumed) {
          active.record = { ...active.record, status: 'running', started_at: active.record.started_at ?? new Date(this.#now()).toISOString() };
          this.#emit(active, { type: 'run_resumed', ...opts.resumed });
          log.info({ ...opts.resumed, tool_version: active.tool.version }, 'run resumed');
        } else {
          const startedAt = this.#now();
          active.record = { ...active.record, status: 'running', started_at: new Date(startedAt).toISOString() };
          active.writes.push(this.#deps.store.saveRun(active.record).catch((error: unknown) => log.error({ err: error }, 'could not save the running record')));
          this.#emitStarted(active);
          log.info({ tool_version: active.tool.version, replicates: active.request.replicates }, 'run started');
        }
        outcome = await this.#executeTool(active, active.tool, active.request, active.controller.signal, active.span, null);
      } finally {
        if (opts.slot) this.#slots.release(active.tenant);
      }
    } catch (error) {
      thrown = error;
    } finally {
      for (const t of timers) clearTimeout(t);
    }
    return this.#finish(active, outcome, thrown);
  }

  async #finish(active: ActiveRun, outcome: ToolOutcome | null, thrown: unknown): Promise<RunResult> {
    const { controller, log } = active;
    if (active.relinquished) {
      // Another replica owns the run now and writes its end; this one only lets go.
      await Promise.allSettled(active.writes);
      this.#active.delete(active.id);
      this.#deps.metrics.activeRuns.dec();
      if (this.#tracing.enabled) endSpan(active.span, { attributes: { 'run.status': 'handed_over' } });
      log.info('run handed over');
      return active.record;
    }
    const idempotencyKey = active.idempotencyKey;
    const { status, error } = decideStatus(controller.signal, outcome, thrown);
    if (status === 'failed' && thrown !== null && !(thrown instanceof ServiceError)) log.error({ err: thrown }, 'tool failed unexpectedly');
    const bundle: Bundle | null = outcome?.bundle ?? active.record.bundle;
    let final: RunResult = {
      ...active.record,
      status,
      started_at: active.record.started_at ?? null,
      completed_at: new Date(this.#now()).toISOString(),
      bundle,
      output: outcome?.output ?? (bundle ? bundle.summary.consensus : null) ?? null,
      usage: active.account.usage,
      cost_usd: active.account.costUsd,
      cost_breakdown: active.account.costBreakdown,
      budget: active.account.report(),
      error: error?.toJSON() ?? null,
    };
    final = await active.memory.end(final);
    if (this.#deps.redactResults) final = this.#deps.redact(final, 'result') as RunResult;
    active.record = final;
    active.partial = { replicates: [], summary: null, statistics: null };
    // The idempotency record and the run record are written before run_completed
    // goes out, so a client that sees the end can replay or fetch it at once.
    await Promise.allSettled(active.writes);
    try {
      await this.#deps.store.saveRun(final);
      if (idempotencyKey) await this.#deps.store.completeIdempotency(idempotencyKey, final);
    } catch (storeError) {
      log.error({ err: storeError }, 'could not persist the final run record');
    }
    // A run that ended while queued (cancel, timeout) still opens its stream with run_started.
    if (active.seq === 0) this.#emitStarted(active);
    this.#emit(active, { type: 'run_completed', result: final });
    await Promise.allSettled(active.writes);
    this.#waiters.resolve(active.id, final);
    active.writes = [];
    this.#active.delete(active.id);
    this.#deps.metrics.activeRuns.dec();
    this.#deps.metrics.runs.inc({ status });
    this.#deps.metrics.runDuration.observe({ status }, (Date.parse(final.completed_at as string) - Date.parse(final.created_at)) / 1000);
    if (this.#tracing.enabled) {
      endSpan(active.span, { error, attributes: { 'run.status': status, ...usageAttributes(final.usage), 'orchestrator.cost_usd': final.cost_usd } });
    }
    log.info({ status, usage: final.usage, cost_usd: final.cost_usd, error_code: error?.code ?? null }, 'run completed');
    return final;
  }

  #emitStarted(active: ActiveRun): void {
    this.#emit(active, { type: 'run_started', tool_version: active.tool.version, planner: active.record.planner, replicates: active.request.replicates });
  }

  /** Stamps and stores one event. Appends go out in call order, which keeps every source's order. */
  #emit(active: ActiveRun, event: EmittedEvent | OwnEvent): void {
    if (active.relinquished) return;
    let stamped = {
      tool: active.tool.name,
      ...event,
      seq: ++active.seq,
      run_id: active.id,
      trace_id: active.trace.trace_id,
      request_id: active.trace.request_id,
      ts: isoMicros(this.#eventNow()),
    } as RunEvent;
    if (this.#deps.redactEvents) stamped = this.#deps.redact(stamped, 'event') as RunEvent;
    if (stamped.type === 'replicate_done' && stamped.tool === active.tool.name) this.#trackReplicate(active, stamped.replicate);
    else if (stamped.type === 'replicate_done' && stamped.replicate.step !== undefined) active.partial.replicates.push(stamped.replicate);
    else if (stamped.type === 'partial_summary' && stamped.tool === active.tool.name) {
      active.partial.summary = stamped.summary;
      active.partial.statistics = stamped.statistics;
    }
    let write: Promise<void> | void;
    try {
      write = this.#deps.store.appendEvent(stamped);
    } catch (error) {
      active.log.error({ err: error, seq: stamped.seq }, 'event append failed');
      return;
    }
    // Only a store that writes asynchronously leaves something to wait for.
    if (write === undefined) return;
    active.writes.push(write.catch((error: unknown) => active.log.error({ err: error, seq: stamped.seq }, 'event append failed')));
    // Keep the pending list short on long runs: settled writes need no tracking.
    if (active.writes.length > 64) active.writes = [Promise.allSettled(active.writes).then(() => undefined)];
  }

  /** Keeps the live record's partial bundle current for `GET /v1/runs/{id}` while the run works. */
  #trackReplicate(active: ActiveRun, replicate: Replicate): void {
    active.partial.replicates.push(replicate);
    const metrics = this.#deps.metrics;
    metrics.replicateLatency.observe({ provider: replicate.provider, model: metrics.modelLabel(replicate.model), status: replicate.status }, replicate.latency_ms / 1000);
    if (replicate.error && replicate.status === 'failed') metrics.providerErrors.inc({ provider: replicate.provider, code: replicate.error.code });
  }

  /** Runs one tool (the run's, or an inner one of a composite) under its own `tool` span. */
  async #executeTool(active: ActiveRun, tool: ToolDefinition, request: ResolvedRequest, signal: AbortSignal, parent: Span, step: string | null): Promise<ToolOutcome> {
    const tracing = this.#tracing;
    if (!tracing.enabled) return tool.execute(this.#context(active, tool, request, signal, parent, step ?? undefined));
    const span = tracing.startChild('tool', parent, { 'tool.name': tool.name, 'tool.version': tool.version, ...(step !== null ? { 'tool.step': step } : {}) });
    try {
      const outcome = await tool.execute(this.#context(active, tool, request, signal, span, step ?? undefined));
      endSpan(span, { error: outcome.error ?? (signal.aborted && signal.reason instanceof ServiceError ? signal.reason : null) });
      return outcome;
    } catch (error) {
      endSpan(span, { error: error instanceof ServiceError ? error : new ServiceError('internal', String(error)) });
      throw error;
    }
  }

  #context(active: ActiveRun, tool: ToolDefinition, request: ResolvedRequest, signal: AbortSignal, span: Span, step?: string): ToolContext {
    const deps = this.#deps;
    const tracing = this.#tracing;
    const costOf = (model: string, usage: Usage) => deps.gateway.costOf(model, usage);
    const outputAllowance = deps.limits.outputTokensReserved ?? 1024;
    const keyOf = callKeyring({ id: active.id, idempotencyKey: active.idempotencyKey }, step);
    const models: RunModels = {
      provider: deps.gateway.provider,
      resolve: (ref) => deps.gateway.resolve?.(ref) ?? { provider: deps.gateway.provider, model: ref },
      call: ({ slot, ...call }) =>
        charged(
          estimateCall(call.model, promptChars(call.input) + (call.instructions?.length ?? 0), call.maxOutputTokens ?? outputAllowance, costOf),
          call.signal ?? signal,
          (callSignal) => deps.gateway.call({ span, ...call, signal: callSignal, trace: active.trace, tenant: active.tenant, idempotencyKey: keyOf(slot) }),
        ),
      embed: (call) =>
        charged(
          estimateCall(call.model ?? DEFAULT_EMBEDDING_MODEL, call.input.reduce((n, text) => n + text.length, 0), 0, costOf),
          call.signal ?? signal,
          (callSignal) => deps.gateway.embed({ span, ...call, signal: callSignal, trace: active.trace, tenant: active.tenant, idempotencyKey: keyOf() }),
        ),
    };
    /**
     * Every provider operation's spend lands on the run's account, whoever made it; its estimate is
     * reserved on the account before it is sent, so calls in flight together cannot overshoot the budget.
     */
    const charged = async <T extends CallAccounting>(estimate: CallEstimate, callSignal: AbortSignal, operation: (signal: AbortSignal) => Promise<T>): Promise<T> => {
      let release: (() => void) | undefined;
      try {
        release = await active.account.reserve(estimate, callSignal);
        const result = await operation(callSignal);
        if (!('chargedByTurn' in result && result.chargedByTurn)) active.account.charge(result.provider, result.model, result.usage, result.cost_usd);
        return result;
      } catch (error) {
        if (error instanceof ModelCallError) throw error;
        if (error instanceof ServiceError) throw new ModelCallError(error, 0, 0);
        throw new ModelCallError(isAbortError(error) || callSignal.aborted ? cancelledError() : new ServiceError('internal', String(error)), 0, 0);
      } finally {
        release?.();
      }
    };
    const ctx: ToolContext = {
      runId: active.id,
      toolName: tool.name,
      request,
      signal,
      trace: active.trace,
      span,
      // The run's logger already names its tool; only inner tools need their own.
      log: tool === active.tool ? active.log : active.log.child({ tool: tool.name }),
      models,
      memory: active.memory.view(step),
      // An inner tool's replicates say which step of the composite made them.
      emit: (event) =>
        this.#emit(active, { tool: tool.name, ...(step !== undefined && event.type === 'replicate_done' ? { ...event, replicate: { ...event.replicate, step } } : event) }),
      replicate: (overrides) => {
        // A take-over's kept replicates belong to the run's own first replicate pass (composite runs are never continued).
        const kept = tool === active.tool ? active.kept : [];
        if (kept.length > 0) active.kept = [];
        return runReplicates(
          {
            signal,
            models,
            emit: ctx.emit,
            validator: deps.validator,
            maxConcurrency: deps.limits.maxConcurrency,
            account: active.account,
            log: ctx.log,
            tracing,
            span,
            spanContent: tracing.captureContent ? (value) => spanText(deps.redact(value, 'log')) : undefined,
            kept,
            memory: ctx.memory,
          },
          { ...request, ...overrides },
        );
      },
      runTool: async (name, inner, options = {}) => {
        const innerTool = deps.registry.resolve(name, options.version);
        const d = innerTool.defaults ?? {};
        // An inner tool runs on its own defaults; only the run-wide choices (seed, budget, model fallback) carry over.
        const innerRequest: ResolvedRequest = {
          ...request,
          input: inner.input ?? request.input,
          replicates: inner.replicates ?? d.replicates ?? request.replicates,
          early_stop: inner.early_stop ?? d.early_stop,
          launch: { policy: 'all', ...d.launch, ...inner.launch },
          synthesize: inner.synthesize ?? d.synthesize,
          metric: inner.metric ?? d.metric ?? 'auto',
          merge: inner.merge ?? d.merge ?? 'vote',
          agent: { model: request.agent.model, ...d.agent, ...inner.agent } as ResolvedRequest['agent'],
        };
        const step = options.step ?? innerTool.name;
        ctx.emit({ type: 'tool_started', tool: innerTool.name, step });
        const result = await this.#executeTool(active, innerTool, innerRequest, signal, span, step);
        await rememberStep(ctx, step, innerTool.name, result);
        ctx.emit({ type: 'tool_completed', tool: innerTool.name, step, status: result.error ? 'failed' : 'succeeded' });
        return result;
      },
    };
    return ctx;
  }

  async #waitForTerminal(id: string, record: RunResult, waitMs: number): Promise<RunResult> {
    const deadline = this.#now() + waitMs;
    let current = record;
    while (!isTerminal(current.status) && this.#now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      current = (await this.#deps.store.getRun(id)) ?? current;
    }
    return current;
  }
}

/** Take-overs of one run allowed when no queue says otherwise. */
const DEFAULT_MAX_TAKEOVERS = 2;

/** The tenant of unauthenticated deployments: its runs are reachable by anyone who can reach the API. */
export const PUBLIC_TENANT = 'public';

/**
 * The tag a tenant's run ids carry: 24 hex digits of the SHA-256 of the
 * tenant name. Fixed length and charset whatever the name, and the same for
 * every key of the tenant, so rotated keys see the same runs.
 */
export function tenantTag(tenant: string): string {
  return createHash('sha256').update(`tenant:${tenant}`, 'utf8').digest('hex').slice(0, 24);
}

/** A run id; a tenant's runs carry its tag so {@link runBelongsTo} can check ownership without a lookup. */
function runId(tenant: string | undefined): string {
  const random = randomUUID().replaceAll('-', '');
  return tenant === undefined || tenant === PUBLIC_TENANT ? `run_${random}` : `run_${tenantTag(tenant)}_${random}`;
}

/** Whether `tenant` may see run `id` (always, when auth is off). */
export function runBelongsTo(id: string, tenant: string): boolean {
  return tenant === PUBLIC_TENANT || id.startsWith(`run_${tenantTag(tenant)}_`);
}

/** The id prefix of every run `tenant` may see (all runs, when auth is off). */
export function tenantRunPrefix(tenant: string): string {
  return tenant === PUBLIC_TENANT ? 'run_' : `run_${tenantTag(tenant)}_`;
}

/** Characters of a prompt (for call reservations). */
function promptChars(input: RunInput): number {
  return typeof input === 'string' ? input.length : input.reduce((n, m) => n + m.content.length, 0);
}

/** Events only the orchestrator emits, before stamping. */
type OwnEvent =
  | Omit<Extract<RunEvent, { type: 'run_started' }>, keyof EventStamp>
  | Omit<Extract<RunEvent, { type: 'run_resumed' }>, keyof EventStamp>
  | Omit<Extract<RunEvent, { type: 'run_completed' }>, keyof EventStamp>;

function cancelledError(): ServiceError {
  return new ServiceError('cancelled', 'run cancelled by request');
}

/** How a run ends: the abort reason wins (cancel, timeout, budget), then the tool's own verdict. */
function decideStatus(signal: AbortSignal, outcome: ToolOutcome | null, thrown: unknown): { status: RunStatus; error: ServiceError | null } {
  if (signal.aborted) {
    const reason = signal.reason instanceof ServiceError ? signal.reason : cancelledError();
    const status: RunStatus =
      reason.code === 'timeout' ? 'timed_out' : reason.code === 'budget_exceeded' ? 'budget_exceeded' : reason.code === 'cancelled' ? 'cancelled' : 'failed';
    return { status, error: reason };
  }
  if (thrown !== null) {
    if (thrown instanceof ModelCallError) return { status: 'failed', error: thrown.error };
    if (thrown instanceof ServiceError) return { status: 'failed', error: thrown };
    return { status: 'failed', error: new ServiceError('internal', 'the tool failed unexpectedly') };
  }
  if (outcome?.error) return { status: 'failed', error: outcome.error };
  return { status: 'succeeded', error: null };
}

/** A value as span attribute text: strings as they are, anything else as JSON. */
function spanText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');
}
