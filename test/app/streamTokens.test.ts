import { describe, expect, it } from 'vitest';
import { createStreamTokens, redactStreamToken } from '../../src/streamTokens.ts';

describe('stream tokens', () => {
  const clock = { now: 1_000_000 };
  const tokens = createStreamTokens({ secret: 'a'.repeat(32), ttlMs: 60_000, now: () => clock.now });

  it('opens the run it was made for, for its tenant, until it expires', () => {
    const { token, expiresAt } = tokens.mint('run_t1_abc', 't1');
    expect(expiresAt).toBe(1_060_000);
    expect(tokens.verifyStreamToken(token, 'run_t1_abc')).toBe('t1');
    expect(tokens.verifyStreamToken(token, 'run_t1_other')).toBeNull();
    clock.now = 1_059_999;
    expect(tokens.verifyStreamToken(token, 'run_t1_abc')).toBe('t1');
    clock.now = 1_060_000;
    expect(tokens.verifyStreamToken(token, 'run_t1_abc')).toBeNull();
    clock.now = 1_000_000;
  });

  it('is accepted by another replica with the same secret, and by none with another', () => {
    const { token } = tokens.mint('run_x', 'public');
    expect(createStreamTokens({ secret: 'a'.repeat(32), ttlMs: 1, now: () => clock.now }).verifyStreamToken(token, 'run_x')).toBe('public');
    expect(createStreamTokens({ secret: 'b'.repeat(32), ttlMs: 60_000, now: () => clock.now }).verifyStreamToken(token, 'run_x')).toBeNull();
    expect(createStreamTokens({ ttlMs: 60_000 }).verifyStreamToken(token, 'run_x')).toBeNull();
  });

  it('refuses every altered spelling: any changed character, extra parts, junk', () => {
    const { token } = tokens.mint('run_x', 't');
    for (let i = 0; i < token.length; i++) {
      if (token[i] === '.') continue;
      const altered = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
      expect(tokens.verifyStreamToken(altered, 'run_x'), `character ${i}`).toBeNull();
    }
    for (const junk of ['', '.', 'abc', `${token}.x`, `.${token}`, 'x'.repeat(5000)]) expect(tokens.verifyStreamToken(junk, 'run_x')).toBeNull();
  });

  it('same run, tenant and issue time: the same token (a replayed answer repeats it)', () => {
    expect(tokens.mint('run_x', 't', 5).token).toBe(tokens.mint('run_x', 't', 5).token);
    expect(tokens.mint('run_x', 't', 5).token).not.toBe(tokens.mint('run_x', 't', 6).token);
  });

  it('masks the token in URLs', () => {
    expect(redactStreamToken('/v1/runs/r/events?after=2&stream_token=abc.def&x=1')).toBe('/v1/runs/r/events?after=2&stream_token=[REDACTED]&x=1');
  });
});
