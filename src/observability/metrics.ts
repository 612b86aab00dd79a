import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Label value of models past the first {@link MetricsOptions.maxModelLabels} distinct ones. */
export const OTHER_MODEL_LABEL = 'other';

/**
 * Characters of one label value, at most: the request schema bounds model
 * names, but a label is the last line of defence for what `/metrics` holds
 * (100 series of 450 KB names made every scrape fail with "Invalid string length").
 */
export const MAX_LABEL_CHARS = 128;

/** A label value cut to {@link MAX_LABEL_CHARS}, marked so a cut one never passes for a real name. */
export function boundedLabel(value: string): string {
  return value.length <= MAX_LABEL_CHARS ? value : `${value.slice(0, MAX_LABEL_CHARS - 1)}…`;
}

export interface MetricsOptions {
  defaultMetrics?: boolean;
  /**
   * Distinct model names used as label values (default 100); later ones are
   * counted under `other`. Requests name any model they like, and every
   * label set lives as long as the registry (~1 KB per histogram series).
   */
  maxModelLabels?: number;
}

/**
 * The service's Prometheus metrics, on a registry of its own (no global
 * state: two apps in one test process do not share counters). Label values
 * come from bounded sets only: statuses, error codes, route templates,
 * breakers (themselves bounded) and at most `maxModelLabels` model names.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly runs: Counter<'status'>;
  readonly activeRuns: Gauge;
  readonly runDuration: Histogram<'status'>;
  readonly replicateLatency: Histogram<'provider' | 'model' | 'status'>;
  readonly providerErrors: Counter<'provider' | 'code'>;
  readonly fallbacks: Counter<'provider' | 'model' | 'reason'>;
  readonly breakerState: Gauge<'breaker'>;
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  readonly #models = new Set<string>();
  readonly #maxModels: number;

  constructor(options: MetricsOptions = {}) {
    this.#maxModels = options.maxModelLabels ?? 100;
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
      help: `Latency of replicates, including retries (model "${OTHER_MODEL_LABEL}" past the first distinct ones)`,
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
    this.fallbacks = new Counter({
      name: 'orchestrator_provider_fallbacks_total',
      help: `Replicates that moved off a model to the next of agent.fallback_models, by the model left and why (model "${OTHER_MODEL_LABEL}" past the first distinct ones)`,
      labelNames: ['provider', 'model', 'reason'],
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

  /**
   * The label value for `model`: its name (cut to {@link MAX_LABEL_CHARS})
   * while fewer than `maxModelLabels` names are in use, else `other`.
   */
  modelLabel(model: string): string {
    const label = boundedLabel(model);
    if (this.#models.has(label)) return label;
    if (this.#models.size >= this.#maxModels) return OTHER_MODEL_LABEL;
    this.#models.add(label);
    return label;
  }

  /** Mirrors breaker states into the gauge just before a scrape. */
  setBreakerStates(states: Record<string, 'closed' | 'open' | 'half_open'>): void {
    this.breakerState.reset();
    for (const [breaker, state] of Object.entries(states)) {
      this.breakerState.set({ breaker: boundedLabel(breaker) }, state === 'open' ? 2 : state === 'half_open' ? 1 : 0);
    }
  }
}
