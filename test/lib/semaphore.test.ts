import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../src/lib/semaphore.ts';

/** Acquires for `key` and records the order slots were granted in. */
function taker(sem: Semaphore, order: string[]) {
  return (key: string, signal?: AbortSignal) =>
    sem.acquire(signal, key).then(() => {
      order.push(key);
    });
}

describe('fair semaphore', () => {
  it('is a plain FIFO semaphore without keys', async () => {
    const sem = new Semaphore(1);
    const order: number[] = [];
    await sem.acquire();
    const waits = [1, 2, 3].map((n) => sem.acquire().then(() => order.push(n)));
    expect(sem.waiting).toBe(3);
    for (let i = 0; i < 3; i++) {
      sem.release();
      await waits[i];
    }
    expect(order).toEqual([1, 2, 3]);
  });

  it("serves keys round-robin: one key's backlog delays another's first waiter by one turn", async () => {
    const sem = new Semaphore(1);
    const order: string[] = [];
    const take = taker(sem, order);
    await sem.acquire(undefined, 'a');
    const pending = [take('a'), take('a'), take('a'), take('a'), take('b'), take('a'), take('b')];
    for (let i = 0; i < pending.length; i++) {
      sem.release(order.at(-1) ?? 'a');
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(pending);
    // b's first waiter comes second, not after a's four.
    expect(order).toEqual(['a', 'b', 'a', 'b', 'a', 'a', 'a']);
  });

  it('caps the slots one key holds while leaving the rest to others', async () => {
    const sem = new Semaphore(4, { perKeyLimit: 2 });
    const order: string[] = [];
    const take = taker(sem, order);
    await Promise.all([take('a'), take('a')]);
    const third = take('a');
    await Promise.all([take('b'), take('b')]);
    expect(sem.active).toBe(4);
    expect(sem.heldBy('a')).toBe(2);
    expect(sem.waiting).toBe(1);
    sem.release('b'); // a free slot, but a is at its cap: it stays free
    await new Promise((resolve) => setImmediate(resolve));
    expect(sem.active).toBe(3);
    sem.release('a');
    await third;
    expect(sem.heldBy('a')).toBe(2);
  });

  it('drops an aborted waiter at once and passes its turn on', async () => {
    const sem = new Semaphore(1);
    const order: string[] = [];
    const take = taker(sem, order);
    await sem.acquire(undefined, 'x');
    const abort = new AbortController();
    const gone = take('a', abort.signal);
    const b = take('b');
    abort.abort(new Error('cancelled'));
    await expect(gone).rejects.toThrow('cancelled');
    expect(sem.waiting).toBe(1);
    sem.release('x');
    await b;
    expect(order).toEqual(['b']);
  });

  it('refuses a release of a slot the key does not hold', () => {
    const sem = new Semaphore(2);
    expect(() => sem.release('nobody')).toThrow(/without a slot/);
  });
});
