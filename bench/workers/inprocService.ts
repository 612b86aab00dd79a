/**
 * The service started in-process with `startService` (exactly what `node
 * src/server.ts` does), inside a child started with --expose-gc so the
 * benchmark can force full GCs and read memory and CPU from the service's
 * own process over IPC. Nothing new is exposed over HTTP.
 */
import { Socket } from 'node:net';
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import { loadConfig } from '../../src/config.ts';
import { parseRedactPatterns, patternRedactor } from '../../src/core/redaction.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startService } from '../../src/server.ts';

const config = loadConfig(process.env);
const logger = createLogger({ level: config.LOG_LEVEL, redact: patternRedactor(parseRedactPatterns(config.REDACT_PATTERNS)) });
const service = await startService(config, logger);

const gc = (globalThis as { gc?: () => void }).gc;

async function fullGc(): Promise<void> {
  if (!gc) throw new Error('start this worker with --expose-gc');
  // Full GCs with turns of the event loop between them until the heap stops
  // shrinking: objects behind WeakRefs/FinalizationRegistry (AbortSignal.any
  // uses both) are only freed a pass or two after their finalizers ran.
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 16; i++) {
    gc();
    await tick();
    await sleep(10);
    const used = process.memoryUsage().heapUsed;
    if (i >= 3 && last - used < 16 * 1024) break;
    last = used;
  }
}

process.on('message', (msg: { id: number; cmd: string; gc?: boolean }) => {
  void (async () => {
    if (msg.cmd === 'memory') {
      if (msg.gc !== false) await fullGc();
      process.send?.({ id: msg.id, memory: process.memoryUsage() });
    } else if (msg.cmd === 'sockets') {
      // Open TCP connections (incoming from clients, outgoing to the provider); the listener is a TCPServerWrap.
      const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
      const sockets = handles.filter((h): h is import('node:net').Socket => h instanceof Socket && h.remotePort !== undefined);
      process.send?.({ id: msg.id, sockets: sockets.length, detail: sockets.map((s) => `${s.localPort}->${s.remotePort}`) });
    } else if (msg.cmd === 'cpu') {
      process.send?.({ id: msg.id, cpu: process.cpuUsage() });
    } else {
      process.send?.({ id: msg.id, error: `unknown command ${msg.cmd}` });
    }
  })();
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  service.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.once('disconnect', stop);
