import { describe, expect, it } from 'vitest';
import { compileRedactPatterns, patternRedactor } from '../../src/lib/redaction.ts';

describe('patternRedactor', () => {
  const redact = patternRedactor(compileRedactPatterns('secret-\\w+,(?i)password=\\S+'));

  it('masks matches at any depth, in values and in keys, without overflowing the stack', () => {
    let deep: unknown = { leaf: 'secret-deep' };
    for (let i = 0; i < 50_000; i++) deep = [{ next: deep }];
    let out = redact(deep, 'event') as unknown;
    for (let i = 0; i < 50_000; i++) out = (out as [{ next: unknown }])[0].next;
    expect(out).toEqual({ leaf: '[REDACTED]' });
    expect(redact({ 'secret-one': 1, 'secret-two': 2, plain: 'PASSWORD=hunter2 ok' }, 'event')).toEqual({
      '[REDACTED]': 1,
      '[REDACTED]-2': 2,
      plain: '[REDACTED] ok',
    });
  });

  it('keeps every key it does not mask, __proto__ included, as data', () => {
    const input = JSON.parse('{"__proto__": {"polluted": "secret-x"}, "constructor": "c", "a": [1, null, true]}');
    const out = redact(input, 'event') as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['__proto__', 'constructor', 'a']);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ polluted: '[REDACTED]' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(out))).toEqual(JSON.parse('{"__proto__": {"polluted": "[REDACTED]"}, "constructor": "c", "a": [1, null, true]}'));
  });

  it('always masks API keys and bearer tokens, keeps shared and cyclic references, and serialises dates', () => {
    const shared = { note: 'sk-abcdefghijklmnop' };
    const cyclic: Record<string, unknown> = { shared, again: shared, when: new Date(0), auth: 'Bearer abcdefghijkl' };
    cyclic.self = cyclic;
    const out = patternRedactor()(cyclic, 'log') as Record<string, any>;
    expect(out.shared).toEqual({ note: '[REDACTED]' });
    expect(out.again).toBe(out.shared);
    expect(out.self).toBe(out);
    expect(out.when).toBe('1970-01-01T00:00:00.000Z');
    expect(out.auth).toBe('[REDACTED]');
  });

  it('runs operator patterns in linear time (RE2), whatever the pattern', () => {
    const evil = patternRedactor(compileRedactPatterns('^(a+)+$'));
    const text = `${'a'.repeat(5_000)}!`;
    const started = performance.now();
    expect(evil(text, 'log')).toBe(text);
    // Backtracking would take longer than the age of the universe; RE2 takes milliseconds.
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
