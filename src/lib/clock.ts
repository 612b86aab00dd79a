/**
 * Wall-clock time with sub-millisecond resolution, for event timestamps.
 *
 * `Date.now()` floors to the millisecond, too coarse to tell when an event
 * left the orchestrator. `performance.now()` is finer but monotonic, so it
 * drifts from the wall clock as NTP adjusts the latter. This clock maps
 * `performance.now()` onto the wall clock at an instant `Date.now()` ticks
 * over (on first use: seven spins of at most 1 ms each, not at import, so
 * loading the module costs nothing), then keeps it inside the
 * millisecond `Date.now()` names with the smallest correction whenever it
 * strays out (slew, or a step of the wall clock).
 */
let offset: number | undefined;

/**
 * The median of five tick readings after two warm-up ones: readings taken
 * before the loop is optimised, or interrupted by the scheduler, stray; the
 * rest agree to the microsecond.
 */
function calibrate(): number {
  tickOffset();
  tickOffset();
  const readings = [tickOffset(), tickOffset(), tickOffset(), tickOffset(), tickOffset()].sort((a, b) => a - b);
  return readings[2] as number;
}

/** Reads before a spin gives up (a real millisecond ticks over in far fewer): a wall clock that never ticks (fake timers) must not hang us. */
const MAX_SPINS = 100_000;

/** The wall-clock offset of `performance.now()`, read at the instant the millisecond changes. */
function tickOffset(): number {
  const start = Date.now();
  let wall = start;
  let mono = performance.now();
  for (let spins = 0; wall === start && spins < MAX_SPINS; spins++) {
    mono = performance.now();
    wall = Date.now();
  }
  return wall - mono;
}

/** Milliseconds since the epoch, fractional. */
export function preciseNow(): number {
  offset ??= calibrate();
  const mono = performance.now();
  const wall = Date.now();
  const t = mono + offset;
  if (t < wall) {
    offset += wall - t;
    return wall;
  }
  if (t >= wall + 1) {
    const latest = wall + 0.999;
    offset -= t - latest;
    return latest;
  }
  return t;
}

/** ISO 8601 with microseconds (`2026-11-29T16:00:59.257123Z`); valid RFC 3339 date-time. */
export function isoMicros(ms: number): string {
  const whole = Math.floor(ms);
  const micros = Math.floor((ms - whole) * 1000);
  const millis = ((whole % 1000) + 1000) % 1000;
  const second = whole - millis;
  // Events come many to a second: the date part (`…T16:00:59.`) is formatted once per second.
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second).toISOString().slice(0, -4);
  }
  return `${isoPrefix}${String(millis).padStart(3, '0')}${String(micros).padStart(3, '0')}Z`;
}

/** The second {@link isoMicros} last formatted, and its text up to the fraction. */
let isoSecond = Number.NaN;
let isoPrefix = '';

/**
 * The service's time, one dependency (`AppDeps.clock`, passed on to the
 * orchestrator and the routes): `now` for records, deadlines and tokens,
 * `precise` for event `ts`. Tests inject one; fake timers drive the system one.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** The same, fractional (sub-millisecond) where the clock can tell. */
  precise(): number;
}

/** The wall clock, with {@link preciseNow} for event timestamps. */
export const systemClock: Clock = { now: () => Date.now(), precise: preciseNow };
