import { afterEach, describe, expect, it, vi } from 'vitest';
import { isoMicros, preciseNow } from '../../src/lib/clock.ts';

describe('event clock', () => {
  it('formats fractional milliseconds as an RFC 3339 timestamp with microseconds', () => {
    const ms = Date.UTC(2026, 10, 29, 16, 0, 59, 257) + 0.1239;
    expect(isoMicros(ms)).toBe('2026-11-29T16:00:59.257123Z');
    expect(isoMicros(Date.UTC(2026, 0, 1))).toBe('2026-01-01T00:00:00.000000Z');
    expect(Date.parse(isoMicros(ms))).toBe(Math.floor(ms));
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
