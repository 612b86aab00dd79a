import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { KeyRing, parseApiKeys } from '../../src/auth/keys.ts';
import { protectScope } from '../../src/auth/scope.ts';
import { PUBLIC_TENANT } from '../../src/lib/tenancy.ts';
import { ServiceError } from '../../src/errors.ts';
import { sendError } from '../../routes/http.ts';
import { getJson, withService } from '../helpers/service.ts';

/**
 * The seam other routes use: a route inside a protected scope may accept a
 * credential other than the bearer key (the stream token of the browsers'
 * EventSource), checked by a function it declares in its route config.
 */
describe('protectScope: routes may declare an alternative credential', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => app?.close());

  async function start(): Promise<string> {
    app = Fastify();
    app.decorateRequest('tenant', PUBLIC_TENANT);
    app.decorateRequest('trace', null as never);
    app.setErrorHandler((error, request, reply) => sendError(request, reply, error instanceof ServiceError ? error : new ServiceError('internal', 'internal error')));
    await app.register(async (v1) => {
      await protectScope(v1, { keys: new KeyRing(parseApiKeys('bearer-key-1:acme')), rateLimit: { max: 0, windowMs: 60_000 } });
      v1.get(
        '/v1/things/:id/events',
        {
          config: {
            alternativeCredential: (request) => {
              const token = (request.query as { stream_token?: string }).stream_token;
              if (token === undefined) return undefined;
              if (token !== 'good-token') throw new ServiceError('unauthorized', 'invalid or expired stream token');
              return 'acme';
            },
          },
        },
        async (request) => ({ tenant: request.tenant }),
      );
      v1.get('/v1/things', async (request) => ({ tenant: request.tenant }));
    });
    return app.listen({ port: 0, host: '127.0.0.1' });
  }

  it('accepts the route’s own credential without a bearer key, as the tenant it names', async () => {
    const url = await start();
    const ok = await getJson(`${url}/v1/things/1/events?stream_token=good-token`);
    expect(ok.status).toBe(200);
    expect(ok.body.tenant).toBe('acme');
    expect((await getJson(`${url}/v1/things/1/events`, { authorization: 'Bearer bearer-key-1' })).body.tenant).toBe('acme');
  });

  it('refuses a bad one, a missing one, and never lets it stand in for a wrong bearer key or on other routes', async () => {
    const url = await start();
    const bad = await getJson(`${url}/v1/things/1/events?stream_token=forged`);
    expect(bad.status).toBe(401);
    expect(bad.body.error.message).toMatch(/stream token/);
    expect((await getJson(`${url}/v1/things/1/events`)).status).toBe(401);
    // A bearer header, even a wrong one, wins: the token is not consulted.
    expect((await getJson(`${url}/v1/things/1/events?stream_token=good-token`, { authorization: 'Bearer wrong' })).status).toBe(401);
    // Routes that declare nothing take only the key.
    expect((await getJson(`${url}/v1/things?stream_token=good-token`)).status).toBe(401);
  });
});

describe('rate limit with Redis unreachable', () => {
  it('lets requests through at once instead of failing or stalling them', async () => {
    // Port 1 on loopback: nothing listens, connections are refused.
    await withService({ env: { STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_MAX: '2', LOG_LEVEL: 'silent' } }, async (svc) => {
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        expect((await getJson(`${svc.url}/v1/tools`)).status).toBe(200);
        // Generous: the defect would be a wait on reconnects (seconds) per request.
        expect(performance.now() - started).toBeLessThan(1000);
      }
    });
  });
});
