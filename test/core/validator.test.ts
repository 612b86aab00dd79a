import { describe, expect, it } from 'vitest';
import { SchemaValidator } from '../../src/core/validator.ts';
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
