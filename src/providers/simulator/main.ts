import { pino, type Logger } from 'pino';
import { startSimulator } from './server.ts';
import type { Latency, Simulator } from './types.ts';

/**
 * Parses SIMULATOR_LATENCY_MS: "100" for a fixed delay or "50-150" for a
 * jittered range, so benchmarks can shape latency without a config call.
 */
export function parseLatencyEnv(raw: string | undefined): Latency | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?)\s*)?$/.exec(raw);
  if (!m) throw new Error(`SIMULATOR_LATENCY_MS must be "ms" or "min-max", got ${JSON.stringify(raw)}`);
  const min = Number(m[1]);
  return m[2] === undefined ? min : { min, max: Number(m[2]) };
}

/**
 * SIMULATOR_CONTROL for the standalone simulator: on unless set to a false
 * value, since `npm run simulator` is a test and benchmark tool whose
 * drivers configure it over HTTP (the service's embedded one is off unless set).
 */
export function parseControlEnv(raw: string | undefined): boolean {
  if (raw === undefined || raw.trim() === '') return true;
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new Error(`SIMULATOR_CONTROL must be true or false, got ${JSON.stringify(raw)}`);
}

/** A started standalone simulator and how to stop it. */
export interface SimulatorMain {
  simulator: Simulator;
  shutdown(): Promise<void>;
}

/**
 * Starts the simulator from environment variables and logs its URL as one
 * JSON line (benchmark drivers parse it). Signal wiring is left to the
 * entry block so tests can call this without touching process handlers.
 */
export async function runSimulatorMain(
  env: NodeJS.ProcessEnv = process.env,
  logger: Logger = pino({ name: 'simulator' }),
): Promise<SimulatorMain> {
  const port = Number(env.SIMULATOR_PORT ?? 8090);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`SIMULATOR_PORT must be a port number, got ${JSON.stringify(env.SIMULATOR_PORT)}`);
  }
  const latencyMs = parseLatencyEnv(env.SIMULATOR_LATENCY_MS);
  const simulator = await startSimulator({
    host: env.SIMULATOR_HOST ?? '127.0.0.1',
    port,
    control: parseControlEnv(env.SIMULATOR_CONTROL),
    behavior: latencyMs === undefined ? {} : { latencyMs },
  });
  logger.info({ url: simulator.url }, 'simulator listening');
  return { simulator, shutdown: () => simulator.close() };
}

if (import.meta.main) {
  const logger = pino({ name: 'simulator' });
  try {
    const { shutdown } = await runSimulatorMain(process.env, logger);
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'simulator stopping');
      // Once the server and its sockets are closed nothing holds the event loop, so the process exits by itself.
      shutdown().catch((err: unknown) => {
        logger.error({ err }, 'simulator failed to close');
        process.exitCode = 1;
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } catch (err) {
    logger.fatal({ err }, 'simulator failed to start');
    process.exitCode = 1;
  }
}
