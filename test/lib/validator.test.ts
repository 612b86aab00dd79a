import { describe, expect, it } from 'vitest';
import { SchemaValidator } from '../../src/lib/validator.ts';
import { collect } from '../helpers/gc.ts';

/** A distinct schema per `i`, with a `pattern` (Ajv keeps a RegExp per pattern in its generated code's scope). */
const schemaNumber = (i: number) => ({
  type: 'object',
  properties: { answer: { type: 'string', pattern: `^a${i}` }, n: { type: 'integer', minimum: i } },
  required: ['answer'],
});

describe('SchemaValidator', () => {
  it('compiles a schema once and validates with it', () => {
    const v = new SchemaValidator();
    const schema = schemaNumber(1);
    expect(v.compile(schema)).toBe(v.compile(structuredClone(schema)));
    expect(v.validate(schema, { answer: 'a1x', n: 2 })).toEqual({ valid: true, errors: [] });
    expect(v.validate(schema, { answer: 'b', n: 0 }).valid).toBe(false);
    expect(() => v.compile({ type: 'no-such-type' })).toThrow(/not a valid JSON Schema/);
  });

  it('keeps no more than two cache sizes of schemas alive, however many distinct ones it compiled', async () => {
    const max = 4;
    const v = new SchemaValidator(max);
    const schemas: WeakRef<object>[] = [];
    const functions: WeakRef<object>[] = [];
    const hot = schemaNumber(-1);
    v.compile(hot);
    // Many distinct schemas, as requests with per-request output schemas send them; a few rejected
    // ones among them, and one schema used all along.
    for (let i = 0; i < 200; i++) {
      const schema = i % 10 === 9 ? { type: 'object', properties: { x: { type: `bad${i}` } } } : schemaNumber(i);
      schemas.push(new WeakRef(schema));
      try {
        functions.push(new WeakRef(v.compile(schema)));
      } catch {
        /* rejected: the caller's 400 */
      }
      expect(v.validate(hot, { answer: 'x' }).valid).toBe(false);
    }
    await collect();
    expect(v.size).toBe(max);
    // The current Ajv instance and the one before it, each with at most `max` schemas compiled.
    expect(schemas.filter((r) => r.deref() !== undefined).length).toBeLessThanOrEqual(2 * max);
    expect(functions.filter((r) => r.deref() !== undefined).length).toBeLessThanOrEqual(2 * max);
  });

  it('compiles a schema with an $id again after it left the cache, and keeps schemas of different requests sharing an $id apart', () => {
    const v = new SchemaValidator(1);
    const withId = () => ({ $id: 'https://example.com/answer', type: 'object', properties: { x: { type: 'string' } }, required: ['x'] });
    v.compile(withId());
    v.compile(schemaNumber(1)); // evicts the first
    expect(v.validate(withId(), { x: 'ok' }).valid).toBe(true);

    const w = new SchemaValidator();
    const asString = { $id: 'https://example.com/shared', type: 'string' };
    const asNumber = { $id: 'https://example.com/shared', type: 'number' };
    expect(w.validate(asString, 'text').valid).toBe(true);
    expect(w.validate(asNumber, 3).valid).toBe(true);
    expect(w.validate(asNumber, 'text').valid).toBe(false);
  });

  it('resolves references inside a schema with an $id, relative and absolute', () => {
    const v = new SchemaValidator();
    const schema = {
      $id: 'https://example.com/person',
      type: 'object',
      definitions: { name: { type: 'string', minLength: 1 } },
      properties: { first: { $ref: '#/definitions/name' }, last: { $ref: 'https://example.com/person#/definitions/name' } },
      required: ['first', 'last'],
    };
    expect(v.validate(schema, { first: 'Ada', last: 'Lovelace' }).valid).toBe(true);
    expect(v.validate(schema, { first: 'Ada', last: '' }).valid).toBe(false);
  });
});

describe('SchemaValidator on untrusted schemas', () => {
  const limits = { maxBytes: 65_536, maxDepth: 32, maxNodes: 5_000, maxRefExpansion: 10_000, maxValueDepth: 64 };

  it('refuses a doubling $defs chain by its expanded size, and accepts the same chain when it does not double', () => {
    const v = new SchemaValidator(16, limits);
    const defs: Record<string, unknown> = { l0: { type: 'string' } };
    for (let i = 1; i <= 25; i++) defs[`l${i}`] = { anyOf: [{ $ref: `#/$defs/l${i - 1}` }, { $ref: `#/$defs/l${i - 1}` }] };
    expect(() => v.compile({ $ref: '#/$defs/l25', $defs: defs })).toThrow(/MAX_SCHEMA_REF_EXPANSION/);
    const chain: Record<string, unknown> = { l0: { type: 'string' } };
    for (let i = 1; i <= 25; i++) chain[`l${i}`] = { anyOf: [{ $ref: `#/$defs/l${i - 1}` }, { type: 'number' }] };
    expect(v.validate({ $ref: '#/$defs/l25', $defs: chain }, 'text').valid).toBe(true);
    expect(v.validate({ $ref: '#/$defs/l25', $defs: chain }, null).valid).toBe(false);
  });

  it('names each limit: bytes, depth, keywords', () => {
    const v = new SchemaValidator(16, { ...limits, maxBytes: 1_000, maxNodes: 50 });
    expect(() => v.compile({ description: 'd'.repeat(2_000) })).toThrow(/MAX_SCHEMA_BYTES/);
    expect(() => v.compile({ enum: Array.from({ length: 51 }, (_, i) => i) })).toThrow(/MAX_SCHEMA_NODES/);
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 50_000; i++) {
      deep.not = {};
      deep = deep.not as Record<string, unknown>;
    }
    expect(() => v.compile(root)).toThrow(/MAX_SCHEMA_DEPTH/);
  });

  it('allows only local references, no $id below the root, and recursion that descends into the value', () => {
    const v = new SchemaValidator(16, limits);
    expect(() => v.compile({ $ref: 'https://attacker.example/s.json' })).toThrow(/remote or relative \$ref/);
    expect(() => v.compile({ properties: { a: { $id: 'https://elsewhere.example/a', type: 'string' } } })).toThrow(/\$id/);
    expect(() => v.compile({ allOf: [{ $ref: '#/$defs/a' }], $defs: { a: { not: { $ref: '#' } } } })).toThrow(/\$ref loop/);
    // The same loop, reached first through a descending path, is still found whatever the key order.
    const hidden = { properties: { p: { $ref: '#/$defs/x' } }, anyOf: [{ $ref: '#/$defs/x' }], $defs: { x: { anyOf: [{ $ref: '#' }] } } };
    expect(() => v.compile(hidden)).toThrow(/\$ref loop/);
    const tree = { type: 'object', properties: { kids: { type: 'array', items: { $ref: '#' } } } };
    expect(v.validate(tree, { kids: [{ kids: [] }] }).valid).toBe(true);
    expect(v.validate(tree, { kids: [{ kids: 3 }] }).valid).toBe(false);
    const anchored = { type: 'object', properties: { n: { $ref: '#num' } }, $defs: { n: { $anchor: 'num', type: 'number' } } };
    expect(v.validate(anchored, { n: 1 }).valid).toBe(true);
    expect(v.validate(anchored, { n: 'x' }).valid).toBe(false);
  });

  it('matches patterns with RE2: linear time on catastrophic patterns, and lookaround refused at compile time', () => {
    const v = new SchemaValidator(16, limits);
    const started = performance.now();
    for (const pattern of ['^(([a-z ])+)*Z$', '^(a+)+$', '^(a|a)*b$']) {
      expect(v.validate({ type: 'string', pattern }, `${'a'.repeat(5_000)}!`).valid).toBe(false);
    }
    expect(performance.now() - started).toBeLessThan(1000);
    expect(v.validate({ type: 'string', pattern: '^(([a-z ])+)*Z$' }, 'abc Z').valid).toBe(true);
    const keyed = { type: 'object', patternProperties: { '^a': { type: 'number' }, '^b': { type: 'string' } } };
    expect(v.validate(keyed, { a1: 1, b: 'x' }).valid).toBe(true);
    expect(v.validate(keyed, { a1: 1, b: 2 }).valid).toBe(false);
    expect(() => v.compile({ type: 'string', pattern: '(?=a)a' })).toThrow(/not supported/);
    expect(() => v.compile({ type: 'string', pattern: '(a)\\1' })).toThrow(/not supported/);
  });

  it('refuses a quadratic uniqueItems unless maxItems caps it, and keeps the linear one over scalars', () => {
    const v = new SchemaValidator(16, limits);
    expect(() => v.compile({ type: 'array', uniqueItems: true })).toThrow(/uniqueItems.*maxItems ≤ 1000/);
    expect(() => v.compile({ type: 'array', items: { type: 'object' }, uniqueItems: true, maxItems: 5000 })).toThrow(/uniqueItems/);
    expect(v.validate({ type: 'array', items: { type: 'object' }, uniqueItems: true, maxItems: 100 }, [{ a: 1 }, { a: 1 }]).valid).toBe(false);
    const scalars = { type: 'array', items: { type: ['string', 'number'] }, uniqueItems: true };
    expect(v.validate(scalars, Array.from({ length: 50_000 }, (_, i) => i)).valid).toBe(true);
    expect(v.validate(scalars, [1, 2, 1]).valid).toBe(false);
  });

  it('reports a bounded error list, and calls values nested past the limit invalid without walking them', () => {
    const v = new SchemaValidator(16, limits);
    const result = v.validate({ type: 'array', items: { type: 'string' } }, Array.from({ length: 1_000 }, () => 1));
    expect(result.valid).toBe(false);
    expect(result.errors.length).toBeLessThanOrEqual(20);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(v.validate({}, deep)).toEqual({ valid: false, discard: true, errors: [expect.stringMatching(/MAX_JSON_DEPTH/)] });
  });
});
