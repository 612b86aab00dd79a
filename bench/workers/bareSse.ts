/**
 * The floor of scenario 2: a bare SSE server in a few lines of node:http.
 * `POST /v1/runs` streams what a 5-replicate run streams — `run_started`,
 * then per replicate (after a model latency drawn from BARE_SSE_LATENCY,
 * "min-max" ms) `replicate_done` and `partial_summary`, then `bundle_ready`
 * and `run_completed` — each frame stamped with the service's own clock
 * (src/lib/clock.ts) when written. No orchestration, no provider calls, no
 * store: what is left of emit → receipt is the socket, the kernel and the
 * reading client on this machine.
 */
import http from 'node:http';
import { isoMicros, preciseNow } from '../../src/lib/clock.ts';

const [min, max] = (process.env.BARE_SSE_LATENCY ?? '1000-3000').split('-').map(Number) as [number, number];
const REPLICATES = Number(process.env.BARE_SSE_REPLICATES ?? 5);
// About the size of the service's frames for short answers.
const PAD = 'x'.repeat(Number(process.env.BARE_SSE_PAD ?? 700));
let runs = 0;

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const runId = `run_${++runs}`;
    let seq = 0;
    const send = (type: string) => {
      seq++;
      const data = JSON.stringify({ type, seq, run_id: runId, pad: PAD, ts: isoMicros(preciseNow()) });
      res.write(`id: ${seq}\nevent: ${type}\ndata: ${data}\n\n`);
    };
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    send('run_started');
    let left = REPLICATES;
    const timers: NodeJS.Timeout[] = [];
    for (let i = 0; i < REPLICATES; i++) {
      timers.push(
        setTimeout(() => {
          send('replicate_done');
          send('partial_summary');
          if (--left === 0) {
            send('bundle_ready');
            send('run_completed');
            res.end();
          }
        }, min + Math.random() * (max - min)),
      );
    }
    res.on('close', () => {
      for (const t of timers) clearTimeout(t);
    });
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});

process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
