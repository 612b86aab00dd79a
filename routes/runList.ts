import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { Orchestrator } from '../src/runs/orchestrator.ts';
import { tenantRunPrefix } from '../src/lib/tenancy.ts';
import { ServiceError } from '../src/errors.ts';
import { parseOr400 } from './http.ts';
import { RunStatusSchema } from '../src/schemas/result.ts';
import type { RunList, RunSummary } from '../src/schemas/runList.ts';
import { decodeRunCursor, encodeRunCursor } from '../src/store/runList.ts';
import type { Store } from '../src/store/types.ts';
import type { StreamTokens } from '../src/streamTokens.ts';
import { ownedRunId } from './runs.ts';

/** What the run-list and stream-token routes need. */
export interface RunListRoutesOptions {
  orchestrator: Orchestrator;
  store: Store;
  streamTokens: StreamTokens;
  /** Largest `limit` of `GET /v1/runs`. */
  maxLimit: number;
}

const ListQuery = z.strictObject({
  status: RunStatusSchema.optional(),
  tool: z.string().min(1).max(128).optional(),
  limit: z.coerce.number().int().min(1).optional(),
  after: z.string().min(1).max(512).optional(),
});

/** `GET /v1/runs` (the caller's runs, newest first) and `POST /v1/runs/{id}/stream_token`. */
export const runListRoutes: FastifyPluginAsync<RunListRoutesOptions> = async (app, { orchestrator, store, streamTokens, maxLimit }) => {
  app.get('/v1/runs', async (request): Promise<RunList> => {
    const query = parseOr400(ListQuery, request.query, 'query');
    const limit = query.limit ?? 20;
    if (limit > maxLimit) throw new ServiceError('invalid_request', `limit: at most ${maxLimit} (RUN_LIST_MAX_LIMIT)`);
    const cursor = query.after === undefined ? undefined : decodeRunCursor(query.after);
    if (cursor === null) throw new ServiceError('invalid_request', 'after: not a cursor of this API (use next_cursor of the previous page)');
    const page = await store.listRuns({ idPrefix: tenantRunPrefix(request.tenant), status: query.status, tool: query.tool, limit, cursor });
    return { object: 'list', data: page.runs.map(summary), next_cursor: page.next ? encodeRunCursor(page.next) : null };
  });

  app.post('/v1/runs/:id/stream_token', async (request) => {
    const id = ownedRunId(request);
    const run = await orchestrator.get(id);
    if (!run) throw new ServiceError('not_found', `no run with id "${id}"`);
    const { token, expiresAt } = streamTokens.mint(id, request.tenant);
    return { object: 'stream_token', run_id: id, stream_token: token, expires_at: new Date(expiresAt).toISOString() };
  });
};

function summary(run: RunSummary): RunSummary {
  return {
    id: run.id,
    object: run.object,
    status: run.status,
    tool: run.tool,
    tool_version: run.tool_version,
    created_at: run.created_at,
    started_at: run.started_at ?? null,
    completed_at: run.completed_at,
    usage: run.usage,
    cost_usd: run.cost_usd,
    metadata: run.metadata,
    error: run.error,
  };
}
