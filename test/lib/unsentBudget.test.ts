import { describe, expect, it } from 'vitest';
import { UnsentBudget } from '../../src/lib/unsentBudget.ts';

/** A stream whose buffer the test fills by hand. */
function outlet() {
  return {
    writableLength: 0,
    cutCount: 0,
    cut() {
      this.cutCount++;
      this.writableLength = 0;
    },
  };
}

describe('unsent-bytes budget', () => {
  it('cuts a stream past its own bound, not before', () => {
    const budget = new UnsentBudget(100);
    const o = outlet();
    const slot = budget.register(o);
    o.writableLength = 100;
    expect(slot.mayWrite()).toBe(true);
    slot.wrote();
    o.writableLength = 101;
    expect(slot.mayWrite()).toBe(false);
    expect(o.cutCount).toBe(1);
    expect(budget.streams).toBe(0);
    expect(budget.unsent).toBe(0);
  });

  it('keeps the total under its bound by cutting the streams holding the most', () => {
    const budget = new UnsentBudget(1000, 250);
    const slow = outlet();
    const slower = outlet();
    const fast = outlet();
    const slots = [slow, slower, fast].map((o) => budget.register(o));
    slow.writableLength = 100;
    slots[0]!.wrote();
    slower.writableLength = 200;
    slots[1]!.wrote();
    fast.writableLength = 10;
    // Total 310 > 250: the stream holding the most (slower) goes, the fast one writes on.
    expect(slots[2]!.mayWrite()).toBe(true);
    expect(slower.cutCount).toBe(1);
    expect(slow.cutCount).toBe(0);
    expect(budget.unsent).toBe(110);
  });

  it('recounts before cutting: streams that drained since their last write are not punished', () => {
    const budget = new UnsentBudget(1000, 150);
    const a = outlet();
    const b = outlet();
    const sa = budget.register(a);
    const sb = budget.register(b);
    a.writableLength = 140;
    sa.wrote();
    a.writableLength = 0; // drained without writing again
    b.writableLength = 100;
    expect(sb.mayWrite()).toBe(true);
    expect(a.cutCount + b.cutCount).toBe(0);
  });

  it('cuts the writing stream itself when it is the slowest', () => {
    const budget = new UnsentBudget(1000, 100);
    const a = outlet();
    const b = outlet();
    const sa = budget.register(a);
    budget.register(b);
    a.writableLength = 150;
    expect(sa.mayWrite()).toBe(false);
    expect(a.cutCount).toBe(1);
    expect(b.cutCount).toBe(0);
  });
});
