import { describe, expect, it } from 'vitest';
import { computeStatistics } from '../../src/bundle/index.ts';

describe('computeStatistics', () => {
  it('counts outcomes; completed = succeeded + failed', () => {
    const s = computeStatistics(
      [
        { status: 'succeeded', latency_ms: 100 },
        { status: 'failed', latency_ms: 300 },
        { status: 'cancelled', latency_ms: 5 },
        { status: 'succeeded', latency_ms: 200 },
      ],
      5,
    );
    expect(s).toEqual({
      requested: 5,
      completed: 3,
      succeeded: 2,
      failed: 1,
      cancelled: 1,
      latency_ms: { min: 100, p50: 200, p95: 300, max: 300, mean: 200 },
    });
  });

  it('uses nearest-rank percentiles, so each is an observed latency', () => {
    const reps = Array.from({ length: 20 }, (_, i) => ({ status: 'succeeded' as const, latency_ms: (i + 1) * 10 }));
    const l = computeStatistics(reps, 20).latency_ms;
    expect(l?.p50).toBe(100);
    expect(l?.p95).toBe(190);
    expect(l?.mean).toBe(105);
  });

  it('has null latency when no completed replicate reports one', () => {
    const s = computeStatistics([{ status: 'succeeded', latency_ms: null }, { status: 'cancelled', latency_ms: 3 }, { status: 'failed' }], 3);
    expect(s.latency_ms).toBeNull();
    expect(computeStatistics([], 4)).toEqual({
      requested: 4,
      completed: 0,
      succeeded: 0,
      failed: 0,
      cancelled: 0,
      latency_ms: null,
    });
  });
});
