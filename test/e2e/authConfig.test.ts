import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KeyRing } from '../../src/auth/keys.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { runBelongsTo, tenantTag } from '../../src/lib/tenancy.ts';
import { ServiceError } from '../../src/errors.ts';

const ring = (env: Record<string, string>) => {
  const config = loadConfig(env);
  return new KeyRing([...config.API_KEYS, ...config.API_KEYS_FILE]);
};
const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal');
};

describe('API_KEYS and API_KEYS_FILE are parsed once, in the config', () => {
  it('keeps digests, never the keys themselves', () => {
    const config = loadConfig({ API_KEYS: 'super-secret-key-1:acme,other-secret-key-2' });
    expect(JSON.stringify(config)).not.toContain('super-secret-key-1');
    expect(config.API_KEYS.map((k) => k.tenant)).toEqual(['acme', createHash('sha256').update('other-secret-key-2').digest('hex').slice(0, 24)]);
  });

  it('maps each key to its tenant; several keys may share one; a key without a tenant is its own', () => {
    const keys = ring({ API_KEYS: 'k-one:acme, k-two:acme,k-three' });
    expect(keys.authenticate('Bearer k-one')).toBe('acme');
    expect(keys.authenticate('bearer   k-two')).toBe('acme');
    const own = keys.authenticate('Bearer k-three');
    expect(own).toMatch(/^[0-9a-f]{24}$/);
    expect(keys.counts).toEqual({ keys: 3, tenants: 2 });
  });

  it('splits at the last colon, so a key with colons names its tenant', () => {
    expect(ring({ API_KEYS: 'a:b:c:tenant-1' }).authenticate('Bearer a:b:c')).toBe('tenant-1');
  });

  it('refuses malformed entries at startup, naming the entry but not its key', () => {
    for (const [value, problem] of [
      ['good-key,secret-key-x:', /API_KEYS: entry 2: tenant must match/],
      ['secret-key-x:public', /reserved/],
      ['secret-key-x:has space', /tenant must match/],
      [':acme', /empty key/],
    ] as const) {
      const error = refusal(() => loadConfig({ API_KEYS: value }));
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message, value).toMatch(problem);
      expect((error as Error).message).not.toContain('secret-key-x');
    }
  });

  it('reads API_KEYS_FILE lines of sha256hex[:tenant], skipping comments and blanks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keysfile-'));
    const good = join(dir, 'good');
    const digest = createHash('sha256').update('rotating-key').digest('hex');
    writeFileSync(good, `# comment\n\n  ${digest}:acme  \r\n`);
    expect(ring({ API_KEYS_FILE: good }).authenticate('Bearer rotating-key')).toBe('acme');

    const bad = join(dir, 'bad');
    writeFileSync(bad, `${digest}:acme\nnot-a-hash:acme\n`);
    expect((refusal(() => loadConfig({ API_KEYS_FILE: bad })) as Error).message).toMatch(/API_KEYS_FILE: line 2: expected 64 hex digits/);
    expect((refusal(() => loadConfig({ API_KEYS_FILE: join(dir, 'missing') })) as Error).message).toMatch(/API_KEYS_FILE: cannot read .*ENOENT/);
  });

  it('answers 401 for a missing, malformed or unknown key', () => {
    const keys = ring({ API_KEYS: 'k-one:acme' });
    for (const header of [undefined, '', 'k-one', 'Basic k-one', 'Bearer', 'Bearer k-one extra', 'Bearer k-onE', `Bearer ${'x'.repeat(5000)}`]) {
      const error = refusal(() => keys.authenticate(header));
      expect(error, String(header)).toBeInstanceOf(ServiceError);
      expect((error as ServiceError).code).toBe('unauthorized');
    }
    expect(new KeyRing([]).enabled).toBe(false);
  });
});

describe('HTTP settings', () => {
  it('have documented defaults and refuse a headers timeout longer than the request timeout', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      HTTP_HEADERS_TIMEOUT_MS: 10_000,
      HTTP_REQUEST_TIMEOUT_MS: 30_000,
      HTTP_KEEP_ALIVE_TIMEOUT_MS: 72_000,
      HTTP_MAX_HEADER_BYTES: 16_384,
      HTTP_MAX_PARAM_LENGTH: 128,
      RATE_LIMIT_MAX: 600,
      RATE_LIMIT_WINDOW_MS: 60_000,
    });
    expect(config.HTTP_IDLE_TIMEOUT_MS).toBeUndefined();
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '1000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
  });
});

describe('run ownership', () => {
  it('is decided by a tag of the tenant name, the same for every key of it', () => {
    const keys = ring({ API_KEYS: 'k-one:acme,k-two:acme,k-three:zeta' });
    const acme = keys.authenticate('Bearer k-one');
    const id = `run_${tenantTag(acme)}_${'0'.repeat(32)}`;
    expect(runBelongsTo(id, keys.authenticate('Bearer k-two'))).toBe(true);
    expect(runBelongsTo(id, keys.authenticate('Bearer k-three'))).toBe(false);
    expect(runBelongsTo(id, 'public')).toBe(true);
  });
});
