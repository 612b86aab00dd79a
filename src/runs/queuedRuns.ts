import { ServiceError } from '../errors.ts';
import { isTerminal, type RunResult } from '../schemas/result.ts';
import type { RunLifecycle } from './lifecycle.ts';
import type { OrchestratorDeps, RunDispatch, RunJob } from './runTypes.ts';
import { deadlinesOf, planPickUp } from './takeover.ts';

/** Take-overs of one run allowed when no queue says otherwise. */
const DEFAULT_MAX_TAKEOVERS = 2;

/**
 * The worker side of the shared run queue (STORE=redis): executes queued
 * runs here, fresh or taken over from a replica that died (see
 * src/runs/takeover.ts), ends the ones nobody can execute, and lets go of
 * the ones another replica now holds.
 */
export class QueuedRuns {
  readonly #deps: OrchestratorDeps;
  readonly #now: () => number;
  readonly #runs: RunLifecycle;

  constructor(deps: OrchestratorDeps, now: () => number, runs: RunLifecycle) {
    this.#deps = deps;
    this.#now = now;
    this.#runs = runs;
  }

  /**
   * Executes a queued run on this replica's worker: a fresh run, or one
   * whose executor died (take-over, see src/runs/takeover.ts). Resolves when
   * the run has ended here (or was handed on).
   */
  async process(job: RunJob, attempt: number): Promise<void> {
    if (this.#runs.active.has(job.id)) return;
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
      const active = this.#runs.activate(record, tool, job.request, job.trace, job.idempotencyKey, { seq: pickUp.lastSeq, kept: [], startedAt });
      await this.#runs.announceEnded(active, record);
      return;
    }
    const seq = pickUp.kind === 'fresh' ? 0 : pickUp.lastSeq;
    const kept = pickUp.kind === 'fresh' ? [] : pickUp.kept;
    const active = this.#runs.activate(record, tool, job.request, job.trace, job.idempotencyKey, { seq, kept, startedAt });
    if (pickUp.kind === 'lost') {
      active.log.warn({ reason: pickUp.reason, attempt }, 'run taken over but cannot continue: worker_lost');
      active.done = this.#runs.finish(active, null, new ServiceError('worker_lost', `the replica executing the run stopped and the run could not continue: ${pickUp.reason}`));
    } else {
      const resumed = pickUp.kind === 'resume' ? { after: pickUp.lastSeq, kept: kept.length, attempt } : null;
      if (resumed) active.log.info(resumed, 'run taken over');
      active.done = this.#runs.execute(active, deadlines, { slot: false, resumed });
    }
    await active.done;
  }

  /** Ends a run BullMQ gave up on (or found queued with nobody to execute it) as `worker_lost`, unless it already ended. */
  async abandon(job: RunJob, reason = 'it was taken over too often'): Promise<void> {
    if (this.#runs.active.has(job.id)) return;
    const record = await this.#deps.store.getRun(job.id);
    if (!record || isTerminal(record.status)) return;
    await this.endElsewhere(job, record, new ServiceError('worker_lost', `the replica executing the run stopped and the run could not continue: ${reason}`));
  }

  /** This replica lost its lock on a run another replica may now execute: stop writing for it here. */
  relinquish(id: string): void {
    const active = this.#runs.active.get(id);
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

  async endIfStuck(job: RunJob): Promise<RunResult | null> {
    const id = job.id;
    if (this.#runs.active.has(id)) return null;
    const record = await this.#deps.store.getRun(id);
    if (!record) return null;
    if (isTerminal(record.status)) return record;
    const dispatch = this.#deps.dispatch as RunDispatch;
    if (await dispatch.exists(id)) return null;
    return this.endElsewhere(job, record, new ServiceError('worker_lost', 'the run was lost with the job queue (Redis restarted without its data)'));
  }

  /** Ends a run that is not executing anywhere, from this replica: its log goes on from the stored seq. */
  async endElsewhere(job: RunJob, record: RunResult, error: ServiceError): Promise<RunResult> {
    const events = await this.#deps.store.readEvents(job.id, 0);
    const tool = this.#deps.registry.resolve(job.tool, job.tool_version);
    const active = this.#runs.activate(record, tool, job.request, job.trace, job.idempotencyKey, { seq: events.at(-1)?.seq ?? 0, kept: [], startedAt: Date.parse(record.created_at) });
    return this.#runs.end(active, error);
  }
}
