import { describe, expect, it } from 'vitest';
import { AdaptiveLimit, type LimitSlot } from '../../src/reliability/adaptiveLimit.ts';

const live = () => new AbortController().signal;

async function take(limit: AdaptiveLimit, n: number): Promise<LimitSlot[]> {
  const slots: LimitSlot[] = [];
  for (let i = 0; i < n; i++) slots.push(await limit.acquire(live()));
  return slots;
}

describe('adaptive concurrency limit (AIMD)', () => {
  it('lets up to the maximum through and queues the rest in order', async () => {
    const limit = new AdaptiveLimit(2);
    const [a] = await take(limit, 2);
    const order: string[] = [];
    void limit.acquire(live()).then(() => order.push('third'));
    void limit.acquire(live()).then(() => order.push('fourth'));
    await Promise.resolve();
    expect(order).toEqual([]);
    a!.release('success');
    await Promise.resolve();
    expect(order).toEqual(['third']);
    expect(limit.inFlight).toBe(2);
  });

  it('halves what was in flight on a 429, never below 1', async () => {
    const limit = new AdaptiveLimit(100);
    const slots = await take(limit, 10);
    slots[0]!.release('rate_limited');
    expect(limit.limit).toBe(5);
    const one = new AdaptiveLimit(100);
    (await one.acquire(live())).release('rate_limited');
    expect(one.limit).toBe(1);
  });

  it('halves once for a burst of 429s from calls that were in flight together', async () => {
    const limit = new AdaptiveLimit(100);
    const slots = await take(limit, 10);
    for (const s of slots) s.release('rate_limited');
    expect(limit.limit).toBe(5);
    // A 429 from a call started after the decrease halves again.
    const later = await limit.acquire(live());
    later.release('rate_limited');
    expect(limit.limit).toBe(1);
  });

  it('adds one per success up to the maximum', async () => {
    const limit = new AdaptiveLimit(4);
    const slots = await take(limit, 4);
    slots[0]!.release('rate_limited');
    expect(limit.limit).toBe(2);
    for (const s of slots.slice(1)) s.release('success');
    expect(limit.limit).toBe(4);
    for (const s of await take(limit, 4)) s.release('success');
    expect(limit.limit).toBe(4);
  });

  it('holds new attempts back while more are in flight than the lowered limit', async () => {
    const limit = new AdaptiveLimit(8);
    const slots = await take(limit, 8);
    slots[0]!.release('rate_limited');
    expect(limit.limit).toBe(4);
    let granted = false;
    void limit.acquire(live()).then(() => (granted = true));
    // 7 in flight, limit 4: two more releases (other outcomes) are not enough.
    slots[1]!.release('other');
    slots[2]!.release('other');
    await Promise.resolve();
    expect(granted).toBe(false);
    slots[3]!.release('other');
    slots[4]!.release('other');
    await Promise.resolve();
    expect(granted).toBe(true);
  });

  it('an aborted waiter leaves the queue with its signal\'s reason', async () => {
    const limit = new AdaptiveLimit(1);
    const [held] = await take(limit, 1);
    const controller = new AbortController();
    const waiting = limit.acquire(controller.signal);
    controller.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    held!.release('success');
    expect(limit.inFlight).toBe(0);
    expect(limit.idle).toBe(true);
  });
});
