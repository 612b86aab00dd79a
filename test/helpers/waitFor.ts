/** Options for {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long (a generous bound: the condition is expected much sooner). */
  timeoutMs?: number;
  /** How often to look again. */
  intervalMs?: number;
  /** Named in the error when the condition is not reached. */
  what?: string;
}

/** `T` without its falsy members: what {@link waitFor} resolves with. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Waits for a condition instead of sleeping: calls `probe` (sync or async)
 * until it returns a truthy value and resolves with that value. For state
 * that changes on another socket or in another process (a request reaching
 * the simulator, a run record ending), where there is no event to await.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, { timeoutMs = 5000, intervalMs = 10, what = 'condition' }: WaitForOptions = {}): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
