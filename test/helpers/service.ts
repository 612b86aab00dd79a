import { afterEach } from 'vitest';
import type { Clock } from '../../src/lib/clock.ts';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import type { Orchestrator } from '../../src/runs/orchestrator.ts';
import { DefaultToolPlanner, type Planner } from '../../src/planning/planner.ts';
import { parseRedactPatterns, patternRedactor } from '../../src/lib/redaction.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { createTracing, type Tracing } from '../../src/observability/tracing.ts';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { gatewayFromConfig } from '../../src/providers/gateway.ts';
import { parseProvidersFile } from '../../src/providers/providersFile.ts';
import { startSimulator, type Simulator, type SimulatorBehavior } from '../../src/providers/simulator/index.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { storeLimits } from '../../src/store/index.ts';
import type { Store } from '../../src/store/types.ts';
import { declarativeOptions, loadTools } from '../../src/toolkit/loader.ts';
import type { ToolRegistry } from '../../src/toolkit/registry.ts';

/** A real service on port 0 against a real simulator, plus its captured log lines. */
export interface TestService {
  url: string;
  sim: Simulator;
  app: FastifyInstance;
  orchestrator: Orchestrator;
  store: Store;
  config: Config;
  /** The service's tracing (NOOP_TRACING unless a `spanExporter` was given). */
  tracing: Tracing;
  /** Every log line the service wrote, as text. */
  logs: string[];
  close(): Promise<void>;
}

/** Options for {@link startTestService}. */
export interface TestServiceOptions {
  env?: Record<string, string>;
  behavior?: Partial<SimulatorBehavior>;
  store?: Store;
  registry?: ToolRegistry;
  planner?: Planner;
  apiKey?: string;
  /** Deterministic retry jitter (0..1). */
  random?: () => number;
  /** Clock of the default memory store (its TTLs), e.g. `manualClock().now` from ./clock.ts. */
  now?: () => number;
  /** The service's clock (AppDeps.clock): records, deadlines and event stamps. */
  clock?: Clock;
  /** Exports the service's spans (e.g. an InMemorySpanExporter); without it, no tracing. */
  spanExporter?: SpanExporter;
  /**
   * Named providers, as PROVIDERS_FILE gives them: YAML text, in which `${SIM}` stands for the
   * service's own simulator URL (other simulators are the test's to start and substitute).
   */
  providersYaml?: string;
  /** Environment the providers file reads its `api_key_env` keys from. */
  providerEnv?: Record<string, string>;
}

/**
 * Starts the simulator and the service wired to it over HTTP, exactly as
 * `npm start` does with OPENAI_BASE_URL pointing at an OpenAI-compatible server.
 */
export async function startTestService(options: TestServiceOptions = {}): Promise<TestService> {
  const sim = await startSimulator({ behavior: options.behavior ?? {} });
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', RETRY_BASE_MS: '1', ...options.env });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      logs.push(String(chunk));
      callback();
    },
  });
  const redact = patternRedactor(parseRedactPatterns(config.REDACT_PATTERNS));
  const logger = createLogger({ level: config.LOG_LEVEL, redact, destination });
  const tracing = await createTracing({ exporter: options.spanExporter, serviceName: config.OTEL_SERVICE_NAME, captureContent: config.OTEL_CAPTURE_CONTENT });
  const providers =
    options.providersYaml !== undefined ? parseProvidersFile(options.providersYaml.replaceAll('${SIM}', sim.url), 'providers.yaml', options.providerEnv ?? {}) : undefined;
  const gateway = gatewayFromConfig(config, {
    tracing,
    providers,
    // With a providers file the file's providers are all there is (`${SIM}` puts the simulator among them).
    withTarget: providers === undefined,
    provider: 'simulator',
    apiKey: options.apiKey ?? 'sk-test-secret-key-0123456789',
    baseURL: sim.url,
    logger,
    ...(options.random ? { random: options.random } : {}),
  });
  const store = options.store ?? new MemoryStore(storeLimits(config), options.now);
  const registry = options.registry ?? (await loadTools(config.TOOLS_DIR, declarativeOptions(config)));
  const { app, orchestrator } = await buildApp(config, {
    store,
    gateway,
    registry,
    planner: options.planner ?? new DefaultToolPlanner('bundle'),
    logger,
    metrics: new Metrics(),
    redact,
    tracing,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    sim,
    app,
    orchestrator,
    store,
    config,
    tracing,
    logs,
    async close() {
      await orchestrator.drain(1000);
      await app.close();
      await gateway.close();
      await store.close();
      await sim.close();
      await tracing.shutdown();
    },
  };
}

/** POSTs JSON and returns status, headers and parsed body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as any) : null };
}

/** GETs JSON. */
export async function getJson(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: any = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body };
}

/** Runs `fn` against a fresh test service and always closes it. */
export async function withService<T>(options: TestServiceOptions, fn: (svc: TestService) => Promise<T>): Promise<T> {
  const svc = await startTestService(options);
  try {
    return await fn(svc);
  } finally {
    await svc.close();
  }
}

/**
 * A `startTestService` whose services are closed after each test (an
 * `afterEach` registered in the calling file), for tests that each need
 * their own configuration.
 */
export function servicePerTest(): (env?: Record<string, string>) => Promise<TestService> {
  const open: TestService[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  return async (env = {}) => {
    const svc = await startTestService({ env });
    open.push(svc);
    return svc;
  };
}
