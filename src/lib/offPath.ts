/**
 * Work a run owes but its first provider request does not need: done while
 * that request is out (the process is idle until the provider answers)
 * instead of before it goes.
 *
 * Two Immediates, not one: undici writes a request on a reused keep-alive
 * socket from an Immediate of its own (it first lets the socket's pending
 * input be read, GHSA-35p6-xmwp-9g52), so work scheduled one Immediate
 * after the launch would still run before the request is written.
 */
export function afterRequestOut(work: () => void): void {
  setImmediate(() => setImmediate(work));
}

/**
 * A value computed off the critical path: `afterRequestOut` computes it,
 * unless it is asked for first (a run that ends before its request went
 * out, or one with no provider call), in which case it is computed then.
 * Computed once either way. A failure of the early computation is not
 * thrown from the Immediate (nobody could catch it there): it is retried,
 * and thrown, when the value is asked for.
 */
export function computedOffPath<T>(compute: () => T): () => T {
  let ready = false;
  let value: T | undefined;
  const get = (): T => {
    if (!ready) {
      value = compute();
      ready = true;
    }
    return value as T;
  };
  afterRequestOut(() => {
    try {
      get();
    } catch {
      // Asked for later, it is computed (and fails) in the caller's hands.
    }
  });
  return get;
}
