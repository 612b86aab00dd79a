import { createHash, timingSafeEqual } from 'node:crypto';
import { fastifyCors } from '@fastify/cors';
import { fastifySSE } from '@fastify/sse';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { apiDocsRoutes } from '../routes/apiDocs.ts';
import { consoleRoutes } from '../routes/console.ts';
import { healthRoutes } from '../routes/health.ts';
import { runListRoutes } from '../routes/runList.ts';
import { runsRoutes } from '../routes/runs.ts';
import { toolsRoutes } from '../routes/tools.ts';
import type { Config } from './config.ts';
import { Orchestrator, PUBLIC_TENANT } from './core/orchestrator.ts';
import type { Planner } from './core/planner.ts';
import type { Redactor } from './core/redaction.ts';
import { traceFromHeaders } from './core/trace.ts';
import { SchemaValidator } from './core/validator.ts';
import { ServiceError } from './errors.ts';
import { sendError } from './http.ts';
import type { Metrics } from './observability/metrics.ts';
import type { ModelGateway } from './providers/gateway.ts';
import type { RunEvent } from './schemas/events.ts';
import type { Store } from './store/types.ts';
import { corsOptions, escapeLineSeparators } from './browsers.ts';
import { createStreamTokens } from './streamTokens.ts';
import type { ToolRegistry } from './tools/registry.ts';

/** Everything the app is built from; tests pass their own. */
export interface AppDeps {
  store: Store;
  gateway: ModelGateway;
  registry: ToolRegistry;
  planner: Planner;
  logger: Logger;
  metrics: Metrics;
  redact: Redactor;
  now?: () => number;
}

/** The app plus the pieces callers (server, tests, benchmarks) reach for. */
export interface BuiltApp {
  app: FastifyInstance;
  orchestrator: Orchestrator;
}

/**
 * Builds the Fastify app (does not listen). Routes only translate HTTP; the
 * orchestrator owns runs. Every error leaves through one handler in the
 * contract's envelope.
 */
export async function buildApp(config: Config, deps: AppDeps): Promise<BuiltApp> {
  const now = deps.now ?? Date.now;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Runs log their own start and end with ids; per-request lines would double the log volume.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    return503OnClosing: true,
    // Run ids and the like are opaque; no trailing-slash or case games.
    routerOptions: { ignoreTrailingSlash: true },
  });

  const orchestrator = new Orchestrator({
    store: deps.store,
    registry: deps.registry,
    planner: deps.planner,
    gateway: deps.gateway,
    validator: new SchemaValidator(),
    metrics: deps.metrics,
    logger: deps.logger,
    redact: deps.redact,
    redactEvents: config.REDACT_EVENTS,
    limits: {
      maxReplicates: config.MAX_REPLICATES,
      maxTimeoutMs: config.MAX_TIMEOUT_MS,
      defaultTimeoutMs: config.DEFAULT_TIMEOUT_MS,
      defaultModel: config.DEFAULT_MODEL,
      maxConcurrency: config.MAX_CONCURRENCY,
      maxActiveRuns: config.MAX_ACTIVE_RUNS,
      maxQueuedRuns: config.MAX_QUEUED_RUNS,
    },
    // Only an injected clock replaces the orchestrator's own (sub-millisecond event timestamps).
    ...(deps.now ? { now: deps.now } : {}),
  });

  const apiKeys = (config.API_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
    .map((k) => createHash('sha256').update(k).digest());

  if (config.STREAM_TOKEN_SECRET === undefined && config.STORE === 'redis') {
    deps.logger.warn('STREAM_TOKEN_SECRET is unset: stream tokens made here are accepted by this replica only; give every replica the same secret');
  }
  const streamTokens = createStreamTokens({ secret: config.STREAM_TOKEN_SECRET, ttlMs: config.STREAM_TOKEN_TTL_MS, now });
  // CORS first: its headers are on every answer, errors (401) and preflights included, so a page can read them.
  const cors = corsOptions(config);
  if (cors) await app.register(fastifyCors, cors);

  app.decorateRequest('trace', null as never);
  app.decorateRequest('tenant', PUBLIC_TENANT);
  app.addHook('onRequest', async (request, reply) => {
    const requestId = request.headers['x-request-id'];
    const traceparent = request.headers.traceparent;
    request.trace = traceFromHeaders(typeof traceparent === 'string' ? traceparent : undefined, typeof requestId === 'string' ? requestId : undefined);
    reply.header('x-request-id', request.trace.request_id);
    // Exception (browsers, CONTRACT v1.1): a run's events with `?stream_token=` skip the bearer check; the route verifies the token.
    // CORS preflights carry no credentials by design. Both are matched on the route, not on the URL's spelling.
    if (request.method === 'OPTIONS' && request.routeOptions.url === '*' && cors) return;
    if (request.method === 'GET' && request.routeOptions.url === '/v1/runs/:id/events' && typeof (request.query as { stream_token?: unknown }).stream_token === 'string') return;
    if (apiKeys.length > 0 && request.url.startsWith('/v1/')) request.tenant = authenticate(request.headers.authorization, apiKeys);
  });
  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.httpRequests.inc({ route: request.routeOptions.url ?? 'unknown', method: request.method, status: String(reply.statusCode) });
  });

  app.setErrorHandler((error: FastifyError | ServiceError, request, reply) => {
    const mapped = toServiceError(error);
    if (mapped.status >= 500) request.log.error({ err: error, trace_id: request.trace?.trace_id, request_id: request.trace?.request_id }, 'request failed');
    if (reply.sent || reply.raw.headersSent) return;
    return sendError(request, reply, mapped);
  });
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new ServiceError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)));

  // An empty JSON body (a bodiless POST /cancel from curl -H 'content-type: application/json') is no body, not an error.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    return parseJson(request, text, done);
  });
  // Heartbeats are ours (`: ping`, as the contract says), so the plugin's are off.
  await app.register(fastifySSE, { heartbeatInterval: 0, serializer: (data: unknown) => escapeLineSeparators(JSON.stringify(data)) });
  await app.register(runsRoutes, {
    orchestrator,
    store: deps.store,
    idempotencyTtlMs: config.IDEMPOTENCY_TTL_MS,
    heartbeatMs: config.SSE_HEARTBEAT_MS,
    maxStreams: config.MAX_STREAMS,
    redactEvent: config.REDACT_EVENTS ? (event) => deps.redact(event, 'event') as RunEvent : (event) => event,
    streamTokens,
    retryMs: config.SSE_RETRY_MS,
    now,
  });
  await app.register(runListRoutes, { orchestrator, store: deps.store, streamTokens, maxLimit: config.RUN_LIST_MAX_LIMIT });
  await app.register(apiDocsRoutes);
  await app.register(consoleRoutes);
  await app.register(toolsRoutes, { registry: deps.registry, provider: deps.gateway.provider, defaultModel: config.DEFAULT_MODEL });
  await app.register(healthRoutes, { store: deps.store, orchestrator, gateway: deps.gateway, metrics: deps.metrics });
  return { app, orchestrator };
}

/** Checks a bearer token against the configured keys; the tenant is a hash of the key. */
function authenticate(header: string | undefined, keys: Buffer[]): string {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match) throw new ServiceError('unauthorized', 'missing bearer token (Authorization: Bearer <key>)');
  const digest = createHash('sha256').update(match[1] as string).digest();
  if (!keys.some((k) => timingSafeEqual(k, digest))) throw new ServiceError('unauthorized', 'invalid API key');
  return digest.subarray(0, 12).toString('hex');
}

/** Fastify's own errors (bad JSON, body too large, wrong content type) mapped onto the contract's codes. */
function toServiceError(error: FastifyError | ServiceError): ServiceError {
  if (error instanceof ServiceError) return error;
  const code = (error as FastifyError).code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ServiceError('payload_too_large', 'request body is too large');
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ServiceError('invalid_request', 'Content-Type must be application/json');
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new ServiceError('invalid_request', 'the request body must be a JSON object, got an empty body');
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError) {
    return new ServiceError('invalid_request', `the request body is not valid JSON: ${error.message}`);
  }
  const status = (error as FastifyError).statusCode;
  if (status === 404) return new ServiceError('not_found', error.message);
  if (status === 406) return new ServiceError('invalid_request', error.message, { status: 406 });
  if (status !== undefined && status >= 400 && status < 500) return new ServiceError('invalid_request', error.message);
  return new ServiceError('internal', 'internal error', { cause: error });
}
