import type { RunResult, RunStatus } from '../schemas/result.ts';

/** What `Store.listRuns` is asked: runs whose id starts with `idPrefix` (a tenant's tag), filtered, newest first. */
export interface RunListQuery {
  /** Only runs whose id starts with this (the tenant's tag: see `runBelongsTo`). */
  idPrefix: string;
  status?: RunStatus | undefined;
  tool?: string | undefined;
  /** At most this many runs in the page. */
  limit: number;
  /** Where the previous page ended (its `nextCursor`). */
  cursor?: RunCursor | undefined;
}

/** A position in the newest-first order: creation time (ms), then id, both descending. */
export interface RunCursor {
  createdMs: number;
  id: string;
}

/** One page of runs and where the next one starts (null at the end). */
export interface RunPage {
  runs: RunResult[];
  next: RunCursor | null;
}

/** Creation time of a record in ms (0 when unreadable, which sorts it last). */
export function createdMs(run: Pick<RunResult, 'created_at'>): number {
  const ms = Date.parse(run.created_at);
  return Number.isFinite(ms) ? ms : 0;
}

/** True when (ms, id) comes after `cursor` in the newest-first order. */
export function isAfterCursor(ms: number, id: string, cursor: RunCursor | undefined): boolean {
  if (!cursor) return true;
  return ms < cursor.createdMs || (ms === cursor.createdMs && id < cursor.id);
}

/** Whether a record passes a query's filters. */
export function matchesRunQuery(run: Pick<RunResult, 'id' | 'status' | 'tool'>, query: RunListQuery): boolean {
  return run.id.startsWith(query.idPrefix) && (query.status === undefined || run.status === query.status) && (query.tool === undefined || run.tool === query.tool);
}

/** The opaque `next_cursor` of the HTTP answer. */
export function encodeRunCursor(cursor: RunCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdMs, cursor.id])).toString('base64url');
}

/** Reads a `next_cursor` back; null when it is not one of ours. */
export function decodeRunCursor(text: string): RunCursor | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [ms, id] = value as [unknown, unknown];
    if (typeof ms !== 'number' || !Number.isFinite(ms) || typeof id !== 'string' || id.length === 0 || id.length > 256) return null;
    return { createdMs: ms, id };
  } catch {
    return null;
  }
}
