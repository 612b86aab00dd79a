/**
 * SSE load/latency client for scenario 2, in its own process so the
 * measurement does not share an event loop with the service.
 *
 * Each of `clients` clients starts its own streamed run (`POST /v1/runs`
 * with `stream: true`), reads it to `run_completed`, and starts another
 * until the window closes. For each event it records the receipt time on
 * a sub-millisecond wall clock and the event's `ts` (ms resolution, stamped
 * by the orchestrator when it emits the event).
 *
 * Config: JSON in env SSE_CONFIG. Output: one JSON line on stdout.
 */
import http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { summarize } from '../lib/stats.ts';

interface Config {
  origin: string;
  clients: number;
  rampMs: number;
  durationMs: number;
  body: Record<string, unknown>;
}

const cfg = JSON.parse(process.env.SSE_CONFIG ?? '{}') as Config;

const url = new URL('/v1/runs', cfg.origin);
const payload = JSON.stringify({ ...cfg.body, stream: true });
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

/**
 * Maps performance.now() onto the wall clock with sub-ms precision: spin
 * until Date.now() ticks over; at that instant the wall clock is exactly
 * the new integer millisecond.
 */
function calibrate(): { perf: number; offset: number } {
  const offsets: number[] = [];
  let perf = 0;
  for (let k = 0; k < 7; k++) {
    const d0 = Date.now();
    let d = d0;
    let p = 0;
    while (d === d0) {
      p = performance.now();
      d = Date.now();
    }
    offsets.push(d - p);
    perf = p;
  }
  // Early readings (unoptimised loop) and interrupted ones stray; the rest agree to the microsecond.
  offsets.sort((a, b) => a - b);
  return { perf, offset: offsets[3] as number };
}

/** An event's `ts` in fractional ms: the service stamps microseconds (`….257123Z`), Date.parse keeps milliseconds. */
function parseTs(ts: string): number {
  const dot = ts.lastIndexOf('.');
  const beyondMs = dot < 0 ? '' : ts.slice(dot + 4, -1);
  return Date.parse(ts) + (beyondMs === '' ? 0 : Number(beyondMs) / 10 ** beyondMs.length);
}

const TYPES = ['run_started', 'replicate_done', 'partial_summary', 'bundle_ready', 'run_completed', 'other'] as const;
const typeIndex = (t: string) => {
  const i = (TYPES as readonly string[]).indexOf(t);
  return i < 0 ? TYPES.length - 1 : i;
};

let cap = 1 << 16;
let count = 0;
let recvPerf = new Float64Array(cap);
let tsWall = new Float64Array(cap);
let kinds = new Uint8Array(cap);
function record(perf: number, ts: number, kind: number): void {
  if (count === cap) {
    cap *= 2;
    const r = new Float64Array(cap);
    r.set(recvPerf);
    recvPerf = r;
    const t = new Float64Array(cap);
    t.set(tsWall);
    tsWall = t;
    const k = new Uint8Array(cap);
    k.set(kinds);
    kinds = k;
  }
  recvPerf[count] = perf;
  tsWall[count] = ts;
  kinds[count] = kind;
  count++;
}

let runsCompleted = 0;
let runsStarted = 0;
let errors = 0;
const errorSamples: string[] = [];
let closing = false;
const noteError = (msg: string) => {
  // Streams cut at the end of the window on purpose are not errors.
  if (closing) return;
  errors++;
  if (errorSamples.length < 5) errorSamples.push(msg);
};

const cal0 = calibrate();
const t0 = performance.now();
// The driver times its own window (CPU, /metrics) from this line.
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
const measureStart = t0 + cfg.rampMs;
const measureEnd = measureStart + cfg.durationMs;
const loop = monitorEventLoopDelay({ resolution: 1 });
let loopEnabled = false;

const inflight = new Set<http.ClientRequest>();

function oneRun(): Promise<void> {
  return new Promise((resolve) => {
    runsStarted++;
    const req = http.request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'content-length': Buffer.byteLength(payload) },
    });
    inflight.add(req);
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      inflight.delete(req);
      resolve();
    };
    req.on('error', (err) => {
      noteError(String(err));
      done();
    });
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        noteError(`HTTP ${res.statusCode}`);
        res.resume();
        res.on('end', done);
        return;
      }
      res.setEncoding('utf8');
      let buf = '';
      let completed = false;
      res.on('data', (chunk: string) => {
        const now = performance.now();
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const ev = /^event: ?(.*)$/m.exec(frame)?.[1] ?? 'message';
          // The event's own `ts` is the last one in the frame (it is stamped last).
          const at = frame.lastIndexOf('"ts":"');
          if (at < 0) continue;
          const ts = parseTs(frame.slice(at + 6, frame.indexOf('"', at + 6)));
          if (now >= measureStart && now <= measureEnd) record(now, ts, typeIndex(ev));
          if (ev === 'run_completed') completed = true;
        }
      });
      res.on('end', () => {
        if (completed) runsCompleted++;
        else noteError('stream ended without run_completed');
        done();
      });
      res.on('error', (err) => {
        noteError(String(err));
        done();
      });
      res.on('close', () => {
        if (!settled && !completed) noteError('stream closed before run_completed');
        done();
      });
    });
    req.end(payload);
  });
}

async function client(i: number): Promise<void> {
  await new Promise((r) => setTimeout(r, (i / cfg.clients) * cfg.rampMs));
  while (performance.now() < measureEnd) await oneRun();
}

setTimeout(() => {
  loop.enable();
  loopEnabled = true;
}, cfg.rampMs).unref();
setTimeout(() => {
  if (loopEnabled) loop.disable();
}, cfg.rampMs + cfg.durationMs).unref();

// Runs still going when the window closes are dropped after a short grace
// (the service cancels nothing: a client going away only ends its stream).
const hardStop = setTimeout(() => {
  closing = true;
  for (const req of inflight) req.destroy();
}, cfg.rampMs + cfg.durationMs + 1000);
await Promise.all(Array.from({ length: cfg.clients }, (_, i) => client(i)));
clearTimeout(hardStop);
const cal1 = calibrate();
agent.destroy();

// Latency per event: receipt (sub-ms wall clock) − ts (sub-ms wall clock of the service).
// Offsets are interpolated between the two calibrations to absorb clock slew.
const slope = (cal1.offset - cal0.offset) / (cal1.perf - cal0.perf || 1);
const latencies: number[][] = TYPES.map(() => []);
const all: number[] = [];
for (let i = 0; i < count; i++) {
  const p = recvPerf[i] as number;
  const wall = p + cal0.offset + slope * (p - cal0.perf);
  const lat = wall - (tsWall[i] as number);
  all.push(lat);
  (latencies[kinds[i] as number] as number[]).push(lat);
}

process.stdout.write(
  `${JSON.stringify({
    clients: cfg.clients,
    runsStarted,
    runsCompleted,
    errors,
    errorSamples,
    events: count,
    windowMs: cfg.durationMs,
    clockDriftMs: cal1.offset - cal0.offset,
    clientLoopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
    latency: summarize(all),
    byType: Object.fromEntries(TYPES.map((t, i) => [t, summarize(latencies[i] as number[])]).filter(([, s]) => (s as { n: number }).n > 0)),
  })}\n`,
);
