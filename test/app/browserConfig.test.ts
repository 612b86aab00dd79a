import { describe, expect, it } from 'vitest';
import { corsOptions, escapeLineSeparators } from '../../src/browsers.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('browser settings', () => {
  it('CORS is off unless CORS_ORIGINS is set; origins are listed or *', () => {
    expect(corsOptions(loadConfig({}))).toBeNull();
    expect(corsOptions(loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:3000/' }))?.origin).toEqual(['https://a.example', 'http://localhost:3000']);
    expect(corsOptions(loadConfig({ CORS_ORIGINS: '*' }))?.origin).toBe('*');
  });

  it('refuses at startup an origin a browser would never send', () => {
    for (const bad of ['a.example', 'https://a.example/app', 'ftp://a.example', 'https://a.example,,']) {
      expect(() => loadConfig({ CORS_ORIGINS: bad }), bad).toThrow(ConfigError);
    }
  });

  it('refuses a short STREAM_TOKEN_SECRET', () => {
    expect(() => loadConfig({ STREAM_TOKEN_SECRET: 'short' })).toThrow(/STREAM_TOKEN_SECRET: at least 32 characters/);
  });

  it('escapes U+2028 and U+2029 and leaves everything else as it was', () => {
    const text = JSON.stringify({ a: 'x\u2028y\u2029z', b: 'plain' });
    const escaped = escapeLineSeparators(text);
    expect(escaped).not.toMatch(/[\u2028\u2029]/);
    expect(JSON.parse(escaped)).toEqual(JSON.parse(text));
    expect(escapeLineSeparators('{"b":"plain"}')).toBe('{"b":"plain"}');
  });
});
