import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, toJsonValue } from '../../src/bundle/index.ts';

describe('canonicalJson', () => {
  it('sorts object keys at every depth, so insertion order never matters', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":1,"z":0}]},"b":1}',
    );
  });

  it('drops undefined properties and nulls undefined array elements, like JSON.stringify', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, () => 1], c: 1 })).toBe('{"b":[null,null],"c":1}');
  });

  it('maps non-finite numbers and -0 the way JSON.stringify does', () => {
    expect(canonicalJson([Number.NaN, Number.POSITIVE_INFINITY, -0])).toBe('[null,null,0]');
  });

  it('gives "null" for a top-level undefined so callers always get a key', () => {
    expect(canonicalJson(undefined)).toBe('null');
  });

  it('honours toJSON (dates serialise as ISO strings)', () => {
    expect(canonicalJson({ at: new Date(0) })).toBe('{"at":"1970-01-01T00:00:00.000Z"}');
  });

  it('rejects cycles and BigInt instead of looping or guessing', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(TypeError);
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
  });

  it('keeps a "__proto__" key as data', () => {
    const v = JSON.parse('{"__proto__":1,"a":2}') as unknown;
    expect(canonicalJson(v)).toBe('{"__proto__":1,"a":2}');
  });

  it('property: parses back to a value that JSON.stringify agrees with, and is idempotent', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = canonicalJson(v);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(v)));
        expect(canonicalJson(toJsonValue(v))).toBe(text);
      }),
    );
  });

  it('property: reordering object keys does not change the text', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(obj));
      }),
    );
  });
});

describe('canonicalJson on deep input', () => {
  it('serialises JSON nested far deeper than the stack, sorted, as JSON.parse reads it back', () => {
    const depth = 100_000;
    const text = `${'{"b":1,"a":'.repeat(depth)}null${'}'.repeat(depth)}`;
    const out = canonicalJson(JSON.parse(text));
    expect(out.length).toBe(text.length);
    expect(out.startsWith('{"a":{"a":')).toBe(true);
    expect(out.includes('{"a":null,"b":1}')).toBe(true);
    expect(out.endsWith('},"b":1}')).toBe(true);
    expect(canonicalJson(toJsonValue(JSON.parse(text)))).toBe(out);
    const cyclic: unknown[] = [];
    cyclic.push([[cyclic]]);
    expect(() => canonicalJson(cyclic)).toThrow(/cyclic/);
  });
});
