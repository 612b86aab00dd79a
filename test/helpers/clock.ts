/** A clock that moves only when the test says so; see {@link manualClock}. */
export interface ManualClock {
  /** The current time of this clock, in ms since the epoch. */
  now(): number;
  /** Moves this clock (only) forward: TTLs measured on it pass without waiting. */
  advance(ms: number): void;
}

/**
 * A clock for code that takes `now` as a dependency (the memory store's
 * TTLs): it starts at the wall-clock time and stands still until `advance`,
 * so a test steps exactly to either side of a TTL instead of sleeping past it.
 * Timers and everything else keep real time.
 */
export function manualClock(start = Date.now()): ManualClock {
  let current = start;
  return {
    now: () => current,
    advance(ms) {
      current += ms;
    },
  };
}
