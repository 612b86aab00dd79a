import { fastifyRateLimit } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Redis } from 'ioredis';
import { PUBLIC_TENANT } from '../lib/tenancy.ts';
import { ServiceError } from '../errors.ts';
import type { KeyRing } from './keys.ts';

/**
 * A credential other than the bearer key that a route accepts (e.g. a stream
 * token in the query of `GET /v1/runs/{id}/events`). The route declares it
 * in its `config.alternativeCredential`; the scope's auth hook calls it only
 * when the request carries no `Authorization` header. It returns the tenant
 * the credential speaks for, or `undefined` when there is none (then the
 * usual 401 follows); it throws a ServiceError to refuse a bad one.
 */
export type AlternativeCredential = (request: FastifyRequest) => string | undefined | Promise<string | undefined>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** See {@link AlternativeCredential}. Only honoured on routes inside a protected scope. */
    alternativeCredential?: AlternativeCredential;
  }
}

/** Rate limit of a protected scope (see {@link protectScope}). */
export interface RateLimitOptions {
  /** Requests per window per tenant (per client IP when auth is off, and for requests refused for their credentials); 0 turns the limit off. */
  max: number;
  windowMs: number;
  /** Shared counters across replicas (STORE=redis); without it, counters are per process. */
  redis?: Redis | undefined;
  /** Key prefix of the Redis counters. */
  redisPrefix?: string;
}

/** What {@link protectScope} needs. */
export interface ProtectOptions {
  keys: KeyRing;
  rateLimit: RateLimitOptions;
  /** Called with every route registered in the scope (the app checks at ready that no /v1 route escaped). */
  onProtectedRoute?: (route: RouteOptions) => void;
}

/**
 * Makes an encapsulated Fastify scope authenticated and rate limited: an
 * `onRequest` hook resolves the caller's tenant from the bearer key for
 * every route registered in the scope (however the client spelled the
 * path: the hook belongs to the route, not to a URL prefix), then the
 * per-tenant rate limit applies. Call it first inside the plugin that holds
 * the routes:
 *
 * ```ts
 * await app.register(async (v1) => {
 *   await protectScope(v1, options);
 *   await v1.register(runsRoutes, …);   // every /v1 route (and /mcp) goes here
 * });
 * ```
 */
export async function protectScope(scope: FastifyInstance, options: ProtectOptions): Promise<void> {
  const { keys } = options;
  const { max, windowMs, redis, redisPrefix } = options.rateLimit;
  if (options.onProtectedRoute) scope.addHook('onRoute', options.onProtectedRoute);

  // With a rate limit, a refused request is counted before it is answered: its refusal waits in `refusals` while the
  // limiter (a later onRequest hook) counts it against the client's address, and is sent by the preParsing hook below,
  // before any body is read. Guessing keys then costs a 429 once the address has spent its budget, like any flood.
  // A refusal of the bearer key carries a `WWW-Authenticate` challenge, set when the refusal is sent (a 429 sends none).
  type Refusal = { error: Error; challenge: boolean };
  const refusals = new WeakMap<FastifyRequest, Refusal>();
  const send = (reply: FastifyReply, refusal: Refusal): Error => {
    if (refusal.challenge) reply.header('www-authenticate', 'Bearer');
    return refusal.error;
  };
  const outcome = (request: FastifyRequest, reply: FastifyReply, error: Error | undefined, challenge = false): Error | undefined => {
    if (error === undefined) return undefined;
    if (max <= 0) return send(reply, { error, challenge });
    refusals.set(request, { error, challenge });
    return undefined;
  };

  // A `done` hook, not an `async` one: the usual request (a bearer key, or keys off) is decided with no promise and no extra turn.
  scope.addHook('onRequest', (request, reply, done) => {
    if (!keys.enabled) return done();
    const header = request.headers.authorization;
    const alternative = request.routeOptions.config.alternativeCredential;
    if (header !== undefined || alternative === undefined) return done(outcome(request, reply, bearerRefusal(keys, request, header), true));
    let tenant: ReturnType<AlternativeCredential>;
    try {
      tenant = alternative(request);
    } catch (error) {
      return done(outcome(request, reply, error as Error));
    }
    const accept = (found: string | undefined) => {
      if (found === undefined) return done(outcome(request, reply, bearerRefusal(keys, request, header), true));
      request.tenant = found;
      done();
    };
    if (tenant instanceof Promise) tenant.then(accept, (error: unknown) => done(outcome(request, reply, error as Error)));
    else accept(tenant);
  });

  if (max <= 0) return;
  scope.addHook('preParsing', (request, reply, payload, done) => {
    const refusal = refusals.get(request);
    if (refusal === undefined) return done(null, payload);
    done(send(reply, refusal));
  });
  await scope.register(fastifyRateLimit, {
    max,
    timeWindow: windowMs,
    // Route-level onRequest hooks run after the scope's, so the tenant is known here.
    hook: 'onRequest',
    keyGenerator: (request) => (request.tenant !== PUBLIC_TENANT ? `t:${request.tenant}` : `ip:${request.ip}`),
    ...(redis ? { redis, nameSpace: `${redisPrefix ?? ''}ratelimit:` } : {}),
    // A limiter that cannot reach Redis lets requests through rather than failing them all.
    skipOnError: true,
    // Retry-After is set by sendError from retryAfterMs; the plugin's own headers stay (x-ratelimit-*).
    errorResponseBuilder: (_request, context) =>
      new ServiceError('rate_limited', `rate limit of ${context.max} requests per ${windowMs} ms exceeded; retry in ${context.after}`, {
        retryAfterMs: Math.max(1000, context.ttl),
        // The table's default for rate_limited is a provider's 429; this one is the caller's.
        fault: 'caller',
      }),
  });
}

/** Authenticates the bearer key into `request.tenant`; the refusal when there is none or it is wrong. */
function bearerRefusal(keys: KeyRing, request: FastifyRequest, header: string | undefined): Error | undefined {
  try {
    request.tenant = keys.authenticate(header);
    return undefined;
  } catch (error) {
    return error as Error;
  }
}
