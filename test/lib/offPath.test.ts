import { describe, expect, it } from 'vitest';
import { computedOffPath } from '../../src/lib/offPath.ts';

/** Resolves after `n` turns of the event loop's check phase. */
function immediates(n: number): Promise<void> {
  return new Promise((resolve) => {
    const step = (left: number) => (left === 0 ? resolve() : setImmediate(() => step(left - 1)));
    step(n);
  });
}

describe('computedOffPath', () => {
  it('computes the value once the request is out, and answers that same value later', async () => {
    let calls = 0;
    const value = computedOffPath(() => ({ n: ++calls }));
    expect(calls).toBe(0);
    await immediates(2);
    expect(calls).toBe(1);
    const first = value();
    expect(value()).toBe(first);
    expect(calls).toBe(1);
  });

  it('computes at once when asked before the request is out, and not again afterwards', async () => {
    let calls = 0;
    const value = computedOffPath(() => ++calls);
    expect(value()).toBe(1);
    await immediates(3);
    expect(calls).toBe(1);
    expect(value()).toBe(1);
  });

  it('throws a failure to whoever asks for the value, never from the event loop', async () => {
    let calls = 0;
    const value = computedOffPath(() => {
      calls++;
      throw new Error('no key');
    });
    await immediates(3);
    expect(calls).toBe(1);
    expect(() => value()).toThrow('no key');
  });
});
