import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { valueForSchema, sentence } from '../../src/providers/simulator/generate.ts';
import { mulberry32, pickWeighted, rngFor } from '../../src/providers/simulator/prng.ts';
import { schemaErrors } from './helpers.ts';

type Schema = Record<string, unknown>;

const leaf: fc.Arbitrary<Schema> = fc.oneof(
  fc.constant({ type: 'boolean' }),
  fc.constant({ type: 'null' }),
  fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.nat(100)).map(([lo, span]) => ({ type: 'integer', minimum: lo, maximum: lo + span })),
  fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 2, max: 50 })).map(([lo, span]) => ({ type: 'integer', exclusiveMinimum: lo, exclusiveMaximum: lo + span })),
  fc.integer({ min: -5, max: 5 }).map((hi) => ({ type: 'integer', maximum: hi })),
  fc.tuple(fc.double({ min: -1e3, max: 1e3, noNaN: true }), fc.double({ min: 1, max: 100, noNaN: true })).map(([lo, span]) => ({ type: 'number', minimum: lo, maximum: lo + span })),
  fc.tuple(fc.double({ min: -1e3, max: 1e3, noNaN: true }), fc.double({ min: 1, max: 100, noNaN: true })).map(([lo, span]) => ({ type: 'number', exclusiveMinimum: lo, exclusiveMaximum: lo + span })),
  fc.constant({ type: 'number' }),
  fc.tuple(fc.nat(30), fc.nat(30)).map(([min, extra]) => ({ type: 'string', minLength: min, maxLength: min + extra })),
  fc.constant({ type: ['string', 'null'] }),
  fc.uniqueArray(fc.oneof(fc.string(), fc.integer(), fc.boolean()), { minLength: 1, maxLength: 5 }).map((e) => ({ enum: e })),
  fc.jsonValue().map((c) => ({ const: c })),
);

const key = fc.stringMatching(/^[a-z][a-zA-Z0-9_]{0,8}$/);

const { node } = fc.letrec<{ node: Schema }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.dictionary(key, tie('node'), { maxKeys: 4 }).chain((props) =>
      fc.subarray(Object.keys(props)).map((required) => ({ type: 'object', properties: props, required, additionalProperties: false })),
    ),
    fc.tuple(tie('node'), fc.nat(3), fc.nat(3)).map(([items, min, extra]) => ({ type: 'array', items, minItems: min, maxItems: min + extra })),
    tie('node').map((n) => ({ anyOf: [n, { type: 'null' }] })),
    tie('node').map((n) => ({ oneOf: [n] })),
  ),
}));

const withRefs = node.map((inner) => ({
  type: 'object',
  $defs: { Inner: inner },
  properties: { ref: { $ref: '#/$defs/Inner' }, both: { allOf: [{ type: 'object', properties: { a: inner }, required: ['a'] }] } },
  required: ['ref', 'both'],
}));

describe('schema-driven values', () => {
  it('always satisfy the schema they were generated from', () => {
    fc.assert(
      fc.property(fc.oneof(node, withRefs), fc.integer(), (schema, seed) => {
        const value = valueForSchema(schema, mulberry32(seed));
        expect(schemaErrors(schema, value)).toBeNull();
      }),
      { numRuns: 400 },
    );
  });

  it('are a pure function of the generator seed', () => {
    fc.assert(
      fc.property(node, fc.integer(), (schema, seed) => {
        expect(valueForSchema(schema, mulberry32(seed))).toEqual(valueForSchema(schema, mulberry32(seed)));
      }),
    );
  });

  it('fill common string formats plausibly', () => {
    const rng = mulberry32(3);
    expect(valueForSchema({ type: 'string', format: 'date-time' }, rng)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(valueForSchema({ type: 'string', format: 'date' }, rng)).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(valueForSchema({ type: 'string', format: 'email' }, rng)).toMatch(/^[a-z.]+@example\.com$/);
    expect(valueForSchema({ type: 'string', format: 'uuid' }, rng)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('keep a property named __proto__ as an own key', () => {
    const schema = JSON.parse('{"type":"object","properties":{"__proto__":{"type":"object","properties":{"x":{"const":1}},"required":["x"]}},"required":["__proto__"]}') as Schema;
    expect(JSON.stringify(valueForSchema(schema, mulberry32(1)))).toBe('{"__proto__":{"x":1}}');
  });
});

describe('text and sampling', () => {
  it('sentences reuse prompt words and are stable per seed and prompt', () => {
    const prompt = 'Explain photosynthesis in chloroplasts';
    const a = sentence(prompt, rngFor(1, prompt));
    expect(a).toBe(sentence(prompt, rngFor(1, prompt)));
    expect(a).toMatch(/^[A-Z].*\.$/);
    const all = Array.from({ length: 20 }, (_, s) => sentence(prompt, rngFor(s, prompt))).join(' ');
    expect(all).toMatch(/photosynthesis|chloroplasts|explain/i);
  });

  it('weighted picks follow the weights and skip zero weights', () => {
    const rng = mulberry32(42);
    const counts = { a: 0, b: 0, z: 0 };
    const items = [{ id: 'a' as const, weight: 3 }, { id: 'z' as const, weight: 0 }, { id: 'b' as const, weight: 1 }];
    for (let i = 0; i < 4000; i++) counts[pickWeighted(rng, items).id]++;
    expect(counts.z).toBe(0);
    expect(counts.a / counts.b).toBeGreaterThan(2.4);
    expect(counts.a / counts.b).toBeLessThan(3.6);
  });
});
