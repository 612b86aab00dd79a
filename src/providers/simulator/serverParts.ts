import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RecordedRequest, SimulatorStats } from './types.ts';
import { errorBody } from './wire.ts';

/** HTTP helpers and bookkeeping of the simulator's server (server.ts). */

export function sendJson(res: ServerResponse, status: number, body: unknown, extra?: Record<string, string>): void {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(payload),
    ...extra,
  });
  res.end(payload);
}

/** Reads and parses a JSON body; answers 400 itself when the body is not JSON. */
export function readJson(req: IncomingMessage, res: ServerResponse, onBody: (body: unknown) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    if (raw.length === 0) return onBody(null);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      sendJson(res, 400, errorBody('We could not parse the JSON body of your request.', 'invalid_request_error', null));
      return;
    }
    onBody(body);
  });
}

/** Keeps the last `max` records without shifting an array on every request. */
export function ringBuffer(max: number): { push(r: RecordedRequest): void; list(): RecordedRequest[]; clear(): void } {
  let ring: RecordedRequest[] = [];
  let head = 0;
  return {
    push(r) {
      if (max <= 0) return;
      if (ring.length < max) ring.push(r);
      else {
        ring[head] = r;
        head = (head + 1) % max;
      }
    },
    list: () => (head === 0 ? ring.slice() : [...ring.slice(head), ...ring.slice(0, head)]),
    clear() {
      ring = [];
      head = 0;
    },
  };
}

export function emptyStats(): SimulatorStats {
  return { received: 0, completed: 0, aborted: 0, inFlight: 0, maxInFlight: 0, failed: 0 };
}

