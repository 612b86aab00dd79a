import type { Logger } from 'pino';
import { buildApp } from './app.ts';
import { StartupError } from './errors.ts';
import { ConfigError, loadConfig, otlpTracesUrl, type Config } from './config.ts';
import type { RunJob } from './runs/orchestrator.ts';
import { loadPlanner } from './planning/rulePlanner.ts';
import { patternRedactor, type Redactor } from './lib/redaction.ts';
import { createLogger } from './observability/logger.ts';
import { Metrics } from './observability/metrics.ts';
import { createTracing } from './observability/tracing.ts';
import { gatewayFromConfig } from './providers/gateway.ts';
import { loadProvidersFile, ProvidersFileError } from './providers/providersFile.ts';
import type { Simulator } from './providers/simulator/index.ts';
import { createStore } from './store/index.ts';
import { declarativeOptions, loadTools } from './toolkit/loader.ts';

/** Where planner rules are looked for when PLANNER_RULES is unset. */
export const DEFAULT_PLANNER_RULES = 'config/planner.yaml';

/** A running service and how to stop it. */
export interface RunningService {
  url: string;
  config: Config;
  simulator: Simulator | null;
  close(): Promise<void>;
}

/**
 * Starts the whole service from a config: the simulator when no provider is
 * configured, the store, the tools, the app; then listens.
 */
export async function startService(
  config: Config,
  logger: Logger,
  redact: Redactor = patternRedactor(config.REDACT_PATTERNS),
  env: Record<string, string | undefined> = process.env,
): Promise<RunningService> {
  let simulator: Simulator | null = null;
  let baseURL = config.OPENAI_BASE_URL;
  let provider = providerName(config.OPENAI_BASE_URL);
  // Read once, here: a bad file stops startup with its name and every bad field (ProvidersFileError).
  const providers = config.PROVIDERS_FILE !== undefined ? loadProvidersFile(config.PROVIDERS_FILE, env) : undefined;
  const fromEnv = config.OPENAI_API_KEY !== undefined || config.OPENAI_BASE_URL !== undefined;
  if (!fromEnv && providers === undefined) {
    // Loaded only when it is used: a configured provider never loads the simulator.
    const { startSimulator } = await import('./providers/simulator/index.ts');
    simulator = await startSimulator({ behavior: { latencyMs: config.SIMULATOR_LATENCY_MS }, control: config.SIMULATOR_CONTROL });
    baseURL = simulator.url;
    provider = 'simulator';
    logger.warn({ url: simulator.url }, 'no OPENAI_API_KEY or OPENAI_BASE_URL: serving from the embedded simulator (offline, provider "simulator")');
  }
  const metrics = new Metrics({ defaultMetrics: true });
  // NOOP_TRACING without an OTLP endpoint: the OpenTelemetry SDK is then never loaded.
  const tracing = await createTracing({
    tracesUrl: otlpTracesUrl(config),
    headers: config.OTEL_EXPORTER_OTLP_HEADERS,
    serviceName: config.OTEL_SERVICE_NAME,
    captureContent: config.OTEL_CAPTURE_CONTENT,
  });
  const gateway = gatewayFromConfig(config, {
    tracing,
    provider,
    // OpenAI-compatible servers often need no key; the SDK insists on one.
    apiKey: config.OPENAI_API_KEY ?? 'sk-no-key',
    baseURL,
    logger,
    providers,
    // With a providers file and no OPENAI_* variables, the file's providers are all there is.
    withTarget: fromEnv || providers === undefined,
  });
  const store = await createStore(config, logger);
  const registry = await loadTools(config.TOOLS_DIR, declarativeOptions(config));
  const planner = loadPlanner(config.PLANNER_RULES ?? DEFAULT_PLANNER_RULES, registry, { explicit: config.PLANNER_RULES !== undefined });
  // With Redis, runs are BullMQ jobs: every replica's worker executes them, and takes over a dead replica's.
  // BullMQ (and what it brings: luxon, cron-parser, msgpackr) is loaded only when a configuration uses it.
  const queue =
    config.STORE === 'redis'
      ? (await import('./runs/runQueue.ts')).RunQueue.create<RunJob>({ url: config.REDIS_URL, prefix: config.REDIS_PREFIX, leaseMs: config.RUN_LEASE_MS, concurrency: config.MAX_ACTIVE_RUNS, logger })
      : null;
  const { app, orchestrator } = await buildApp(config, { store, gateway, registry, planner, logger, metrics, redact, tracing, ...(queue ? { dispatch: queue } : {}) });
  queue?.start({
    process: (job, { attempt }) => orchestrator.process(job, attempt),
    abandoned: (job) => orchestrator.abandon(job),
    lockLost: (id) => orchestrator.relinquish(id),
  });
  await app.ready();
  shedStartupGarbage(logger);
  const url = await app.listen({ port: config.PORT, host: config.HOST });
  logger.info({ url, provider: gateway.provider, providers: gateway.catalogue().map((p) => p.name), store: store.kind, tools: registry.names() }, 'service listening');
  return {
    url,
    config,
    simulator,
    async close() {
      await orchestrator.drain(config.SHUTDOWN_GRACE_MS);
      await app.close();
      await queue?.close();
      await gateway.close();
      await store.close();
      await simulator?.close();
      // Last: the spans of the runs drained above are flushed to the collector.
      await tracing.shutdown().catch((error: unknown) => logger.warn({ err: error }, 'could not flush spans'));
    },
  };
}

/**
 * One memory-reducing collection once start-up is done, before the port
 * opens (so no request waits for it). Start-up leaves garbage (modules
 * compiled, schemas built) and a young generation grown to its maximum, and
 * V8 collects nothing on an idle heap: without this, a started service keeps
 * ~16 MiB it does not use until load comes (BENCHMARKS.md, scenario 7).
 * Needs `--expose-gc`, which `npm start` and the image pass; without it
 * (tests, `npm run dev`) this does nothing.
 */
function shedStartupGarbage(logger: Logger): void {
  const gc = (globalThis as { gc?: (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void }).gc;
  if (typeof gc !== 'function') return;
  const started = performance.now();
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  logger.debug({ ms: Math.round(performance.now() - started) }, 'start-up garbage collected');
}

/** `openai` for OpenAI itself, else the base URL's host (a gateway, vLLM, Ollama…). */
export function providerName(baseURL: string | undefined): string {
  if (baseURL === undefined) return 'openai';
  try {
    const host = new URL(baseURL).hostname;
    return host === 'api.openai.com' ? 'openai' : 'openai_compatible';
  } catch {
    return 'openai_compatible';
  }
}

if (import.meta.main) {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    process.stderr.write(`${error instanceof ConfigError ? `${error.code}: ${error.message}` : String(error)}\n`);
    process.exit(2);
  }
  // One redactor (REDACT_PATTERNS compiled once, by the config) for the logger and the app.
  const redact = patternRedactor(config.REDACT_PATTERNS);
  const logger = createLogger({ level: config.LOG_LEVEL, redact });
  try {
    const service = await startService(config, logger, redact);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      service.close().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (error) {
    if (error instanceof ProvidersFileError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    logger.fatal({ err: error, code: error instanceof StartupError ? error.code : 'internal' }, 'could not start');
    process.exit(1);
  }
}
