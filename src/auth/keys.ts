import { createHash, timingSafeEqual } from 'node:crypto';
import { ServiceError } from '../errors.ts';

/**
 * One accepted API key: only its SHA-256 digest is kept (the raw key never
 * leaves config parsing), and the tenant it authenticates as.
 */
export interface ApiKeyEntry {
  /** SHA-256 of the key, 32 bytes. */
  readonly digest: Buffer;
  /** The tenant the key speaks for: named in the entry, else derived from the digest. */
  readonly tenant: string;
}

/** A tenant name given in `key:tenant`: short, printable, safe in Redis keys and logs. */
export const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Reserved: the tenant of unauthenticated deployments (it reaches every run). */
const RESERVED_TENANTS = new Set(['public']);

const SHA256_HEX = /^[0-9a-f]{64}$/i;

/** SHA-256 of a key, as stored and compared. */
export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** The tenant of a key given without one: 24 hex digits of its digest (stable across restarts and replicas). */
export function derivedTenant(digest: Buffer): string {
  return digest.subarray(0, 12).toString('hex');
}

/** Splits `value[:tenant]` at the last colon and checks the tenant; `where` names the entry in errors. */
function splitTenant(entry: string, where: string): { value: string; tenant: string | undefined } {
  const colon = entry.lastIndexOf(':');
  if (colon < 0) return { value: entry, tenant: undefined };
  const value = entry.slice(0, colon).trim();
  const tenant = entry.slice(colon + 1).trim();
  if (value === '') throw new Error(`${where}: empty key before ":"`);
  if (!TENANT_NAME.test(tenant)) throw new Error(`${where}: tenant must match ${TENANT_NAME.source}`);
  if (RESERVED_TENANTS.has(tenant)) throw new Error(`${where}: tenant "${tenant}" is reserved`);
  return { value, tenant };
}

/**
 * Parses `API_KEYS`: comma-separated `key` or `key:tenant` entries (split at
 * the last colon, so a key that contains a colon must name its tenant).
 * Throws with the entry's position, never its text (it is a secret).
 */
export function parseApiKeys(text: string): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  text.split(',').forEach((raw, index) => {
    const entry = raw.trim();
    if (entry === '') return;
    const { value, tenant } = splitTenant(entry, `entry ${index + 1}`);
    const digest = keyDigest(value);
    entries.push({ digest, tenant: tenant ?? derivedTenant(digest) });
  });
  return entries;
}

/**
 * Parses an `API_KEYS_FILE`: one `sha256hex[:tenant]` per line (the hex
 * SHA-256 of the key, e.g. `printf %s "$KEY" | sha256sum`); blank lines and
 * lines starting with `#` are skipped.
 */
export function parseApiKeysFile(text: string): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const { value, tenant } = splitTenant(line, `line ${index + 1}`);
    if (!SHA256_HEX.test(value)) throw new Error(`line ${index + 1}: expected 64 hex digits (the SHA-256 of a key)`);
    const digest = Buffer.from(value, 'hex');
    entries.push({ digest, tenant: tenant ?? derivedTenant(digest) });
  });
  return entries;
}

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;
/** Longer tokens are refused without hashing (the header itself is bounded by HTTP_MAX_HEADER_BYTES). */
const MAX_TOKEN_CHARS = 4096;

/**
 * The accepted keys. {@link KeyRing.authenticate} hashes the presented
 * token and compares it with every stored digest in constant time, without
 * stopping at a match, so timing tells nothing about which key (or how
 * much of one) matched.
 */
export class KeyRing {
  readonly #entries: readonly ApiKeyEntry[];

  constructor(entries: readonly ApiKeyEntry[]) {
    this.#entries = entries;
  }

  /** Whether any key is configured (else the API is open). */
  get enabled(): boolean {
    return this.#entries.length > 0;
  }

  /** Number of keys and of distinct tenants (for the startup log line). */
  get counts(): { keys: number; tenants: number } {
    return { keys: this.#entries.length, tenants: new Set(this.#entries.map((e) => e.tenant)).size };
  }

  /** The tenant of an `Authorization: Bearer <key>` header, or 401 `unauthorized`. */
  authenticate(header: string | undefined): string {
    const match = BEARER.exec(header ?? '');
    if (!match) throw new ServiceError('unauthorized', 'missing bearer token (Authorization: Bearer <key>)');
    const token = match[1] as string;
    if (token.length > MAX_TOKEN_CHARS) throw new ServiceError('unauthorized', 'invalid API key');
    const digest = keyDigest(token);
    let tenant: string | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(entry.digest, digest) && tenant === undefined) tenant = entry.tenant;
    }
    if (tenant === undefined) throw new ServiceError('unauthorized', 'invalid API key');
    return tenant;
  }
}
