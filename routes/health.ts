import type { FastifyPluginAsync } from 'fastify';
import type { Orchestrator } from '../src/runs/orchestrator.ts';
import type { Metrics } from '../src/observability/metrics.ts';
import type { ModelGateway } from '../src/providers/gateway.ts';
import { truncateEcho } from './http.ts';
import type { Store } from '../src/store/types.ts';

/** What the health routes need. */
export interface HealthRoutesOptions {
  store: Store;
  orchestrator: Orchestrator;
  gateway: ModelGateway;
  metrics: Metrics;
}

/** Liveness, readiness and Prometheus metrics. */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { store, orchestrator, gateway, metrics }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    let storeStatus = 'ok';
    try {
      await store.ping();
    } catch (error) {
      storeStatus = `unreachable: ${truncateEcho((error as Error).message)}`;
    }
    const ready = storeStatus === 'ok' && !orchestrator.draining;
    // Counts only: breaker keys are built from callers' model names, which are no business of an unauthenticated reader.
    const breakers = { open: 0, half_open: 0 };
    for (const state of Object.values(gateway.breakerStates())) if (state === 'open' || state === 'half_open') breakers[state]++;
    const body = {
      status: ready ? 'ready' : 'unavailable',
      checks: {
        store: { kind: store.kind, status: storeStatus },
        draining: orchestrator.draining,
        provider: gateway.provider,
        breakers,
        active_runs: orchestrator.activeCount,
      },
    };
    return reply.code(ready ? 200 : 503).send(body);
  });

  app.get('/metrics', async (_request, reply) => {
    metrics.setBreakerStates(gateway.breakerStates());
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
};
