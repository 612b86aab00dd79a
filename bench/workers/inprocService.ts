/**
 * The service started in-process with `startService` (exactly what `node
 * src/server.ts` does), inside a child started with --expose-gc so the
 * benchmark can force full GCs and read memory and CPU from the service's
 * own process over IPC. Nothing new is exposed over HTTP.
 */
import { Socket } from 'node:net';
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { loadConfig } from '../../src/config.ts';
import { parseRedactPatterns, patternRedactor } from '../../src/lib/redaction.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { startService } from '../../src/server.ts';

const config = loadConfig(process.env);
const logger = createLogger({ level: config.LOG_LEVEL, redact: patternRedactor(parseRedactPatterns(config.REDACT_PATTERNS)) });
const service = await startService(config, logger);

const gc = (globalThis as { gc?: (options?: { type: 'major'; execution: 'sync'; flavor: 'regular' | 'last-resort' }) => void }).gc;
const GC_FLAVOR = process.env.BENCH_GC_FLAVOR === 'regular' ? 'regular' : 'last-resort';

async function fullGc(): Promise<void> {
  if (!gc) throw new Error('start this worker with --expose-gc');
  // Full GCs with turns of the event loop between them until the heap stops
  // shrinking: objects behind WeakRefs/FinalizationRegistry (AbortSignal.any
  // uses both) are only freed a pass or two after their finalizers ran.
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 16; i++) {
    // A last-resort GC also drops V8's own caches (number-string cache,
    // compilation cache…), which otherwise fill and empty with the load; the
    // regular full GC after it leaves the young generation empty for the reading.
    gc({ type: 'major', execution: 'sync', flavor: GC_FLAVOR });
    gc({ type: 'major', execution: 'sync', flavor: 'regular' });
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
      const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
      process.send?.({ id: msg.id, memory: { ...process.memoryUsage(), spaces } });
    } else if (msg.cmd === 'sockets') {
      // Open TCP connections (incoming from clients, outgoing to the provider); the listener is a TCPServerWrap.
      const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
      const sockets = handles.filter((h): h is import('node:net').Socket => h instanceof Socket && h.remotePort !== undefined);
      process.send?.({ id: msg.id, sockets: sockets.length, detail: sockets.map((s) => `${s.localPort}->${s.remotePort}`) });
    } else if (msg.cmd === 'snapshot') {
      // A heap snapshot (it forces a full GC itself) after the same GC passes as a memory reading.
      // Object ids stay the same across snapshots of one process, so two snapshots tell which objects are new.
      await fullGc();
      const file = writeHeapSnapshot((msg as { file?: string }).file);
      process.send?.({ id: msg.id, file, memory: process.memoryUsage() });
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
