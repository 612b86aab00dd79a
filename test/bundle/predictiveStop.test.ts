import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideEarlyStop, predictiveFlipProbability } from '../../src/bundle/index.ts';
import { closedFormFlip, dpFlip, PREDICTIVE_DP_MAX_REMAINING } from '../../src/bundle/predictiveStop.ts';

describe('predictive stopping rule', () => {
  it('is certain when the remaining replicates cannot close the gap', () => {
    expect(predictiveFlipProbability(6, 0, 0, 4)).toBe(0);
    expect(predictiveFlipProbability(5, 1, 0, 3)).toBe(0);
  });

  it('matches a hand computation for one remaining draw', () => {
    // Leader 2, challenger 1, one draw left: the challenger ties iff it draws, p = (1+1)/(3+3).
    expect(predictiveFlipProbability(2, 1, 0, 1)).toBeCloseTo(2 / 6, 12);
  });

  it('is a probability that falls as the lead grows', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 12 }), (v1, v2raw, rest, remaining) => {
        const v2 = Math.min(v1, v2raw);
        const p = predictiveFlipProbability(v1, v2, rest, remaining);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThanOrEqual(1);
        expect(predictiveFlipProbability(v1 + 1, v2, rest, remaining)).toBeLessThanOrEqual(p + 1e-12);
      }),
    );
  });

  it('stops 4 agreeing answers of 10, not 2 of 10, and explains why', () => {
    const keys = (n: number) => Array.from({ length: n }, () => '"A"');
    expect(decideEarlyStop({ keys: keys(2), finished: 2, requested: 10 }, { rule: 'predictive' }).stop).toBe(false);
    const d = decideEarlyStop({ keys: keys(4), finished: 4, requested: 10 }, { rule: 'predictive' });
    expect(d).toMatchObject({ stop: true, rule: 'predictive' });
    expect(d.reason).toMatch(/10 replicates would still pick the leader/);
  });
});

describe('predictive rule past its DP cap', () => {
  it('computes the same probability in closed form as the exact DP', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 60 }), (a, b, rest, remaining) => {
        const [v1, v2] = a >= b ? [a, b] : [b, a];
        expect(closedFormFlip(v1, v2, rest, remaining)).toBeCloseTo(dpFlip(v1, v2, rest, remaining), 9);
      }),
      { numRuns: 200 },
    );
    // Right at the cap too, with large counts (log-space terms that would underflow in linear space).
    expect(closedFormFlip(300, 250, 40, PREDICTIVE_DP_MAX_REMAINING)).toBeCloseTo(dpFlip(300, 250, 40, PREDICTIVE_DP_MAX_REMAINING), 9);
  });

  it('decides with 999 replicates left without stalling, and agrees with the rule below the cap', () => {
    const close = [...Array.from({ length: 3 }, () => '"A"'), '"B"', '"B"'];
    expect(decideEarlyStop({ keys: close, finished: 5, requested: 1004 }, { rule: 'predictive' }).stop).toBe(false);
    const clear = Array.from({ length: 30 }, () => '"A"');
    expect(decideEarlyStop({ keys: clear, finished: 30, requested: 1029 }, { rule: 'predictive' })).toMatchObject({ stop: true, rule: 'predictive' });
    // 999 left: a real probability between the extremes, the closed form's.
    const p = predictiveFlipProbability(3, 2, 0, 999);
    expect(p).toBeGreaterThan(0.1);
    expect(p).toBeLessThan(0.9);
    expect(p).toBe(closedFormFlip(3, 2, 0, 999));
    // It still falls as the lead grows, past the cap as below it.
    expect(predictiveFlipProbability(8, 2, 0, 999)).toBeLessThan(p);
  });
});
