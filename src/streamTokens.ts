import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Stream tokens: what a browser's `EventSource` (which cannot send headers)
 * shows instead of an API key, as `?stream_token=` on one run's events.
 *
 * A token is `<payload>.<mac>`, both base64url: the payload names the run,
 * its tenant and an expiry; the mac is HMAC-SHA256 of the payload under
 * `STREAM_TOKEN_SECRET`. Any replica holding the secret verifies a token
 * without a store read, and a token opens only the run it was made for.
 */
export interface StreamTokens {
  /**
   * A token for `runId` owned by `tenant`, valid from `issuedAt` (default
   * now) for the TTL, and when it expires (ms since epoch). Same inputs,
   * same token: a replayed answer carries the token the first one did.
   */
  mint(runId: string, tenant: string, issuedAt?: number): { token: string; expiresAt: number };
  /** The tenant the token was made for, or null when it is malformed, tampered with, expired or for another run. */
  verifyStreamToken(token: string, runId: string): string | null;
}

/** What {@link createStreamTokens} needs. */
export interface StreamTokenOptions {
  /** The HMAC key; unset, a random one (tokens then work on this process only). */
  secret?: string | undefined;
  ttlMs: number;
  now?: () => number;
}

/** Longest token accepted: a bound on the work one request can cause. */
const MAX_TOKEN_CHARS = 1024;

interface Payload {
  /** run id */
  r: string;
  /** tenant */
  t: string;
  /** expiry, ms since epoch */
  e: number;
}

/** Builds the token minter/verifier of one process (or of every replica sharing `secret`). */
export function createStreamTokens(options: StreamTokenOptions): StreamTokens {
  // One KeyObject for the process: createHmac with raw key bytes builds a new one per call.
  const key = createSecretKey(options.secret !== undefined ? Buffer.from(options.secret, 'utf8') : randomBytes(32));
  const now = options.now ?? Date.now;
  const mac = (payload: string) => createHmac('sha256', key).update(payload).digest();

  return {
    mint(runId, tenant, issuedAt = now()) {
      const expiresAt = issuedAt + options.ttlMs;
      const payload = Buffer.from(JSON.stringify({ r: runId, t: tenant, e: expiresAt } satisfies Payload)).toString('base64url');
      return { token: `${payload}.${mac(payload).toString('base64url')}`, expiresAt };
    },
    verifyStreamToken(token, runId) {
      if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) return null;
      const dot = token.indexOf('.');
      if (dot <= 0 || dot !== token.lastIndexOf('.')) return null;
      const payload = token.slice(0, dot);
      // Compared as text: base64url decoding ignores padding bits, so two spellings could decode to one mac.
      const given = Buffer.from(token.slice(dot + 1), 'utf8');
      const expected = Buffer.from(mac(payload).toString('base64url'), 'utf8');
      // The mac is checked before the payload is parsed: nothing unsigned is interpreted.
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      let parsed: Partial<Payload>;
      try {
        parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<Payload>;
      } catch {
        return null;
      }
      if (parsed.r !== runId || typeof parsed.t !== 'string' || typeof parsed.e !== 'number') return null;
      if (now() >= parsed.e) return null;
      return parsed.t;
    },
  };
}

/** Removes a `stream_token` query parameter's value from a URL, for anything that records URLs (logs). */
export function redactStreamToken(url: string): string {
  return url.replace(/([?&]stream_token=)[^&#]*/gi, '$1[REDACTED]');
}
