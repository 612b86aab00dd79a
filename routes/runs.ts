import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { completedFromRecord } from '../src/runs/eventFeed.ts';
import type { Orchestrator } from '../src/runs/orchestrator.ts';
import { runBelongsTo } from '../src/lib/tenancy.ts';
import { ServiceError } from '../src/errors.ts';
import { parseOr400 } from './http.ts';
import { followInto, frame, MAX_UNSENT_BYTES, serveStream, type ReplyFollower, type StreamSlot } from './sse.ts';
import { computedOffPath } from '../src/lib/offPath.ts';
import { checkIdempotencyKey } from '../src/reliability/idempotency.ts';
import { submitRun } from '../src/runs/submit.ts';
import { TenantSlots } from '../src/lib/tenantSlots.ts';
import type { RunEvent } from '../src/schemas/events.ts';
import { RunRequestSchema } from '../src/schemas/request.ts';
import { isTerminal, type RunResult } from '../src/schemas/result.ts';
import type { Store } from '../src/store/types.ts';
import type { StreamTokens } from '../src/streamTokens.ts';
import { UnsentBudget } from '../src/lib/unsentBudget.ts';

/** What the run routes need. */
export interface RunsRoutesOptions {
  orchestrator: Orchestrator;
  store: Store;
  idempotencyTtlMs: number;
  /** Interval of `: ping` comments on idle streams. */
  heartbeatMs: number;
  /** Open streams allowed at once in this process. */
  maxStreams: number;
  /** Open streams one tenant may hold (default: maxStreams). */
  maxStreamsPerTenant?: number;
  /** Bytes a stream, and all streams together, may leave unsent (defaults: 8 MiB, unbounded). */
  maxUnsentBytesPerStream?: number;
  maxUnsentBytesTotal?: number;
  /** Redaction for events rebuilt from a record (REDACT_EVENTS); stored events are redacted when emitted. */
  redactEvent: (event: RunEvent) => RunEvent;
  /** Mints the `stream_token` of run creation answers and checks the one on `/events`. */
  streamTokens: StreamTokens;
  /** The `retry:` hint (ms) each stream opens with: how long an EventSource waits before reconnecting. */
  retryMs: number;
  now: () => number;
  /** The request schema under the config's bounds (MAX_INPUT_BYTES…); the defaults when absent. */
  requestSchema?: typeof RunRequestSchema;
}

const IdParams = z.object({ id: z.string().min(1).max(128) });
const EventsQuery = z.object({ after: z.coerce.number().int().min(0).optional(), stream_token: z.string().min(1).max(1024).optional() });
const LAST_EVENT_ID = /^\d{1,15}$/;

function wantsStream(request: FastifyRequest, stream: boolean | undefined): boolean {
  if (stream !== undefined) return stream;
  return /\btext\/event-stream\b/.test(request.headers.accept ?? '');
}

/**
 * Whether a reader of a finished run who has seen events up to `after` has
 * nothing left to get: the log holds nothing past `after`, and either its
 * event at `after` is `run_completed`, or `after` lies past the whole log
 * (or the log expired). A log whose last event is `after` but not the end
 * is one whose closing event is still being written: that reader waits.
 */
async function seenTheEnd(store: Store, id: string, after: number): Promise<boolean> {
  const tail = await store.readEvents(id, after - 1);
  if (tail.length === 0) return true;
  return tail.length === 1 && tail[0]?.seq === after && tail[0].type === 'run_completed';
}

/** The run id of the path, refusing (as unknown, not forbidden: existence is not revealed) another tenant's run. */
export function ownedRunId(request: FastifyRequest): string {
  const { id } = parseOr400(IdParams, request.params, 'path');
  if (!runBelongsTo(id, request.tenant)) throw new ServiceError('not_found', `no run with id "${id}"`);
  return id;
}

/** `POST /v1/runs`, `GET /v1/runs/{id}`, `GET /v1/runs/{id}/events`, `POST /v1/runs/{id}/cancel`. */
export const runsRoutes: FastifyPluginAsync<RunsRoutesOptions> = async (app, options) => {
  const { orchestrator, store, idempotencyTtlMs, heartbeatMs, maxStreams, redactEvent, streamTokens, retryMs, now, requestSchema = RunRequestSchema } = options;
  /** Creation answers' tokens date from the run's creation, so a replay carries the very token the first answer did. */
  const tokenFor = (runId: string, tenant: string, createdAt?: string) => streamTokens.mint(runId, tenant, createdAt ? Date.parse(createdAt) : undefined).token;
  const maxStreamsPerTenant = options.maxStreamsPerTenant ?? maxStreams;
  const unsent = new UnsentBudget(options.maxUnsentBytesPerStream ?? MAX_UNSENT_BYTES, options.maxUnsentBytesTotal);
  const submitDeps = { orchestrator, store, idempotencyTtlMs, now };
  /** Streams open in this app (bounded by `maxStreams`), and per tenant (bounded by `maxStreamsPerTenant`). */
  const streams = new TenantSlots();
  const streamSlot = (tenant: string): StreamSlot => {
    const mine = streams.of(tenant);
    if (mine >= maxStreamsPerTenant) {
      throw new ServiceError('rate_limited', `too many open streams for this tenant (${mine}, MAX_STREAMS_PER_TENANT=${maxStreamsPerTenant}); retry shortly`, {
        retryAfterMs: 1000,
        details: { limit: 'MAX_STREAMS_PER_TENANT' },
      });
    }
    if (streams.total >= maxStreams) throw new ServiceError('unavailable', `too many open streams (${streams.total}); retry shortly`, { retryAfterMs: 1000 });
    return { release: streams.take(tenant) };
  };
  app.post('/v1/runs', { sse: 'manual' }, async (request, reply) => {
    if (request.body === undefined || request.body === null || typeof request.body !== 'object' || Array.isArray(request.body)) {
      throw new ServiceError('invalid_request', 'the request body must be a JSON object');
    }
    const body = parseOr400(requestSchema, request.body, 'request body');
    const idempotencyKey = checkIdempotencyKey(request.headers['idempotency-key']);
    const stream = wantsStream(request, body.stream);
    // A stream's slot is taken synchronously and given back on every way out that does not use it.
    const slot = stream ? streamSlot(request.tenant) : null;
    let follower = null as ReplyFollower | null;
    let answer;
    try {
      answer = await submitRun(submitDeps, {
        body,
        rawBody: request.body,
        tenant: request.tenant,
        trace: request.trace,
        idempotencyKey,
        answerAtEnd: !stream && body.background !== true,
        beforeLaunch: (runId) => {
          reply.header('location', `/v1/runs/${runId}`);
          // Streamed answers carry the token as a header (CORS-exposed): events are stored, tokens never are.
          if (stream) reply.header('stream-token', tokenFor(runId, request.tenant));
          follower = stream ? followInto(store, reply, runId, 0, unsent) : null;
          return () => {
            follower?.close();
            reply.removeHeader('location');
            reply.removeHeader('stream-token');
          };
        },
      });
    } catch (error) {
      slot?.release();
      throw error;
    }
    if (answer.kind === 'replay') {
      slot?.release();
      reply.header('idempotent-replayed', 'true');
      return replay(reply, answer.result, stream, tokenFor(answer.result.id, request.tenant, answer.result.created_at));
    }
    const { handle } = answer;
    if (follower && slot) return serveStream(reply, follower, heartbeatMs, slot, redactEvent, retryMs);
    if (body.background) return reply.code(202).send({ id: handle.id, object: 'run', status: handle.record.status, stream_token: tokenFor(handle.id, request.tenant, handle.record.created_at) });
    // Minted while the run's provider request is out: an HMAC is some 30 µs of a one-replicate run's path to its request.
    const streamToken = computedOffPath(() => tokenFor(handle.id, request.tenant, handle.record.created_at));
    // Sent as soon as it is made: with the memory store, the run's last writes follow it in the same turn.
    const result = await (handle.answer ?? handle.done);
    // The record as ending the run serialized it (for the store's byte count), with the token as its last member:
    // the same bytes as serializing `{ ...result, stream_token }`, without doing it again.
    const json = handle.takeJson?.();
    if (json !== undefined) return reply.type('application/json; charset=utf-8').send(`${json.slice(0, -1)},"stream_token":${JSON.stringify(streamToken())}}`);
    return { ...result, stream_token: streamToken() };
  });

  /** A replay answers what the first request got: the result, or its whole event stream. */
  async function replay(reply: FastifyReply, result: RunResult, stream: boolean, streamToken: string) {
    if (!stream) return { ...result, stream_token: streamToken };
    reply.header('stream-token', streamToken);
    const events = await store.readEvents(result.id, 0);
    const last = events.at(-1);
    async function* frames() {
      for (const event of events) yield frame(event);
      if (last?.type !== 'run_completed') yield frame(redactEvent(completedFromRecord(result, (last?.seq ?? 0) + 1)));
    }
    reply.sse.sendHeaders();
    reply.raw.write(`retry: ${retryMs}\n\n`);
    await reply.sse.send(frames());
  }

  app.get('/v1/runs/:id', async (request) => {
    const id = ownedRunId(request);
    const run = await orchestrator.get(id);
    if (!run) throw new ServiceError('not_found', `no run with id "${id}"`);
    return run;
  });

  /**
   * The tenant a `?stream_token=` speaks for (browsers' EventSource sends no
   * headers): the protected scope asks this when a request has no
   * Authorization header; a bad token is refused, no token means the usual 401.
   */
  const streamTokenTenant = (request: FastifyRequest): string | undefined => {
    const token = (request.query as { stream_token?: unknown } | undefined)?.stream_token;
    if (token === undefined) return undefined;
    const id = (request.params as { id?: unknown } | undefined)?.id;
    const tenant = typeof token === 'string' && typeof id === 'string' ? streamTokens.verifyStreamToken(token, id) : null;
    if (tenant === null) throw new ServiceError('unauthorized', 'invalid or expired stream token for this run (mint one with POST /v1/runs/{id}/stream_token)');
    return tenant;
  };

  app.get('/v1/runs/:id/events', { sse: 'manual', config: { alternativeCredential: streamTokenTenant } }, async (request, reply) => {
    const { after: afterQuery, stream_token: streamToken } = parseOr400(EventsQuery, request.query, 'query');
    // With keys off (or a bearer key as well), the token still has to be right, and names the tenant.
    if (streamToken !== undefined) request.tenant = streamTokenTenant(request) as string;
    const id = ownedRunId(request);
    const header = request.headers['last-event-id'];
    let after = afterQuery ?? 0;
    if (typeof header === 'string' && header.trim() !== '') {
      if (!LAST_EVENT_ID.test(header.trim())) throw new ServiceError('invalid_request', 'Last-Event-ID must be an event id (a non-negative integer)');
      after = Number(header.trim());
    }
    const run = await orchestrator.get(id);
    if (!run) throw new ServiceError('not_found', `no run with id "${id}"`);
    // A reader that has seen the end is told there is nothing more (EventSource stops on 204) instead of being kept waiting.
    if (after > 0 && isTerminal(run.status) && (await seenTheEnd(store, id, after))) return reply.code(204).send();
    const slot = streamSlot(request.tenant);
    return serveStream(reply, followInto(store, reply, id, after, unsent), heartbeatMs, slot, redactEvent, retryMs);
  });

  app.post('/v1/runs/:id/cancel', async (request) => {
    const id = ownedRunId(request);
    const run = await orchestrator.cancel(id);
    if (!run) throw new ServiceError('not_found', `no run with id "${id}"`);
    return run;
  });
};
