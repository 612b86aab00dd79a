import { createHash, randomUUID } from 'node:crypto';

/** The tenant of unauthenticated deployments: its runs are reachable by anyone who can reach the API. */
export const PUBLIC_TENANT = 'public';

/**
 * The tag a tenant's run ids carry: 24 hex digits of the SHA-256 of the
 * tenant name. Fixed length and charset whatever the name, and the same for
 * every key of the tenant, so rotated keys see the same runs.
 */
export function tenantTag(tenant: string): string {
  return createHash('sha256').update(`tenant:${tenant}`, 'utf8').digest('hex').slice(0, 24);
}

/** A run id; a tenant's runs carry its tag so {@link runBelongsTo} can check ownership without a lookup. */
export function newRunId(tenant: string | undefined): string {
  const random = randomUUID().replaceAll('-', '');
  return tenant === undefined || tenant === PUBLIC_TENANT ? `run_${random}` : `run_${tenantTag(tenant)}_${random}`;
}

/** Whether `tenant` may see run `id` (always, when auth is off). */
export function runBelongsTo(id: string, tenant: string): boolean {
  return tenant === PUBLIC_TENANT || id.startsWith(`run_${tenantTag(tenant)}_`);
}

/** The id prefix of every run `tenant` may see (all runs, when auth is off). */
export function tenantRunPrefix(tenant: string): string {
  return tenant === PUBLIC_TENANT ? 'run_' : `run_${tenantTag(tenant)}_`;
}
