import { describe, expect, it } from 'vitest';
import { callKeyring } from '../../src/runs/callKeyring.ts';

describe('per-call idempotency keys of a run', () => {
  it('numbers the calls of each replicate, so no two calls share a key', () => {
    const key = callKeyring({ id: 'run_1' });
    const keys = [key({ replicate: 0 }), key({ replicate: 1 }), key({ replicate: 0 }), key({ replicate: 'synthesizer' }), key(), key()];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('gives the same calls of the same run the same keys (a take-over repeats them)', () => {
    const a = callKeyring({ id: 'run_1' });
    const b = callKeyring({ id: 'run_1' });
    expect([a({ replicate: 0 }), a({ replicate: 0 })]).toEqual([b({ replicate: 0 }), b({ replicate: 0 })]);
  });

  it('keeps the steps of a composite tool apart, and follows the caller key rather than the run id', () => {
    expect(callKeyring({ id: 'run_1' }, '1:a')({ replicate: 0 })).not.toBe(callKeyring({ id: 'run_1' }, '2:b')({ replicate: 0 }));
    expect(callKeyring({ id: 'run_1', idempotencyKey: 'k' })({ replicate: 0 })).toBe(callKeyring({ id: 'run_2', idempotencyKey: 'k' })({ replicate: 0 }));
    expect(callKeyring({ id: 'run_1', idempotencyKey: 'caller-secret-key' })({ replicate: 0 })).not.toContain('caller-secret');
  });
});
