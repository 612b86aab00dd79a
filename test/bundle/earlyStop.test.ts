import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { betaStopProbability, decideEarlyStop, voteKey, type EarlyStopConfig } from '../../src/bundle/index.ts';

const state = (keys: string[], extra: Partial<{ meanDistance: number; confidence: number; finished: number; requested: number }> = {}) => ({
  keys,
  finished: keys.length,
  requested: 10,
  ...extra,
});

/** P(X > 1/2) for X ~ Beta(a, b) by Simpson's rule: an independent check of the closed form. */
function numericTail(a: number, b: number): number {
  const f = (x: number) => x ** (a - 1) * (1 - x) ** (b - 1);
  const steps = 2000;
  const integrate = (lo: number, hi: number) => {
    const h = (hi - lo) / steps;
    let s = f(lo) + f(hi);
    for (let i = 1; i < steps; i++) s += f(lo + i * h) * (i % 2 === 0 ? 2 : 4);
    return (s * h) / 3;
  };
  return integrate(0.5, 1) / integrate(0, 1);
}

describe('voteKey', () => {
  it('normalises strings and keeps them distinct from numbers', () => {
    expect(voteKey('Paris.')).toBe(voteKey(' paris'));
    expect(voteKey('1')).not.toBe(voteKey(1));
    expect(voteKey({ b: 1, a: 2 })).toBe(voteKey({ a: 2, b: 1 }));
  });
});

describe('betaStopProbability (Adaptive-Consistency)', () => {
  it('matches the binomial closed form: 4 vs 0 gives 31/32, 6 vs 1 gives 247/256', () => {
    expect(betaStopProbability(0, 0)).toBe(0.5);
    expect(betaStopProbability(1, 0)).toBe(0.75);
    expect(betaStopProbability(4, 0)).toBe(31 / 32);
    expect(betaStopProbability(6, 1)).toBe(247 / 256);
  });

  it('agrees with numerical integration of the Beta density', () => {
    for (const [v1, v2] of [
      [3, 1],
      [7, 4],
      [12, 2],
    ] as const) {
      expect(betaStopProbability(v1, v2)).toBeCloseTo(numericTail(v1 + 1, v2 + 1), 6);
    }
  });

  it('stays finite and exact-ish for counts far beyond double range of the binomials', () => {
    expect(betaStopProbability(1500, 1500)).toBeCloseTo(0.5, 12);
    expect(betaStopProbability(2000, 0)).toBe(1);
    expect(betaStopProbability(0, 2000)).toBe(0);
  });

  it('rejects negative or fractional counts', () => {
    expect(() => betaStopProbability(-1, 0)).toThrow(RangeError);
    expect(() => betaStopProbability(1.5, 0)).toThrow(RangeError);
  });

  it('property: monotone in v1, antitone in v2, and f(a,b) + f(b,a) = 1', () => {
    const count = fc.integer({ min: 0, max: 300 });
    fc.assert(
      fc.property(count, count, (v1, v2) => {
        const p = betaStopProbability(v1, v2);
        expect(p >= 0 && p <= 1).toBe(true);
        expect(betaStopProbability(v1 + 1, v2)).toBeGreaterThanOrEqual(p);
        expect(betaStopProbability(v1, v2 + 1)).toBeLessThanOrEqual(p);
        expect(p + betaStopProbability(v2, v1)).toBeCloseTo(1, 12);
      }),
    );
  });
});

describe('decideEarlyStop', () => {
  it('quorum: 3 of 3 agreeing stops with a readable reason', () => {
    expect(decideEarlyStop(state(['"a"', '"a"', '"a"']), { quorum: 3 })).toEqual({
      stop: true,
      reason: '3 of 3 replicates agree (quorum 3)',
      rule: 'quorum',
    });
    expect(decideEarlyStop(state(['"a"', '"b"', '"a"']), { quorum: 3 }).stop).toBe(false);
  });

  it('epsilon: stops when the mean pairwise distance is at most epsilon', () => {
    const d = decideEarlyStop(state(['x', 'y'], { meanDistance: 0.04 }), { epsilon: 0.05 });
    expect(d.rule).toBe('epsilon');
    expect(d.reason).toContain('0.04');
    expect(decideEarlyStop(state(['x', 'y'], { meanDistance: 0.06 }), { epsilon: 0.05 }).stop).toBe(false);
    expect(decideEarlyStop(state(['x', 'y']), { epsilon: 0.05 }).stop).toBe(false);
  });

  it('confidence: stops when the consensus confidence reaches the threshold', () => {
    expect(decideEarlyStop(state(['a', 'a', 'b'], { confidence: 0.9 }), { confidence: 0.9 }).rule).toBe('confidence');
    expect(decideEarlyStop(state(['a', 'a', 'b'], { confidence: 0.8 }), { confidence: 0.9 }).stop).toBe(false);
  });

  it('adaptive consistency: 4 unanimous answers exceed 0.95 (31/32) but 3 do not (15/16)', () => {
    const config: EarlyStopConfig = { rule: 'adaptive_consistency' };
    expect(decideEarlyStop(state(['a', 'a', 'a']), config).stop).toBe(false);
    const d = decideEarlyStop(state(['a', 'a', 'a', 'a']), config);
    expect(d).toMatchObject({ stop: true, rule: 'adaptive_consistency' });
    expect(d.reason).toContain('4 vs 0');
    expect(decideEarlyStop(state(['a', 'b', 'a', 'a', 'a', 'a']), config).stop).toBe(false);
    expect(decideEarlyStop(state(['a', 'b', 'a', 'a', 'a', 'a', 'a']), config).stop).toBe(true);
    expect(decideEarlyStop(state(['a', 'a', 'a']), { ...config, threshold: 0.9 }).stop).toBe(true);
  });

  it('ESC: stops when the latest complete window is unanimous, not on a partial window', () => {
    const config: EarlyStopConfig = { rule: 'esc', window: 3 };
    expect(decideEarlyStop(state(['a', 'a']), config).stop).toBe(false);
    expect(decideEarlyStop(state(['a', 'a', 'a']), config)).toEqual({
      stop: true,
      reason: 'answers 1–3 are unanimous (ESC window 3)',
      rule: 'esc',
    });
    expect(decideEarlyStop(state(['a', 'b', 'a']), config).stop).toBe(false);
    expect(decideEarlyStop(state(['a', 'b', 'a', 'c', 'c']), config).stop).toBe(false);
    expect(decideEarlyStop(state(['a', 'b', 'a', 'c', 'c', 'c']), config).reason).toBe(
      'answers 4–6 are unanimous (ESC window 3)',
    );
    expect(decideEarlyStop(state(['a', 'a', 'a', 'a']), { rule: 'esc' }).stop).toBe(true);
  });

  it('never stops before min_replicates valid answers (default 2)', () => {
    expect(decideEarlyStop(state(['a']), { quorum: 1 }).stop).toBe(false);
    expect(decideEarlyStop(state(['a']), { quorum: 1, min_replicates: 1 }).stop).toBe(true);
    expect(decideEarlyStop(state(['a', 'a', 'a']), { quorum: 2, min_replicates: 4 }).stop).toBe(false);
  });

  it('does not stop when nothing is left to cancel, and stays silent without rules', () => {
    expect(decideEarlyStop(state(['a', 'a'], { requested: 2 }), { quorum: 2 }).stop).toBe(false);
    expect(decideEarlyStop(state(['a', 'a']), {})).toEqual({ stop: false, reason: null, rule: null });
  });

  it('reports the first rule in the fixed order epsilon, quorum, confidence, rule', () => {
    const s = state(['a', 'a', 'a', 'a'], { meanDistance: 0, confidence: 1 });
    expect(decideEarlyStop(s, { epsilon: 0.1, quorum: 2, confidence: 0.5, rule: 'esc' }).rule).toBe('epsilon');
    expect(decideEarlyStop(s, { quorum: 2, confidence: 0.5, rule: 'esc' }).rule).toBe('quorum');
    expect(decideEarlyStop(s, { confidence: 0.5, rule: 'esc' }).rule).toBe('confidence');
  });

  it('rejects a non-positive ESC window', () => {
    expect(() => decideEarlyStop(state(['a', 'a']), { rule: 'esc', window: 0 })).toThrow(RangeError);
  });

  it('property: below min_replicates nothing ever stops', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b'), { maxLength: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom('adaptive_consistency' as const, 'esc' as const),
        (keys, min, quorum, rule) => {
          const d = decideEarlyStop(
            { keys, finished: keys.length, requested: 20, meanDistance: 0, confidence: 1 },
            { min_replicates: min, quorum, epsilon: 0.5, confidence: 0.1, rule, window: 2 },
          );
          if (keys.length < min) expect(d).toEqual({ stop: false, reason: null, rule: null });
          else expect(d.stop).toBe(true);
        },
      ),
    );
  });
});
