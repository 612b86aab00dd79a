import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.ts';
import { tenantOfRun } from '../../src/store/types.ts';
import { describeStoreContract } from './contract.ts';
import { idemRecord, makeRun, replicateDone, testLimits } from './fixtures.ts';

describeStoreContract('MemoryStore', async (limits) => new MemoryStore(limits));

/** A run id of `tenant`, as the orchestrator makes them. */
function idOf(tenant: string): string {
  return `run_${tenant}_${randomBytes(16).toString('hex')}`;
}

describe('MemoryStore space per tenant', () => {
  const stores: MemoryStore[] = [];
  const fresh = (overrides: Parameters<typeof testLimits>[0]) => {
    const store = new MemoryStore(testLimits(overrides));
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  it('reads the tenant from run ids', () => {
    expect(tenantOfRun(idOf('acme'))).toBe('acme');
    expect(tenantOfRun(`run_${randomBytes(16).toString('hex')}`)).toBe('public');
  });

  it("evicts the flooding tenant's runs, not another tenant's, when the count is reached", async () => {
    const store = fresh({ maxRuns: 20 });
    const b = makeRun({ id: idOf('bee'), status: 'succeeded' });
    await store.saveRun(b);
    const flood = [];
    for (let i = 0; i < 400; i++) {
      const run = makeRun({ id: idOf('ant'), status: 'succeeded' });
      flood.push(run.id);
      await store.saveRun(run);
    }
    expect(await store.getRun(b.id)).toEqual(b);
    expect(store.size.runs).toBe(20);
    expect(await store.getRun(flood[0] as string)).toBeNull();
    expect(await store.getRun(flood.at(-1) as string)).not.toBeNull();
  });

  it('evicts by bytes, from the tenant holding the most, and never a running run', async () => {
    const store = fresh({ maxStoreBytes: 200_000 });
    const small = makeRun({ id: idOf('bee'), status: 'succeeded' });
    await store.saveRun(small);
    const running = makeRun({ id: idOf('ant'), status: 'running', output: 'y'.repeat(30_000) });
    await store.saveRun(running);
    for (let i = 0; i < 30; i++) {
      const run = makeRun({ id: idOf('ant'), status: 'running' });
      await store.saveRun(run);
      store.appendEvent(replicateDone(run.id, 1, 0, 'z'.repeat(20_000)));
      await store.saveRun({ ...run, status: 'succeeded' });
    }
    const { runs, idempotency } = store.bytes;
    expect(runs + idempotency).toBeLessThanOrEqual(200_000);
    expect(await store.getRun(small.id)).toEqual(small);
    expect(await store.getRun(running.id)).toEqual(running);
  });

  it('never evicts an idempotency record before its TTL: over its share a tenant gets 429, and others keep theirs', async () => {
    const store = fresh({ maxIdempotencyKeys: 10, maxIdempotencyKeysPerTenant: 5 });
    const bee = idOf('bee');
    expect(await store.claimIdempotency('bee:k1', idemRecord(bee), 60_000)).toEqual({ claimed: true });
    for (let i = 0; i < 5; i++) expect(await store.claimIdempotency(`ant:k${i}`, idemRecord(idOf('ant')), 60_000)).toEqual({ claimed: true });
    const refused = await store.claimIdempotency('ant:k5', idemRecord(idOf('ant')), 60_000).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'rate_limited', status: 429, details: { limit: 'MAX_IDEMPOTENCY_KEYS_PER_TENANT' } });
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(50_000);
    // The other tenant's record is still there: its retry replays.
    expect(await store.claimIdempotency('bee:k1', idemRecord(idOf('bee'), 'fp-2'), 60_000)).toEqual({ claimed: false, record: idemRecord(bee) });
    expect(await store.claimIdempotency('bee:k2', idemRecord(idOf('bee')), 60_000)).toEqual({ claimed: true });
  });

  it('refuses new keys with 503 when the whole idempotency space is full, and takes them again once records expire', async () => {
    let now = 1_000_000;
    const store = new MemoryStore(testLimits({ maxIdempotencyKeys: 4, maxIdempotencyKeysPerTenant: 4 }), () => now);
    stores.push(store);
    for (const t of ['a', 'b', 'c', 'd']) await store.claimIdempotency(`${t}:k`, idemRecord(idOf(t)), 10_000);
    await expect(store.claimIdempotency('e:k', idemRecord(idOf('e')), 10_000)).rejects.toMatchObject({ code: 'unavailable', status: 503 });
    now += 10_001;
    expect(await store.claimIdempotency('e:k', idemRecord(idOf('e')), 10_000)).toEqual({ claimed: true });
  });
});
