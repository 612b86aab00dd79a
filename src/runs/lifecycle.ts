import { ServiceError } from '../errors.ts';
import { lazyChild } from '../observability/logger.ts';
import { endSpan, usageAttributes, type Tracing } from '../observability/tracing.ts';
import { ModelCallError } from '../providers/gateway.ts';
import { RunAccount } from '../requests/runAccount.ts';
import type { Replicate } from '../schemas/bundle.ts';
import type { Bundle } from '../schemas/bundle.ts';
import type { RunResult, RunStatus } from '../schemas/result.ts';
import { rememberJson } from '../store/jsonBytes.ts';
import { tenantOfRun } from '../store/types.ts';
import type { ResolvedRequest, ToolDefinition, ToolOutcome } from '../toolkit/api.ts';
import { RunMemory } from '../toolkit/runMemory.ts';
import type { Semaphore } from '../lib/semaphore.ts';
import type { TraceContext } from '../lib/trace.ts';
import type { RunWaiters } from './runWaiters.ts';
import { completeClaim } from './idempotentRuns.ts';
import { spendOf } from './liveRecord.ts';
import type { RunEvents } from './runEvents.ts';
import { cancelledError, flushOwed, owe, type ActiveRun, type OrchestratorDeps } from './runTypes.ts';
import type { RunDeadlines } from './takeover.ts';
import type { ToolRunner } from './toolContext.ts';

/** Where an active run starts from: a fresh run, or one taken over. */
export interface RunStart {
  seq: number;
  kept: Replicate[];
  startedAt: number;
}

/** How {@link RunLifecycle.execute} runs: with a run slot to take, and as a fresh run or a resumed one. */
export interface ExecuteOptions {
  slot: boolean;
  resumed: { after: number; kept: number; attempt: number } | null;
}

/**
 * The runs executing in this process, from activation to their end: the
 * AbortController, the timeout and time-budget timers, the run slot, the
 * run's span, and the final record (stored, then announced).
 */
export class RunLifecycle {
  readonly active = new Map<string, ActiveRun>();
  readonly #deps: OrchestratorDeps;
  readonly #now: () => number;
  readonly #tracing: Tracing;
  readonly #events: RunEvents;
  readonly #tools: ToolRunner;
  readonly #slots: Semaphore;
  readonly #waiters: RunWaiters;

  constructor(parts: { deps: OrchestratorDeps; now: () => number; tracing: Tracing; events: RunEvents; tools: ToolRunner; slots: Semaphore; waiters: RunWaiters }) {
    this.#deps = parts.deps;
    this.#now = parts.now;
    this.#tracing = parts.tracing;
    this.#events = parts.events;
    this.#tools = parts.tools;
    this.#slots = parts.slots;
    this.#waiters = parts.waiters;
  }

  activate(
    record: RunResult,
    tool: ToolDefinition,
    request: ResolvedRequest,
    trace: TraceContext,
    idempotencyKey: string | undefined,
    from: RunStart,
    answered?: (final: RunResult) => void,
  ): ActiveRun {
    const controller = new AbortController();
    const log = lazyChild(this.#deps.logger, { run_id: record.id, trace_id: trace.trace_id, request_id: trace.request_id, tool: tool.name });
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
      owed: [],
      span: this.#tracing.enabled
        ? this.#tracing.startRun(trace, { 'run.id': record.id, 'tool.name': tool.name, 'tool.version': tool.version, 'run.replicates': request.replicates })
        : this.#tracing.startRun(trace),
      memory: new RunMemory(this.#deps.store.runMemory, record.id, this.#deps.memory, log, this.#now),
      answered: answered ?? null,
      unsent: answered ? [] : null,
    };
    this.active.set(record.id, active);
    this.#deps.metrics.activeRuns.inc();
    return active;
  }

  /** Forgets a run that no longer executes here. */
  deactivate(active: ActiveRun): void {
    this.active.delete(active.id);
    this.#deps.metrics.activeRuns.dec();
  }

  abortLocal(id: string, reason: ServiceError): void {
    const active = this.active.get(id);
    if (active && !active.controller.signal.aborted) active.controller.abort(reason);
  }

  /** Ends an active run with `error` without executing it (lost, cancelled while queued elsewhere). */
  end(active: ActiveRun, error: ServiceError): Promise<RunResult> {
    if (error.code === 'cancelled') active.controller.abort(error);
    active.done = this.finish(active, null, error);
    return active.done;
  }

  async execute(active: ActiveRun, deadlines: RunDeadlines, opts: ExecuteOptions): Promise<RunResult> {
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
          this.#events.emit(active, { type: 'run_resumed', ...opts.resumed });
          log.info({ ...opts.resumed, tool_version: active.tool.version }, 'run resumed');
        } else {
          const startedAt = this.#now();
          const running: RunResult = { ...active.record, status: 'running', started_at: new Date(startedAt).toISOString() };
          active.record = running;
          // Latency hiding: the start's writes wait until the tool's first provider request is out (afterRequestOut),
          // so they overlap the provider's answer instead of delaying the request. The live record (GET) says
          // `running` at once; the stored one and run_started follow within two turns of the event loop, and always
          // before the run's next event and its end (flushOwed).
          owe(active, () => {
            active.writes.push(this.#deps.store.saveRun(running).catch((error: unknown) => log.error({ err: error }, 'could not save the running record')));
            this.#events.started(active);
            log.info({ tool_version: active.tool.version, replicates: active.request.replicates }, 'run started');
          });
        }
        outcome = await this.#tools.execute(active, active.tool, active.request, active.controller.signal, active.span, null);
      } finally {
        if (opts.slot) this.#slots.release(active.tenant);
      }
    } catch (error) {
      thrown = error;
    } finally {
      for (const t of timers) clearTimeout(t);
    }
    return this.finish(active, outcome, thrown);
  }

  async finish(active: ActiveRun, outcome: ToolOutcome | null, thrown: unknown): Promise<RunResult> {
    const { controller, log } = active;
    flushOwed(active);
    if (active.relinquished) {
      // Another replica owns the run now and writes its end; this one only lets go.
      if (active.writes.length > 0) await Promise.allSettled(active.writes);
      this.deactivate(active);
      if (this.#tracing.enabled) endSpan(active.span, { attributes: { 'run.status': 'handed_over' } });
      log.info('run handed over');
      return active.record;
    }
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
      ...spendOf(active),
      error: error?.toJSON() ?? null,
    };
    final = await active.memory.end(final);
    if (this.#deps.redactResults) final = this.#deps.redact(final, 'result') as RunResult;
    active.record = final;
    active.partial = { replicates: [], summary: null, statistics: null };
    // Serialized once: the store keeps (and the memory store measures) it as this JSON, and a synchronous answer is sent as it (RunHandle.takeJson).
    const finalJson = JSON.stringify(final);
    active.finalJson = finalJson;
    if (this.#deps.store.measuresJson === true) rememberJson(final, finalJson);
    if (active.answered) {
      // Answered first (RunHandle.answer): its caller sends the answer in this turn's microtasks; the end's
      // writes follow them (a tick comes after the microtasks), still before anything else is handled.
      active.answered(final);
      active.answered = null;
      await new Promise<void>((resolve) => process.nextTick(resolve));
      this.#events.flush(active);
      active.unsent = null;
    }
    // The idempotency record and the run record are written before run_completed
    // goes out, so a client that sees the end can replay or fetch it at once.
    if (active.writes.length > 0) await Promise.allSettled(active.writes);
    try {
      await this.#deps.store.saveRun(final, finalJson);
      if (active.idempotencyKey !== undefined) await completeClaim(this.#deps.store, active.idempotencyKey, final);
    } catch (storeError) {
      log.error({ err: storeError }, 'could not persist the final run record');
    }
    // A run that ended while queued (cancel, timeout) still opens its stream with run_started.
    if (active.seq === 0) this.#events.started(active);
    this.#events.emit(active, { type: 'run_completed', result: final });
    if (active.writes.length > 0) await Promise.allSettled(active.writes);
    this.#waiters.resolve(active.id, final);
    active.writes = [];
    this.deactivate(active);
    this.#deps.metrics.runs.inc({ status });
    this.#deps.metrics.runDuration.observe({ status }, (Date.parse(final.completed_at as string) - Date.parse(final.created_at)) / 1000);
    if (this.#tracing.enabled) {
      endSpan(active.span, { error, attributes: { 'run.status': status, ...usageAttributes(final.usage), 'orchestrator.cost_usd': final.cost_usd } });
    }
    log.info({ status, usage: final.usage, cost_usd: final.cost_usd, error_code: error?.code ?? null }, 'run completed');
    return final;
  }

  /** Announces the end of a run whose executor died after saving it but before announcing it. */
  async announceEnded(active: ActiveRun, record: RunResult): Promise<void> {
    this.#events.emit(active, { type: 'run_completed', result: record });
    await completeClaim(this.#deps.store, active.idempotencyKey, record).catch(() => {});
    if (active.writes.length > 0) await Promise.allSettled(active.writes);
    this.deactivate(active);
    this.#waiters.resolve(active.id, record);
  }
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
