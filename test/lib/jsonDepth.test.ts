import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exceedsJsonDepth, jsonDepthError } from '../../src/lib/jsonDepth.ts';
import { jsonValueDepth } from '../../src/lib/schemaLimits.ts';

describe('exceedsJsonDepth', () => {
  it('agrees with the depth of the parsed value, brackets inside strings and escapes left out', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 1, max: 8 }), (value, max) => {
        const text = JSON.stringify(value);
        expect(exceedsJsonDepth(text, max)).toBe(jsonValueDepth(value) > max);
      }),
    );
    expect(exceedsJsonDepth(JSON.stringify({ a: '[[[[{{{{\\"[[[[' }), 1)).toBe(false);
  });

  it('refuses a body 20,000 deep with a 400 naming the setting', () => {
    const text = `{"options":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`;
    const error = jsonDepthError(text, 64);
    expect(error?.status).toBe(400);
    expect(error?.message).toMatch(/MAX_JSON_DEPTH/);
    expect(jsonDepthError('{"a":[1,2,{"b":[]}]}', 64)).toBeNull();
  });
});
