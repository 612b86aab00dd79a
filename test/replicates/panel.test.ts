import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignModels } from '../../src/replicates/panel.ts';
import { providerCallKey } from '../../src/reliability/callKeys.ts';

describe('panel assignment', () => {
  it('round-robins in the order given', () => {
    expect(assignModels(['p1/m1', 'p2/m2'], 4)).toEqual(['p1/m1', 'p2/m2', 'p1/m1', 'p2/m2']);
    expect(assignModels(['a', 'b', 'c'], 5)).toEqual(['a', 'b', 'c', 'a', 'b']);
  });

  it('follows weights, interleaved', () => {
    expect(assignModels(['a', 'b'], 6, [2, 1])).toEqual(['a', 'b', 'a', 'a', 'b', 'a']);
    expect(assignModels(['a', 'b'], 3, [1, 0])).toEqual(['a', 'a', 'a']);
  });

  it('gives every model its share within one replicate, at every prefix', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 40 }), (weights, n) => {
        const models = weights.map((_, i) => `m${i}`);
        const out = assignModels(models, n, weights);
        const total = weights.reduce((a, b) => a + b, 0);
        for (let k = 1; k <= n; k++) {
          for (const [i, m] of models.entries()) {
            const count = out.slice(0, k).filter((x) => x === m).length;
            expect(Math.abs(count - (k * (weights[i] as number)) / total)).toBeLessThan(1 + 1e-9);
          }
        }
      }),
    );
  });

  it('refuses no models and bad weights', () => {
    expect(() => assignModels([], 3)).toThrow(RangeError);
    expect(() => assignModels(['a'], 3, [0])).toThrow(RangeError);
    expect(() => assignModels(['a', 'b'], 3, [1])).toThrow(RangeError);
  });
});

describe('provider call keys', () => {
  it('are stable for one call and differ between replicates and calls', () => {
    const run = { id: 'run_1' };
    expect(providerCallKey(run, 0, 0)).toBe(providerCallKey(run, 0, 0));
    expect(providerCallKey(run, 0, 0)).not.toBe(providerCallKey(run, 1, 0));
    expect(providerCallKey(run, 0, 0)).not.toBe(providerCallKey(run, 0, 1));
    expect(providerCallKey(run, 0, 0)).not.toBe(providerCallKey(run, 'synthesizer', 0));
  });

  it('follow the caller’s idempotency key, never showing it', () => {
    const a = providerCallKey({ id: 'run_1', idempotencyKey: 'my-key-123' }, 2, 0);
    const b = providerCallKey({ id: 'run_2', idempotencyKey: 'my-key-123' }, 2, 0);
    expect(a).toBe(b);
    expect(a).not.toContain('my-key-123');
    expect(a).toMatch(/^orch-[\w-]{32}$/);
  });
});
