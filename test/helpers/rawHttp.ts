import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';

/** One answer of {@link rawRequest}. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

/** Options of {@link rawRequest}. */
export interface RawRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Abort the request after this long (then the promise rejects). */
  timeoutMs?: number;
  agent?: Agent | false;
}

/**
 * One HTTP request with the path sent exactly as given (fetch and URL would
 * normalise `..`, `//` and percent-escapes away; attacks rely on them).
 */
export function rawRequest(baseUrl: string, path: string, options: RawRequestOptions = {}): Promise<RawAnswer> {
  const url = new URL(baseUrl);
  const headers = { ...options.headers };
  // Node frames a GET/HEAD body only when told its length (otherwise its bytes would read as the next request).
  if (options.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['content-length'] = String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? 'GET',
        path,
        headers,
        agent: options.agent ?? false,
        ...(options.timeoutMs ? { signal: AbortSignal.timeout(options.timeoutMs) } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** What a raw socket received before the server closed it. */
export interface SocketCapture {
  /** Everything the server sent. */
  text: string;
  /** ms from connect until the server closed (or reset) the connection. */
  closedAfterMs: number;
}

/**
 * Opens a TCP connection, hands the socket to `drive` (which writes what it
 * likes, e.g. a body one byte at a time) and resolves when the server closes
 * the connection, with everything it sent.
 */
export function rawSocket(baseUrl: string, drive: (socket: Socket, closed: AbortSignal) => void): Promise<SocketCapture> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(Number(url.port), url.hostname);
    const closed = new AbortController();
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      closed.abort();
      resolve({ text, closedAfterMs: performance.now() - started });
    });
    socket.on('connect', () => drive(socket, closed.signal));
  });
}

/** The JSON body of a raw HTTP/1.1 response text, or undefined. */
export function bodyOf(responseText: string): any {
  const at = responseText.indexOf('\r\n\r\n');
  if (at < 0) return undefined;
  try {
    return JSON.parse(responseText.slice(at + 4));
  } catch {
    return undefined;
  }
}
