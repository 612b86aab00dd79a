import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The service's Prometheus metrics, on a registry of its own (no global
 * state: two apps in one test process do not share counters).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly runs: Counter<'status'>;
  readonly activeRuns: Gauge;
  readonly runDuration: Histogram<'status'>;
  readonly replicateLatency: Histogram<'provider' | 'model' | 'status'>;
  readonly providerErrors: Counter<'provider' | 'code'>;
  readonly breakerState: Gauge<'breaker'>;
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.runs = new Counter({ name: 'orchestrator_runs_total', help: 'Runs finished, by terminal status', labelNames: ['status'], registers });
    this.activeRuns = new Gauge({ name: 'orchestrator_active_runs', help: 'Runs queued or running in this process', registers });
    this.runDuration = new Histogram({
      name: 'orchestrator_run_duration_seconds',
      help: 'Wall time of runs, by terminal status',
      labelNames: ['status'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.replicateLatency = new Histogram({
      name: 'orchestrator_replicate_latency_seconds',
      help: 'Latency of replicates, including retries',
      labelNames: ['provider', 'model', 'status'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.providerErrors = new Counter({
      name: 'orchestrator_provider_errors_total',
      help: 'Replicates that failed, by provider and error code',
      labelNames: ['provider', 'code'],
      registers,
    });
    this.breakerState = new Gauge({
      name: 'orchestrator_circuit_state',
      help: 'Circuit breaker state per provider:model (0 closed, 1 half-open, 2 open)',
      labelNames: ['breaker'],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'orchestrator_http_requests_total',
      help: 'HTTP requests served',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Mirrors breaker states into the gauge just before a scrape. */
  setBreakerStates(states: Record<string, 'closed' | 'open' | 'half_open'>): void {
    this.breakerState.reset();
    for (const [breaker, state] of Object.entries(states)) {
      this.breakerState.set({ breaker }, state === 'open' ? 2 : state === 'half_open' ? 1 : 0);
    }
  }
}
