import { afterEach, describe, expect, it, vi } from 'vitest';
import { isoMicros, preciseNow } from '../../src/lib/clock.ts';

describe('event clock', () => {
  it('formats fractional milliseconds as an RFC 3339 timestamp with microseconds', () => {
    const ms = Date.UTC(2026, 10, 29, 16, 0, 59, 257) + 0.1239;
    expect(isoMicros(ms)).toBe('2026-11-29T16:00:59.257123Z');
    expect(isoMicros(Date.UTC(2026, 0, 1))).toBe('2026-01-01T00:00:00.000000Z');
    expect(Date.parse(isoMicros(ms))).toBe(Math.floor(ms));
  });

  it('names the right second on either side of a second, minute and year boundary, in any order', () => {
    const end = Date.UTC(2026, 11, 31, 23, 59, 59, 999) + 0.5;
    const times = [end, end + 1, end - 1000, end + 1, end, Date.UTC(1969, 11, 31, 23, 59, 59, 999) + 0.25];
    expect(times.map(isoMicros)).toEqual([
      '2026-12-31T23:59:59.999500Z',
      '2027-01-01T00:00:00.000500Z',
      '2026-12-31T23:59:58.999500Z',
      '2027-01-01T00:00:00.000500Z',
      '2026-12-31T23:59:59.999500Z',
      '1969-12-31T23:59:59.999250Z',
    ]);
  });

  it('stays within the millisecond the wall clock names, and resolves below it', () => {
    const fractions = new Set<number>();
    for (let i = 0; i < 20_000; i++) {
      const before = Date.now();
      const t = preciseNow();
      const after = Date.now();
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThan(after + 1);
      fractions.add(Math.round((t % 1) * 1000));
    }
    expect(fractions.size).toBeGreaterThan(10);
  });

  describe('calibration', () => {
    afterEach(() => {
      vi.useRealTimers();
      vi.restoreAllMocks();
    });

    it('happens on first use, not at import', async () => {
      vi.resetModules();
      const reads = vi.spyOn(performance, 'now');
      const fresh = await import('../../src/lib/clock.ts');
      expect(reads).not.toHaveBeenCalled();
      fresh.preciseNow();
      // Seven calibration spins read the monotonic clock many times; the call itself reads it once.
      expect(reads.mock.calls.length).toBeGreaterThan(7);
    });

    it('ends under fake timers, whose wall clock never ticks, and follows the fake time', async () => {
      vi.useFakeTimers({ toFake: ['Date', 'performance'], now: Date.UTC(2026, 0, 1) });
      vi.resetModules();
      const fresh = await import('../../src/lib/clock.ts');
      const t = fresh.preciseNow();
      expect(t).toBeGreaterThanOrEqual(Date.UTC(2026, 0, 1));
      expect(t).toBeLessThan(Date.UTC(2026, 0, 1) + 1);
    });
  });
});
