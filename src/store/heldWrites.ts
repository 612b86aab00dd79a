import type { Logger } from 'pino';
import { ServiceError } from '../errors.ts';

/** Retry-After of a 503 caused by an unreachable store. */
const UNAVAILABLE_RETRY_AFTER_MS = 2000;

/** A write of an accepted run, held in order until Redis takes it. */
interface HeldWrite {
  order: number;
  /** The run the write belongs to, if any. */
  runId: string | undefined;
  bytes: number;
  /** Final records, `run_completed` and idempotency results are kept whatever the byte bound says. */
  essential: boolean;
  since: number;
  send: () => Promise<unknown>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The writes of accepted runs while Redis is away (src/store/redis.ts): held
 * in issue order, within `bufferBytes` (essential writes whatever the bound),
 * and retried until Redis takes them or `retryMs` passes.
 */
export class HeldWrites {
  readonly #logger: Logger;
  readonly #bufferBytes: number;
  readonly #retryMs: number;
  /** Writes waiting for Redis, in issue order; while any wait, new writes queue behind them. */
  readonly #held: HeldWrite[] = [];
  #heldBytes = 0;
  /** Held writes per run: a run with any is not gone, whatever Redis says until they land. */
  readonly #heldPerRun = new Map<string, number>();
  #order = 0;
  #flushing = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(logger: Logger, bufferBytes: number, retryMs: number) {
    this.#logger = logger;
    this.#bufferBytes = bufferBytes;
    this.#retryMs = retryMs;
  }

  /** Writes waiting for Redis. */
  get size(): number {
    return this.#held.length;
  }

  /** Whether writes of `runId` are held: Redis has not taken them yet, so what it says of the run is not the whole story. */
  holds(runId: string): boolean {
    return this.#heldPerRun.has(runId);
  }

  /** Fails every held write and holds no more. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#flushTimer);
    this.#heldPerRun.clear();
    for (const write of this.#held.splice(0)) write.reject(unavailable(new Error('store closed')));
  }

  /**
   * A write of an accepted run. Sent at once while nothing is held (the hot
   * path: pipelined on the one connection, in call order); if Redis cannot
   * take it, it is held with every later write behind it, in issue order,
   * and retried until it lands.
   */
  write(send: () => Promise<unknown>, bytes: number, essential: boolean, runId?: string): Promise<void> {
    const order = ++this.#order;
    if (this.#held.length > 0) return this.#hold({ order, bytes, essential, send, runId });
    return send().then(
      () => undefined,
      (error: unknown) => {
        if (!isOutage(error) || this.#closed) throw unavailable(error);
        return this.#hold({ order, bytes, essential, send, runId });
      },
    );
  }

  #hold(write: Pick<HeldWrite, 'order' | 'bytes' | 'essential' | 'send' | 'runId'>): Promise<void> {
    if (!write.essential && this.#heldBytes + write.bytes > this.#bufferBytes) {
      this.#logger.error({ held: this.#held.length, bytes: this.#heldBytes }, 'redis unreachable and the write buffer is full: an event is dropped');
      return Promise.reject(unavailable(new Error('write buffer full')));
    }
    return new Promise<void>((resolve, reject) => {
      const held: HeldWrite = { ...write, since: Date.now(), resolve, reject };
      // Writes that failed together come back in any order: keep the order they were issued in.
      let at = this.#held.length;
      while (at > 0 && (this.#held[at - 1] as HeldWrite).order > held.order) at--;
      this.#held.splice(at, 0, held);
      this.#heldBytes += held.bytes;
      if (held.runId !== undefined) this.#heldPerRun.set(held.runId, (this.#heldPerRun.get(held.runId) ?? 0) + 1);
      if (this.#held.length === 1) this.#logger.warn('redis unreachable: holding run writes until it is back');
      this.#scheduleFlush(0);
    });
  }

  #scheduleFlush(delayMs: number): void {
    if (this.#flushing || this.#closed) return;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = setTimeout(() => void this.#flush(delayMs), delayMs);
  }

  /** Takes the oldest held write off the queue (it landed, or is given up). */
  #release(head: HeldWrite): void {
    this.#held.shift();
    this.#heldBytes -= head.bytes;
    if (head.runId === undefined) return;
    const left = (this.#heldPerRun.get(head.runId) ?? 1) - 1;
    if (left > 0) this.#heldPerRun.set(head.runId, left);
    else this.#heldPerRun.delete(head.runId);
  }

  /** Sends held writes one at a time, oldest first; backs off (up to 1 s) while Redis is away. */
  async #flush(lastDelay: number): Promise<void> {
    this.#flushing = true;
    let delay = lastDelay;
    try {
      while (this.#held.length > 0 && !this.#closed) {
        const head = this.#held[0] as HeldWrite;
        try {
          await head.send();
        } catch (error) {
          if (isOutage(error) && Date.now() - head.since < this.#retryMs) {
            delay = Math.min(Math.max(delay * 2, 100), 1000);
            return;
          }
          this.#release(head);
          this.#logger.error({ err: error }, 'a held run write could not be stored and is dropped');
          head.reject(unavailable(error));
          continue;
        }
        this.#release(head);
        head.resolve();
        if (this.#held.length === 0) this.#logger.info('redis reachable again: held run writes stored');
      }
    } finally {
      this.#flushing = false;
      if (this.#held.length > 0 && !this.#closed) this.#scheduleFlush(delay);
    }
  }
}

/** The 503 a caller gets while Redis cannot answer. */
export function unavailable(cause: unknown): ServiceError {
  if (cause instanceof ServiceError) return cause;
  return new ServiceError('unavailable', 'the run store (Redis) is unreachable; retry shortly', { cause, retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS });
}

/**
 * Whether a failed command may succeed later: connection loss, timeouts,
 * and Redis' own transient refusals. A script or syntax error ("ERR …")
 * would fail again and is not retried.
 */
export function isOutage(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name !== 'ReplyError') return true;
  return /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|OOM|NOREPLICAS)\b/.test(error.message);
}
