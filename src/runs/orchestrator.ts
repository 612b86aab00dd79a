import { randomInt } from 'node:crypto';
import { ServiceError } from '../errors.ts';
import { NOOP_TRACING, type Tracing } from '../observability/tracing.ts';
import type { Usage } from '../schemas/bundle.ts';
import type { RunRequest } from '../schemas/request.ts';
import { isTerminal, type PlannerDecision, type RunResult } from '../schemas/result.ts';
import { applyCostCeilings, checkBudgetFits } from '../requests/budgetCheck.ts';
import { resolveRequest } from '../requests/resolveRequest.ts';
import { emptyBudgetReport, emptyUsage } from '../requests/runAccount.ts';
import { systemClock } from '../lib/clock.ts';
import { Semaphore } from '../lib/semaphore.ts';
import { Admission } from './admission.ts';
import { RunLifecycle } from './lifecycle.ts';
import { liveRecord } from './liveRecord.ts';
import { QueuedRuns } from './queuedRuns.ts';
import { RunEvents } from './runEvents.ts';
import { cancelledError, takeFinalJson, type LaunchOptions, type OrchestratorDeps, type PreparedRun, type RunHandle, type RunJob, type StartOptions } from './runTypes.ts';
import { endOrCurrent, RunWaiters } from './runWaiters.ts';
import { deadlinesOf } from './takeover.ts';
import { newRunId, PUBLIC_TENANT } from '../lib/tenancy.ts';
import { ToolRunner } from './toolContext.ts';

export type { LaunchOptions, OrchestratorDeps, PreparedRun, RunDispatch, RunHandle, RunJob, StartOptions } from './runTypes.ts';

/**
 * The run service: prepares (admission, planning, the resolved request),
 * launches (here, or through the shared queue), executes queued runs
 * (fresh or taken over), answers live records, cancels and drains. The
 * lifecycle of each run executing here is {@link RunLifecycle}'s; tools do
 * the work.
 */
export class Orchestrator {
  readonly #deps: OrchestratorDeps;
  readonly #now: () => number;
  readonly #admission: Admission;
  readonly #runs: RunLifecycle;
  readonly #queued: QueuedRuns;
  readonly #unsubscribeCancel: () => void;
  /** Callers waiting on runs accepted here (resolved by the local executor or from the store). */
  readonly #waiters: RunWaiters;

  constructor(deps: OrchestratorDeps) {
    this.#deps = deps;
    const clock = deps.clock ?? systemClock;
    this.#now = clock.now;
    const tracing: Tracing = deps.tracing ?? NOOP_TRACING;
    const events = new RunEvents(deps, clock.precise);
    this.#admission = new Admission(deps.limits);
    this.#waiters = new RunWaiters(deps.store, this.#now);
    this.#runs = new RunLifecycle({
      deps,
      now: this.#now,
      tracing,
      events,
      tools: new ToolRunner(deps, tracing, (active, event) => events.emit(active, event)),
      slots: new Semaphore(deps.limits.maxActiveRuns),
      waiters: this.#waiters,
    });
    this.#queued = new QueuedRuns(deps, this.#now, this.#runs);
    this.#unsubscribeCancel = deps.store.onCancel((runId) => this.#runs.abortLocal(runId, cancelledError()));
  }

  /** Runs executing or queued in this process. */
  get activeCount(): number {
    return this.#runs.active.size;
  }

  /**
   * Checks a request and plans its run without side effects: a ServiceError
   * here is an HTTP error for the caller, and nothing was created.
   */
  prepare(body: RunRequest, options: StartOptions): PreparedRun {
    const tenant = options.tenant ?? PUBLIC_TENANT;
    // Reserved before anything awaits, so a burst cannot all pass the checks; released if the run is not launched.
    const release = this.#admission.admit(tenant);
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
      id: newRunId(options.tenant),
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
  async launch(prepared: PreparedRun, options: LaunchOptions = {}): Promise<RunHandle> {
    try {
      return await this.#launch(prepared, options);
    } catch (error) {
      prepared.release();
      throw error;
    }
  }

  async #launch(prepared: PreparedRun, options: LaunchOptions): Promise<RunHandle> {
    const { id, tool, request, decision, trace, body } = prepared;
    const { idempotencyKey } = options;
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
    // Accepted means stored: this write is never buffered, it lands or the request gets 503. Not owed off the path
    // (ActiveRun.owed) even in memory: a 202 goes out before the provider request does, and a list right after it
    // must show the run.
    await this.#deps.store.saveRun(record);
    const dispatch = this.#deps.dispatch;
    if (!dispatch) {
      let answered: ((final: RunResult) => void) | undefined;
      const answer = options.answerAtEnd === true && this.#deps.store.writesInProcess === true ? new Promise<RunResult>((resolve) => (answered = resolve)) : undefined;
      const active = this.#runs.activate(record, tool, request, trace, idempotencyKey, { seq: 0, kept: [], startedAt: this.#now() }, answered);
      active.done = this.#runs.execute(active, deadlinesOf(this.#now(), prepared.timeoutMs, request), { slot: true, resumed: null }).finally(prepared.release);
      // A run that fails before its answer is made rejects the answer as it rejects `done`.
      return { id, record, done: active.done, takeJson: () => takeFinalJson(active), ...(answer && { answer: Promise.race([answer, active.done]) }) };
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
      executingHere: () => this.#runs.active.has(id),
      // Past its timeout and a take-over, a run nobody ended (its job was lost with Redis' data) is ended here.
      giveUpAt: Date.parse(createdAt) + prepared.timeoutMs + dispatch.leaseMs * 2 + 5000,
      lookAgainMs: dispatch.leaseMs,
      endIfStuck: () => this.#queued.endIfStuck(job),
    });
    done.then(prepared.release, prepared.release);
    return { id, record, done };
  }

  /**
   * Executes a queued run on this replica's worker: a fresh run, or one
   * whose executor died (take-over). Resolves when the run has ended here (or was handed on).
   */
  process(job: RunJob, attempt: number): Promise<void> {
    return this.#queued.process(job, attempt);
  }

  /** Ends a run BullMQ gave up on (or found queued with nobody to execute it) as `worker_lost`, unless it already ended. */
  abandon(job: RunJob, reason?: string): Promise<void> {
    return this.#queued.abandon(job, reason);
  }

  /** This replica lost its lock on a run another replica may now execute: stop writing for it here. */
  relinquish(id: string): void {
    this.#queued.relinquish(id);
  }

  /** prepare + launch, for callers without an idempotency gate in between. */
  async start(body: RunRequest, options: StartOptions): Promise<RunHandle> {
    return this.launch(this.prepare(body, options), { idempotencyKey: options.idempotencyKey });
  }

  /** The current record: live for runs of this process, else from the store. */
  async get(id: string): Promise<RunResult | null> {
    const active = this.#runs.active.get(id);
    return active ? liveRecord(active) : this.#deps.store.getRun(id);
  }

  /**
   * Cancels a run wherever it runs. Answers the record once the run has
   * ended (or after `waitMs` if its owner does not answer); null if unknown.
   */
  async cancel(id: string, waitMs = 5000): Promise<RunResult | null> {
    const active = this.#runs.active.get(id);
    if (active) {
      this.#runs.abortLocal(id, cancelledError());
      return active.done;
    }
    const record = await this.#deps.store.getRun(id);
    if (!record || isTerminal(record.status)) return record;
    await this.#deps.store.publishCancel(id);
    // A queued run no worker holds yet has nobody to hear the cancel: take its job off the queue and end it here.
    const waiting = await this.#deps.dispatch?.takeWaiting(id);
    if (waiting) return this.#queued.endElsewhere(waiting, record, cancelledError());
    return endOrCurrent(this.#deps.store, id, record, waitMs);
  }

  /** Stops taking runs and waits (up to `graceMs`) for active ones; cancels what is left. */
  async drain(graceMs: number): Promise<void> {
    this.#admission.stopAdmitting();
    await this.#deps.dispatch?.stopTaking();
    const pending = [...this.#runs.active.values()].map((a) => a.done);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const outcome = await Promise.race([Promise.allSettled(pending), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      for (const id of this.#runs.active.keys()) this.#runs.abortLocal(id, new ServiceError('cancelled', 'the server shut down before the run finished'));
      await Promise.allSettled([...this.#runs.active.values()].map((a) => a.done));
    }
    this.#unsubscribeCancel();
  }

  /** True while draining (readiness answers 503). */
  get draining(): boolean {
    return this.#admission.draining;
  }

  #plan(body: RunRequest) {
    if (body.tool !== undefined) return { tool: body.tool, reason: 'tool named in the request', rule: null, version: undefined, options: undefined };
    return this.#deps.planner.choose(body);
  }
}
