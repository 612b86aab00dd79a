import type { Redis } from 'ioredis';
import type { RunResult } from '../schemas/result.ts';
import type { RedisKeys } from './redisKeys.ts';
import { isAfterCursor, matchesRunQuery, type RunListQuery, type RunPage } from './runList.ts';

/** Index entries read per round trip of `listRuns`. */
const LIST_BATCH = 200;

/** Index entries `listRuns` looks at per call at most (other tenants' runs included). */
const LIST_SCAN_LIMIT = 5000;

/**
 * `GET /v1/runs` on the Redis store: newest first along the creation index,
 * records read in batches, filtered by the query (tenant prefix, status,
 * tool), at most LIST_SCAN_LIMIT entries looked at per call.
 */
export async function listRedisRuns(client: Redis, k: RedisKeys, query: RunListQuery): Promise<RunPage> {
  const found: RunResult[] = [];
  let position = query.cursor;
  let scanned = 0;
  while (scanned < LIST_SCAN_LIMIT) {
    const max = position ? String(position.createdMs) : '+inf';
    // Ties at the cursor's millisecond come back too; the ones already passed are skipped below.
    const raw = await client.zrevrangebyscore(k.createdIndex, max, '-inf', 'WITHSCORES', 'LIMIT', 0, LIST_BATCH);
    const entries: { id: string; ms: number }[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const id = raw[i] as string;
      const ms = Number(raw[i + 1]);
      if (isAfterCursor(ms, id, position)) entries.push({ id, ms });
    }
    if (entries.length === 0) return { runs: found, next: null };
    const records = await client.mget(entries.map((e) => k.run(e.id)));
    for (const [i, entry] of entries.entries()) {
      scanned++;
      position = { createdMs: entry.ms, id: entry.id };
      const text = records[i];
      if (text === null || text === undefined) continue;
      const run = JSON.parse(text) as RunResult;
      if (!matchesRunQuery(run, query)) continue;
      found.push(run);
      if (found.length === query.limit) return { runs: found, next: position };
    }
    if (raw.length < LIST_BATCH * 2) return { runs: found, next: null };
  }
  return { runs: found, next: position ?? null };
}
