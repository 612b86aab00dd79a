import { once } from 'node:events';
import { fastifyCors } from '@fastify/cors';
import { fastifySSE } from '@fastify/sse';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type RouteOptions } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { lazyChild } from './observability/logger.ts';
import { apiDocsRoutes } from '../routes/apiDocs.ts';
import { consoleRoutes } from '../routes/console.ts';
import { healthRoutes } from '../routes/health.ts';
import { mcpRoutes } from '../routes/mcp.ts';
import { openaiCompatRoutes } from '../routes/openaiCompat.ts';
import { runListRoutes } from '../routes/runList.ts';
import { runsRoutes } from '../routes/runs.ts';
import { toolsRoutes } from '../routes/tools.ts';
import { KeyRing } from './auth/keys.ts';
import { protectScope } from './auth/scope.ts';
import type { Config } from './config.ts';
import { Orchestrator, type RunDispatch } from './runs/orchestrator.ts';
import { systemClock, type Clock } from './lib/clock.ts';
import { PUBLIC_TENANT } from './lib/tenancy.ts';
import type { Planner } from './planning/planner.ts';
import type { Redactor } from './lib/redaction.ts';
import { traceFromHeaders } from './lib/trace.ts';
import { exceedsJsonDepth, jsonDepthError } from './lib/jsonDepth.ts';
import { SchemaValidator, schemaLimitsFrom } from './lib/validator.ts';
import { lazySchemaCompilers } from '../routes/lazyCompilers.ts';
import { ServiceError, StartupError } from './errors.ts';
import { clientErrorHandler, frameworkErrorHandler, sendError, truncateEcho } from '../routes/http.ts';
import type { Metrics } from './observability/metrics.ts';
import type { ModelGateway } from './providers/gateway.ts';
import type { RunEvent } from './schemas/events.ts';
import { requestBoundsFrom, runRequestSchema } from './schemas/request.ts';
import type { Store } from './store/types.ts';
import { corsOptions, escapeLineSeparators } from './browsers.ts';
import { createStreamTokens } from './streamTokens.ts';
import type { Tracing } from './observability/tracing.ts';
import type { ToolRegistry } from './toolkit/registry.ts';

/** Everything the app is built from; tests pass their own. */
export interface AppDeps {
  store: Store;
  gateway: ModelGateway;
  registry: ToolRegistry;
  planner: Planner;
  logger: Logger;
  metrics: Metrics;
  redact: Redactor;
  /** Time for records, deadlines, tokens and event stamps (default: the wall clock). */
  clock?: Clock;
  /** The shared run queue (STORE=redis, src/server.ts); without it runs execute where they were accepted. */
  dispatch?: RunDispatch;
  /** Spans of runs (src/observability/tracing.ts); default: none recorded. */
  tracing?: Tracing;
}

/** One registered route, as the route table lists it. */
export interface RouteEntry {
  method: string;
  url: string;
  /** Registered inside a protected scope (auth and rate limit apply). */
  protected: boolean;
}

/** Path prefixes whose routes must sit in the protected scope; buildApp refuses to start otherwise. */
export const PROTECTED_PREFIXES = ['/v1', '/mcp'] as const;

const routeTables = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Every route of an app built by {@link buildApp} (HEAD routes included), for tests and tooling. */
export function routeTable(app: FastifyInstance): readonly RouteEntry[] {
  return routeTables.get(app) ?? [];
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
  const clock = deps.clock ?? systemClock;
  const now = clock.now;
  const timeouts = httpTimeouts(config);
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Runs log their own start and end with ids; per-request lines would double the log volume.
    logController: new LogController({ disableRequestLogging: true }),
    // request.log is built on first use: most requests never log, and a pino child per request costs.
    childLoggerFactory: (logger, bindings, options) => (options.level ? logger.child(bindings, options) : (lazyChild(logger as Logger, bindings) as FastifyBaseLogger)),
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Ajv and fast-json-stringify only once a route declares a Fastify schema (none does; /docs' Swagger UI).
    schemaController: { compilersFactory: lazySchemaCompilers() },
    return503OnClosing: true,
    // Run ids and the like are opaque; no trailing-slash or case games.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: config.HTTP_MAX_PARAM_LENGTH },
    // Slow clients: headers, whole request (body included), socket inactivity, idle keep-alive.
    requestTimeout: timeouts.requestTimeout,
    connectionTimeout: timeouts.connectionTimeout,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    http: {
      headersTimeout: timeouts.headersTimeout,
      requestTimeout: timeouts.requestTimeout,
      maxHeaderSize: config.HTTP_MAX_HEADER_BYTES,
      // Node checks the two timeouts above only this often (30 s by default).
      connectionsCheckingInterval: timeouts.checkingInterval,
    },
    frameworkErrors: frameworkErrorHandler(config.HTTP_MAX_PARAM_LENGTH),
    clientErrorHandler: clientErrorHandler(deps.logger),
  });

  // The route table, and which routes are protected: at ready, a /v1 route outside the protected scope is a startup error.
  const routes: RouteEntry[] = [];
  const protectedRoutes = new WeakSet<RouteOptions>();
  routeTables.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, get protected() { return protectedRoutes.has(route); } });
  });
  app.addHook('onReady', async () => {
    const open = routes.filter((r) => !r.protected && PROTECTED_PREFIXES.some((p) => r.url === p || r.url.startsWith(`${p}/`)));
    if (open.length > 0) throw new StartupError('routes_unprotected', `routes outside the authenticated scope: ${open.map((r) => `${r.method} ${r.url}`).join(', ')}`);
  });

  const orchestrator = new Orchestrator({
    store: deps.store,
    registry: deps.registry,
    planner: deps.planner,
    gateway: deps.gateway,
    validator: new SchemaValidator(undefined, schemaLimitsFrom(config)),
    metrics: deps.metrics,
    logger: deps.logger,
    redact: deps.redact,
    redactEvents: config.REDACT_EVENTS,
    redactResults: config.REDACT_RESULTS,
    limits: {
      maxReplicates: config.MAX_REPLICATES,
      maxTimeoutMs: config.MAX_TIMEOUT_MS,
      defaultTimeoutMs: config.DEFAULT_TIMEOUT_MS,
      defaultModel: config.DEFAULT_MODEL,
      maxConcurrency: config.MAX_CONCURRENCY,
      maxActiveRuns: config.MAX_ACTIVE_RUNS,
      maxQueuedRuns: config.MAX_QUEUED_RUNS,
      maxRunsPerTenant: config.MAX_RUNS_PER_TENANT,
      outputTokensReserved: config.OUTPUT_TOKENS_RESERVED,
      defaultMaxTokensPerRun: config.DEFAULT_MAX_TOKENS_PER_RUN,
      maxTokensPerRun: config.MAX_TOKENS_PER_RUN,
      maxCostUsdPerRun: config.MAX_COST_USD_PER_RUN,
    },
    clock,
    ...(deps.dispatch ? { dispatch: deps.dispatch } : {}),
    ...(deps.tracing ? { tracing: deps.tracing } : {}),
    memory: { maxBytes: config.MEMORY_MAX_BYTES, maxEntries: config.MEMORY_MAX_ENTRIES, graceMs: config.MEMORY_TTL_GRACE_MS },
  });

  const keys = new KeyRing([...config.API_KEYS, ...config.API_KEYS_FILE]);
  if (keys.enabled) deps.logger.info(keys.counts, 'API key authentication on for /v1');
  else deps.logger.warn('NO API KEYS CONFIGURED (API_KEYS, API_KEYS_FILE): /v1 is open to anyone who can reach this port, and every caller sees every run');

  if (config.STREAM_TOKEN_SECRET === undefined && config.STORE === 'redis') {
    deps.logger.warn('STREAM_TOKEN_SECRET is unset: stream tokens made here are accepted by this replica only; give every replica the same secret');
  }
  const streamTokens = createStreamTokens({ secret: config.STREAM_TOKEN_SECRET, ttlMs: config.STREAM_TOKEN_TTL_MS, now });
  // CORS first: its headers are on every answer, errors (401) and preflights included, so a page can read them.
  const cors = corsOptions(config);
  if (cors) await app.register(fastifyCors, cors);

  app.decorateRequest('trace', null as never);
  app.decorateRequest('tenant', PUBLIC_TENANT);
  // Hooks that never wait are written with `done`, not `async`: Fastify then runs the next step at once, with no promise and no extra turn per request.
  app.addHook('onRequest', (request, reply, done) => {
    const requestId = request.headers['x-request-id'];
    const traceparent = request.headers.traceparent;
    request.trace = traceFromHeaders(typeof traceparent === 'string' ? traceparent : undefined, typeof requestId === 'string' ? requestId : undefined);
    reply.header('x-request-id', request.trace.request_id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    deps.metrics.httpRequests.inc({ route: request.routeOptions.url ?? 'unknown', method: request.method, status: String(reply.statusCode) });
    done();
  });

  app.setErrorHandler((error: FastifyError | ServiceError, request, reply) => {
    const mapped = toServiceError(error);
    if (mapped.status >= 500) request.log.error({ err: error, trace_id: request.trace?.trace_id, request_id: request.trace?.request_id }, 'request failed');
    if (reply.sent || reply.raw.headersSent) return;
    return sendError(request, reply, mapped);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, new ServiceError('not_found', `no route ${truncateEcho(request.method, 20)} ${truncateEcho(request.url.split('?')[0] ?? '')}`)),
  );

  // An empty JSON body (a bodiless POST /cancel from curl -H 'content-type: application/json') is no body, not an error.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    if (exceedsJsonDepth(text, config.MAX_JSON_DEPTH)) return done(jsonDepthError(text, config.MAX_JSON_DEPTH), undefined);
    return parseJson(request, text, done);
  });
  // Heartbeats are ours (`: ping`, as the contract says), so the plugin's are off.
  await app.register(fastifySSE, { heartbeatInterval: 0, serializer: (data: unknown) => escapeLineSeparators(JSON.stringify(data)) });

  // Rate-limit counters are shared by replicas when they share a store.
  const rateLimitRedis = config.STORE === 'redis' && config.RATE_LIMIT_MAX > 0 ? await rateLimitClient(config, deps.logger) : undefined;
  if (rateLimitRedis) app.addHook('onClose', async () => void (await rateLimitRedis.quit().catch(() => rateLimitRedis.disconnect())));

  // Every /v1 route (and /mcp) is registered inside this scope: authentication and the
  // rate limit are hooks of the routes themselves, whatever spelling of the path reached them.
  await app.register(async (v1) => {
    await protectScope(v1, {
      keys,
      rateLimit: { max: config.RATE_LIMIT_MAX, windowMs: config.RATE_LIMIT_WINDOW_MS, redis: rateLimitRedis, redisPrefix: config.REDIS_PREFIX },
      onProtectedRoute: (route) => void protectedRoutes.add(route),
    });
    await v1.register(runsRoutes, {
      orchestrator,
      store: deps.store,
      idempotencyTtlMs: config.IDEMPOTENCY_TTL_MS,
      heartbeatMs: config.SSE_HEARTBEAT_MS,
      maxStreams: config.MAX_STREAMS,
      maxStreamsPerTenant: config.MAX_STREAMS_PER_TENANT,
      maxUnsentBytesPerStream: config.MAX_UNSENT_BYTES_PER_STREAM,
      maxUnsentBytesTotal: config.MAX_UNSENT_BYTES_TOTAL,
      redactEvent: config.REDACT_EVENTS ? (event) => deps.redact(event, 'event') as RunEvent : (event) => event,
      streamTokens,
      retryMs: config.SSE_RETRY_MS,
      now,
      requestSchema: runRequestSchema(requestBoundsFrom(config)),
    });
    await v1.register(runListRoutes, { orchestrator, store: deps.store, streamTokens, maxLimit: config.RUN_LIST_MAX_LIMIT });
    await v1.register(toolsRoutes, { registry: deps.registry, provider: deps.gateway.provider, defaultModel: config.DEFAULT_MODEL });
    const protocols = { orchestrator, registry: deps.registry, store: deps.store, heartbeatMs: config.SSE_HEARTBEAT_MS };
    await v1.register(mcpRoutes, { ...protocols, bodyLimitBytes: config.BODY_LIMIT_BYTES });
    const gateway = deps.gateway;
    await v1.register(openaiCompatRoutes, {
      ...protocols,
      defaultModel: config.DEFAULT_MODEL,
      maxReplicates: config.MAX_REPLICATES,
      providers: () => gateway.catalogue?.() ?? [{ name: gateway.provider, default: true, base_url: '', api: config.OPENAI_API, models: [config.DEFAULT_MODEL] }],
    });
  });
  // Outside the protected scope: the API description, the console, health and metrics (open, not rate limited).
  await app.register(apiDocsRoutes);
  await app.register(consoleRoutes);
  await app.register(healthRoutes, { store: deps.store, orchestrator, gateway: deps.gateway, metrics: deps.metrics });
  return { app, orchestrator };
}

/** The server timeouts of a config; Node checks header and request timeouts every `checkingInterval` ms. */
export function httpTimeouts(config: Config) {
  const headersTimeout = config.HTTP_HEADERS_TIMEOUT_MS;
  const requestTimeout = config.HTTP_REQUEST_TIMEOUT_MS;
  // A waiting (non-streamed) POST sends nothing until its run ends: the idle bound must outlast the longest run.
  const connectionTimeout = config.HTTP_IDLE_TIMEOUT_MS ?? config.MAX_TIMEOUT_MS + 60_000;
  const checkingInterval = Math.max(10, Math.min(1000, Math.floor(Math.min(headersTimeout, requestTimeout) / 4)));
  return { headersTimeout, requestTimeout, connectionTimeout, checkingInterval };
}

/**
 * The Redis connection of the shared rate limit, connected (or given up on
 * after 3 s: then it keeps reconnecting in the background). While it is down
 * the limiter lets requests through; the store itself answers 503.
 */
async function rateLimitClient(config: Config, logger: Logger): Promise<Redis> {
  // ioredis is loaded only by a configuration that uses Redis (STORE=redis).
  const { Redis } = await import('ioredis');
  const client = new Redis(config.REDIS_URL, {
    connectTimeout: 3000,
    // A stalled Redis costs a request this before the store's own 1.5 s timeout: both stay within 3 s.
    commandTimeout: 500,
    // Not connected: fail the count at once (the request goes through) rather than queue it behind reconnects.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
  // Without an error listener ioredis prints to the console on every failed reconnect.
  client.on('error', (err: Error) => logger.warn({ err }, 'rate-limit redis connection error'));
  let timer: NodeJS.Timeout | undefined;
  const ready = await Promise.race([
    // once() rejects on the first 'error' (say, connection refused): not reachable now.
    once(client, 'ready').then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(resolve, 3000, false))),
  ]);
  clearTimeout(timer);
  if (!ready) logger.warn('rate-limit redis not reachable yet: requests are not counted until it is');
  return client;
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
