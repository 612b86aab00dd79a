import { ServiceError } from '../errors.ts';
import type { BreakerOptions, BreakerOutcome, BreakerState } from './breakerTypes.ts';

export { breakerOutcome, type BreakerOptions, type BreakerOutcome, type BreakerState } from './breakerTypes.ts';

const BUCKETS = 10;

/**
 * A circuit breaker for one provider:model: closed → open → half-open →
 * closed, with rolling counts per logical call.
 *
 * Our own rather than opossum's, because opossum cannot express three
 * things this needs: an outcome that is neither success nor failure
 * (opossum's `errorFilter` turns a filtered error into a success, so a
 * cancelled or 400 half-open probe closed the breaker), a trip on N
 * consecutive failures, and waiting for the half-open probe instead of
 * failing at once. It also counts every `fire`, where we count a call once
 * after its retries.
 *
 * - Closed: each finished call is recorded ({@link BreakerCall.end}); it opens
 *   when `consecutiveFailures` calls in a row failed, or when the window holds
 *   at least `volumeThreshold` calls of which more than
 *   `errorThresholdPercentage` % failed.
 * - Open: attempts are refused with `circuit_open` (no request sent) for
 *   `resetTimeout`, then it is half-open.
 * - Half-open: exactly one attempt, the probe, goes through. A success closes
 *   it, a provider failure opens it again, anything else (aborted, caller's
 *   fault, 429) frees the probe slot for the next attempt and it stays
 *   half-open. A probe still in flight after `resetTimeout` no longer holds
 *   the slot (its verdict still counts when it comes).
 *
 * A retry (not a first attempt) that meets it open or half-open with a probe in
 * flight waits, up to `maxWaitMs` and while its signal lasts, for it to let a
 * probe through or to close; it fails at once if the breaker stays open longer
 * than it could wait.
 */
export class CircuitBreaker {
  readonly key: string;
  readonly #options: BreakerOptions;
  readonly #now: () => number;
  readonly #onStateChange: (state: BreakerState) => void;
  #state: BreakerState = 'closed';
  #openUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Id of the probe in flight (0: none), and since when; a probe holds the slot for at most `resetTimeout`. */
  #probe = 0;
  #probeSince = 0;
  #probeIds = 0;
  #consecutive = 0;
  readonly #calls = new Int32Array(BUCKETS);
  readonly #failures = new Int32Array(BUCKETS);
  readonly #epochs = new Float64Array(BUCKETS).fill(-1);
  readonly #waiters = new Set<() => void>();
  #shut = false;

  constructor(key: string, options: BreakerOptions, onStateChange: (state: BreakerState) => void = () => {}) {
    this.key = key;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#onStateChange = onStateChange;
  }

  /** Current state (an expired open breaker reads half-open even before its timer ran). */
  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() >= this.#openUntil) this.#halfOpen();
    return this.#state;
  }

  /** True while it holds nothing worth keeping: closed, no probe, nobody waiting. */
  get idle(): boolean {
    return this.state === 'closed' && this.#waiters.size === 0;
  }

  /** Starts one logical provider call (its attempts and retries). */
  call(): BreakerCall {
    return new BreakerCall(this);
  }

  /**
   * Lets one attempt through, or throws `circuit_open`. `wait` (retries
   * only) waits for a probe slot or a verdict within `maxWaitMs` and the
   * signal; the returned permit says whether this attempt is the probe.
   */
  async admit(signal: AbortSignal, wait: boolean): Promise<{ probe: boolean; id: number }> {
    const deadline = this.#now() + this.#options.maxWaitMs;
    for (;;) {
      if (signal.aborted) throw signal.reason;
      if (this.#shut) throw new ServiceError('unavailable', 'shutting down', { retryable: true });
      const state = this.state;
      const now = this.#now();
      if (state === 'closed') return { probe: false, id: 0 };
      // A probe that hangs (a provider that stops answering) frees the slot after resetTimeout, not at the run's timeout.
      const probeFreeAt = this.#probe === 0 ? now : this.#probeSince + this.#options.resetTimeout;
      if (state === 'half_open' && now >= probeFreeAt) {
        this.#probe = ++this.#probeIds;
        this.#probeSince = now;
        return { probe: true, id: this.#probe };
      }
      // Waiting is pointless when the breaker stays open past the wait (or there is no wait at all).
      const changesAt = state === 'open' ? this.#openUntil : probeFreeAt;
      if (!wait || now >= deadline || (state === 'open' && changesAt > deadline)) throw this.#openError();
      await this.#waitForChange(signal, Math.min(deadline, changesAt) - now);
    }
  }

  /**
   * The verdict of probe `id` (see the class comment). A success or a
   * provider failure is news whichever probe brings it; only the current
   * probe frees the slot when it says nothing.
   */
  settleProbe(outcome: BreakerOutcome, id: number): void {
    if (this.#state !== 'half_open') return;
    if (outcome === 'success') this.#close();
    else if (outcome === 'failure') this.#open();
    else if (id === this.#probe) {
      this.#probe = 0;
      this.#wake();
    }
  }

  /** The outcome of one finished logical call; counted only while closed. */
  record(outcome: BreakerOutcome): void {
    if (outcome === 'ignored' || this.state !== 'closed') return;
    const bucket = this.#bucket();
    this.#calls[bucket]!++;
    if (outcome === 'success') {
      this.#consecutive = 0;
      return;
    }
    this.#failures[bucket]!++;
    this.#consecutive++;
    if (this.#consecutive >= this.#options.consecutiveFailures) return this.#open();
    let calls = 0;
    let failures = 0;
    const oldest = this.#epoch() - BUCKETS + 1;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.#epochs[i]! < oldest) continue;
      calls += this.#calls[i]!;
      failures += this.#failures[i]!;
    }
    if (calls >= this.#options.volumeThreshold && (failures / calls) * 100 > this.#options.errorThresholdPercentage) this.#open();
  }

  /** Stops the timer and lets every waiter go (with `unavailable`). */
  shutdown(): void {
    this.#shut = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wake();
  }

  #epoch(): number {
    return Math.floor(this.#now() / Math.max(1, this.#options.rollingCountTimeout / BUCKETS));
  }

  #bucket(): number {
    const epoch = this.#epoch();
    const i = epoch % BUCKETS;
    if (this.#epochs[i] !== epoch) {
      this.#epochs[i] = epoch;
      this.#calls[i] = 0;
      this.#failures[i] = 0;
    }
    return i;
  }

  #resetCounts(): void {
    this.#consecutive = 0;
    this.#epochs.fill(-1);
  }

  #open(): void {
    this.#state = 'open';
    this.#probe = 0;
    this.#openUntil = this.#now() + this.#options.resetTimeout;
    this.#resetCounts();
    clearTimeout(this.#timer);
    // The timer makes the half-open state visible (/readyz, logs) and wakes waiters; `state` also checks the clock.
    this.#timer = setTimeout(() => this.#halfOpen(), this.#options.resetTimeout);
    this.#timer.unref();
    this.#onStateChange('open');
    this.#wake();
  }

  #halfOpen(): void {
    if (this.#state !== 'open') return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#state = 'half_open';
    this.#probe = 0;
    this.#onStateChange('half_open');
    this.#wake();
  }

  #close(): void {
    this.#state = 'closed';
    this.#probe = 0;
    this.#resetCounts();
    this.#onStateChange('closed');
    this.#wake();
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }

  /** Resolves on the next state change or freed probe slot, or after `ms`; rejects when the signal aborts. */
  #waitForChange(signal: AbortSignal, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#waiters.delete(done);
        resolve();
      };
      const onAbort = () => {
        done();
        reject(signal.reason);
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.#waiters.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #openError(): ServiceError {
    return new ServiceError('circuit_open', `circuit for ${this.key} is open; failing fast`, { retryable: true, details: { breaker: this.key } });
  }
}

/**
 * One logical provider call as the breaker sees it: each attempt is
 * admitted and settled, and the call is recorded once at its end, unless
 * its last attempt was a probe, whose verdict has already been given.
 */
export class BreakerCall {
  readonly #breaker: CircuitBreaker;
  #lastWasProbe = false;
  #ended = false;

  constructor(breaker: CircuitBreaker) {
    this.#breaker = breaker;
  }

  /** Admits attempt `n` (1-based); only retries (n > 1) may wait. Returns a settle function for the attempt. */
  async attempt(n: number, signal: AbortSignal): Promise<(outcome: BreakerOutcome) => void> {
    const { probe, id } = await this.#breaker.admit(signal, n > 1);
    this.#lastWasProbe = probe;
    let settled = false;
    return (outcome) => {
      if (settled) return;
      settled = true;
      if (probe) this.#breaker.settleProbe(outcome, id);
    };
  }

  /** Records the call's final outcome (once). */
  end(outcome: BreakerOutcome): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#lastWasProbe) this.#breaker.record(outcome);
  }
}
