import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ServiceError } from '../errors.ts';

/** Longest wait for Redis to take a new job before the request gets 503. */
const ENQUEUE_TIMEOUT_MS = 1500;

/** BullMQ queue name of runs (under the store's `REDIS_PREFIX`). */
export const RUN_QUEUE_NAME = 'runs';

/** How BullMQ's lock and stalled-job checks are set from `RUN_LEASE_MS`. */
export interface LeaseTimings {
  /** A job lock lives this long unless renewed (BullMQ renews it every half of it). */
  lockDuration: number;
  /** Every worker checks for jobs whose lock expired this often. */
  stalledInterval: number;
  /** Stalls BullMQ recovers a job from: one more than the take-overs we allow, so the run's last pick-up can end it `worker_lost` itself. */
  maxStalledCount: number;
}

/** Take-overs of one run before the next pick-up ends it `worker_lost`. */
export const MAX_TAKEOVERS = 2;

/**
 * A dead worker's lock expires at most `lockDuration` after its last
 * renewal, and BullMQ needs two stalled checks to see it (the first marks
 * the job, the second moves it back to wait): so `lease/2 + 2 × lease/4`
 * bounds the time until another worker picks the run up.
 */
export function leaseTimings(leaseMs: number): LeaseTimings {
  return { lockDuration: Math.max(200, Math.floor(leaseMs / 2)), stalledInterval: Math.max(100, Math.floor(leaseMs / 4)), maxStalledCount: MAX_TAKEOVERS + 1 };
}

/** One execution attempt of a job, as the processor sees it. */
export interface JobAttempt {
  /** 1 for the first pickup, 2 after the first take-over… */
  attempt: number;
}

/** What the run queue needs to start. */
export interface RunQueueOptions {
  url: string;
  /** The store's `REDIS_PREFIX`; BullMQ's keys go under `<prefix>bull:`. */
  prefix: string;
  leaseMs: number;
  /** Runs this replica's worker executes at once (`MAX_ACTIVE_RUNS`). */
  concurrency: number;
  logger: Logger;
}

/** Callbacks of the executing side: the orchestrator. */
export interface RunQueueHandlers<T> {
  /** Executes (or takes over) the run of `data`; resolves when the run has ended here. */
  process(data: T, attempt: JobAttempt): Promise<void>;
  /** BullMQ gave up on the job (taken over too often): end the run. */
  abandoned(data: T): Promise<void>;
  /** This replica's lock on the run is gone and another replica may execute it: stop writing for it. */
  lockLost(id: string): void;
}

/**
 * Runs as BullMQ jobs on the store's Redis: every replica runs a worker
 * (concurrency `MAX_ACTIVE_RUNS`), a job's lock says who executes it, and
 * BullMQ's stalled-job check hands a dead replica's runs to another worker.
 * Job id = run id, so a run is queued once.
 */
export class RunQueue<T extends { id: string }> {
  readonly #queue: Queue;
  readonly #worker: Worker;
  readonly #connections: Redis[];
  readonly #logger: Logger;
  /** `RUN_LEASE_MS`. */
  readonly leaseMs: number;
  /** Take-overs of one run before it ends `worker_lost` ({@link MAX_TAKEOVERS}). */
  readonly maxTakeovers = MAX_TAKEOVERS;
  #handlers: RunQueueHandlers<T> | null = null;
  #closed = false;

  private constructor(queue: Queue, worker: Worker, connections: Redis[], logger: Logger, leaseMs: number) {
    this.#queue = queue;
    this.#worker = worker;
    this.#connections = connections;
    this.#logger = logger;
    this.leaseMs = leaseMs;
  }

  /** Creates the queue and a (not yet running) worker; {@link start} starts taking jobs. */
  static create<D extends { id: string }>(opts: RunQueueOptions): RunQueue<D> {
    const logger = opts.logger.child({ component: 'run-queue' });
    const timings = leaseTimings(opts.leaseMs);
    // The producer fails fast (503 to the caller) instead of queueing offline; the worker's
    // connection must retry forever (BullMQ's requirement for blocking commands).
    const producer = new Redis(opts.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: (times) => Math.min(times * 100, 1000) });
    const consumer = new Redis(opts.url, { maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(times * 100, 1000) });
    for (const connection of [producer, consumer]) connection.on('error', (err: Error) => logger.debug({ err }, 'run queue connection error'));
    const prefix = `${opts.prefix}bull`;
    const queue = new Queue(RUN_QUEUE_NAME, { connection: producer, prefix });
    const holder: { self: RunQueue<D> | null } = { self: null };
    const worker = new Worker(RUN_QUEUE_NAME, (job: Job, _token?: string, _signal?: AbortSignal) => holder.self!.#process(job), {
      connection: consumer,
      prefix,
      autorun: false,
      concurrency: opts.concurrency,
      ...timings,
      // The run record and its events are the durable result; finished jobs need not stay.
      removeOnComplete: { count: 0 },
      removeOnFail: { age: 3600, count: 1000 },
    });
    const self = new RunQueue<D>(queue, worker, [producer, consumer], logger, opts.leaseMs);
    holder.self = self;
    queue.on('error', (err: Error) => logger.debug({ err }, 'run queue error'));
    worker.on('error', (err: Error) => logger.debug({ err }, 'run worker error'));
    worker.on('lockRenewalFailed', (ids: string[]) => {
      for (const id of ids) self.#handlers?.lockLost(id);
    });
    worker.on('failed', (job: Job | undefined, err: Error) => {
      if (!job || !self.#handlers) return;
      logger.warn({ run_id: job.id, err }, 'run job failed');
      // A job BullMQ gave up on (its processor kept failing) still owes its run an end.
      if (job.finishedOn !== undefined && job.finishedOn !== null) void self.#handlers.abandoned(job.data as D).catch((e: unknown) => logger.error({ err: e, run_id: job.id }, 'could not end an abandoned run'));
    });
    return self;
  }

  /** Starts this replica's worker. */
  start(handlers: RunQueueHandlers<T>): void {
    this.#handlers = handlers;
    void this.#worker.run().catch((err: unknown) => this.#logger.error({ err }, 'run worker stopped'));
  }

  /** Queues a run; fails with 503 `unavailable` within {@link ENQUEUE_TIMEOUT_MS} when Redis cannot take it. */
  async enqueue(data: T): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ENQUEUE_TIMEOUT_MS} ms`)), ENQUEUE_TIMEOUT_MS);
    });
    try {
      // A processor that threw (the store was away when it picked the run up) is retried; take-overs are BullMQ's stalled checks.
      await Promise.race([this.#queue.add('run', data, { jobId: data.id, attempts: 3, backoff: { type: 'fixed', delay: 1000 } }), timeout]);
    } catch (error) {
      throw new ServiceError('unavailable', 'the run queue (Redis) is unreachable; retry shortly', { cause: error, retryAfterMs: 2000 });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the run's job will still be executed or is being executed (waiting, active, retrying), rather than gone or given up. */
  async exists(id: string): Promise<boolean> {
    const job = await this.#queue.getJob(id);
    if (!job) return false;
    const state = await job.getState();
    return state === 'waiting' || state === 'active' || state === 'delayed' || state === 'prioritized' || state === 'waiting-children';
  }

  /** Removes the run's job if no worker holds it yet, and answers its data (null if it is running or gone). */
  async takeWaiting(id: string): Promise<T | null> {
    const job = await this.#queue.getJob(id);
    if (!job) return null;
    const state = await job.getState();
    if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') return null;
    try {
      await job.remove();
    } catch {
      return null; // a worker took it meanwhile (removing a locked job fails)
    }
    return job.data as T;
  }

  /** Stops taking new runs; the ones executing here go on. */
  async stopTaking(): Promise<void> {
    if (this.#closed) return;
    await this.#worker.pause(true).catch((err: unknown) => this.#logger.warn({ err }, 'pausing the run worker failed'));
  }

  /** Closes the worker (after its runs have ended) and the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker.close().catch(() => {});
    await this.#queue.close().catch(() => {});
    for (const connection of this.#connections) connection.disconnect();
  }

  async #process(job: Job): Promise<void> {
    if (!this.#handlers) throw new Error('run queue not started');
    await this.#handlers.process(job.data as T, { attempt: job.attemptsStarted });
  }
}
