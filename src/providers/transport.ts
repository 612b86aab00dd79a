import { Readable, Transform, type TransformCallback } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { ServiceError } from '../errors.ts';

/** Headers added to every outgoing request of one call (trace context), or none. */
export type ExtraHeaders = () => { readonly [name: string]: string } | undefined;

/** A fetch function and the connection pool behind it. */
export interface Transport {
  fetch: typeof fetch;
  /** Closes pooled connections (waits for requests in flight). */
  close(): Promise<void>;
}

/** Bounds on what the transport accepts from a provider. */
export interface TransportOptions {
  /** Bytes of one response body; a longer body fails while it is read, before it is buffered whole. */
  maxResponseBytes?: number;
}

/** Statuses whose responses carry no body (a Response built with one throws). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/** Same-origin redirects followed (an OpenAI-compatible server behind a gateway may redirect). */
const MAX_REDIRECTS = 5;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Room for the JSON envelope around a model's output (ids, usage, escaping of a short answer). */
export const RESPONSE_ENVELOPE_BYTES = 64 * 1024;

/** Default body bound when none is given: 1 MiB of output plus the envelope. */
const DEFAULT_MAX_RESPONSE_BYTES = 1_048_576 + RESPONSE_ENVELOPE_BYTES;

/**
 * A `fetch` for the openai SDK built on undici's `request()` instead of the
 * WHATWG fetch algorithm. Same wire, same keep-alive pooling, but no
 * Request/fetch-controller machinery per call: about 40 % less CPU and
 * 15 KiB less heap per in-flight call (BENCHMARKS.md, "Provider transport").
 *
 * Bodies the SDK sends for chat, responses and embeddings are strings; any
 * other body (multipart uploads, streams) goes through the global fetch.
 * `extraHeaders` is read per request, so the trace context of the calling
 * run travels with each attempt.
 *
 * Two bounds protect the service from its provider (or whoever answers in
 * its place): a response body longer than `maxResponseBytes` errors while it
 * streams in (nothing past the bound is buffered), and redirects are followed
 * only within the origin the request went to — a redirect to another host is
 * handed back as the 3xx it is, so the prompt and the API key never travel
 * there.
 */
export function createTransport(extraHeaders: ExtraHeaders = () => undefined, options: TransportOptions = {}): Transport {
  const dispatcher: Dispatcher = new Agent();
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;

  const lightFetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const extra = extraHeaders();
    const body = init.body;
    if (input instanceof Request || (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array))) {
      // The global fetch would follow a redirect anywhere: hand redirects back instead.
      return fetch(input, { ...withHeaders(init, extra), redirect: 'manual' });
    }
    const headers: Record<string, string> = {};
    // The SDK hands a Headers already: read it, not a copy of it.
    (init.headers instanceof Headers ? init.headers : new Headers(init.headers)).forEach((value, name) => {
      headers[name] = value;
    });
    if (extra) Object.assign(headers, extra);
    let url = new URL(String(input));
    let method = (init.method ?? 'GET') as Dispatcher.HttpMethod;
    let payload: string | Uint8Array | null = body ?? null;
    for (let hop = 0; ; hop++) {
      const res = await request(url, { method, headers, body: payload, signal: init.signal ?? null, dispatcher });
      const location = REDIRECTS.has(res.statusCode) ? res.headers.location : undefined;
      const target = typeof location === 'string' ? safeUrl(location, url) : null;
      if (target && target.origin === url.origin && hop < MAX_REDIRECTS) {
        res.body.resume();
        // As fetch does: 303 (and 301/302 after a POST) become a bodiless GET; 307/308 repeat the request.
        if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
          method = 'GET';
          payload = null;
          delete headers['content-type'];
          delete headers['content-length'];
        }
        url = target;
        continue;
      }
      return respond(res, maxBytes);
    }
  };

  return { fetch: lightFetch as typeof fetch, close: () => dispatcher.close() };
}

/**
 * A JSON answer that declares a length within the bound (every unstreamed
 * chat, responses or embeddings answer) is read whole here and handed over
 * as bytes: the SDK reads it whole at once anyway, and this skips a byte
 * counter and a web stream per call. undici reads exactly the declared
 * length, so the bound holds. Anything else streams through {@link toResponse}.
 */
async function respond(res: Dispatcher.ResponseData, maxBytes: number): Promise<Response> {
  const length = Number(res.headers['content-length']);
  const type = res.headers['content-type'];
  if (length <= maxBytes && typeof type === 'string' && type.startsWith('application/json') && !NULL_BODY.has(res.statusCode)) {
    const bytes = await res.body.bytes();
    return new BufferedResponse(bytes as Uint8Array<ArrayBuffer>, { status: res.statusCode, headers: headersOf(res) });
  }
  return toResponse(res, maxBytes);
}

const utf8 = new TextDecoder();

/**
 * A Response over a body already read whole. The SDK reads an unstreamed
 * answer with `text()` once; a Response built on the bytes would wrap them
 * in a web stream and read that back chunk by chunk (~2 % of a
 * one-replicate run's CPU). Here `text()`, `json()`, `bytes()` and
 * `arrayBuffer()` answer from the bytes, `body` is a stream over them made
 * only if asked for, and a body is read once, as fetch's is.
 */
export class BufferedResponse extends Response {
  readonly #bytes: Uint8Array<ArrayBuffer>;
  #used = false;
  #stream: ReadableStream<Uint8Array> | null = null;

  constructor(bytes: Uint8Array<ArrayBuffer>, init: ResponseInit) {
    super(null, init);
    this.#bytes = bytes;
  }

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> {
    if (!this.#stream) {
      const bytes = this.#bytes;
      // Read from (pulled), the body is used, as a fetch body is once disturbed.
      this.#stream = new ReadableStream<Uint8Array>({
        pull: (controller) => {
          this.#used = true;
          controller.enqueue(bytes);
          controller.close();
        },
        cancel: () => {
          this.#used = true;
        },
      }, { highWaterMark: 0 });
    }
    return this.#stream as ReadableStream<Uint8Array<ArrayBuffer>>;
  }

  override get bodyUsed(): boolean {
    return this.#used || (this.#stream?.locked ?? false);
  }

  #take(): Uint8Array<ArrayBuffer> {
    if (this.bodyUsed) throw new TypeError('Body is unusable: Body has already been read');
    this.#used = true;
    return this.#bytes;
  }

  override async text(): Promise<string> {
    return utf8.decode(this.#take());
  }

  override async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return this.#take().slice();
  }

  override async arrayBuffer(): Promise<ArrayBuffer> {
    return (await this.bytes()).buffer;
  }

  override async blob(): Promise<Blob> {
    return new Blob([this.#take()], { type: this.headers.get('content-type') ?? '' });
  }

  override clone(): Response {
    if (this.bodyUsed) throw new TypeError('Response.clone: Body has already been consumed.');
    return new BufferedResponse(this.#bytes, { status: this.status, statusText: this.statusText, headers: this.headers });
  }
}

function headersOf(res: Dispatcher.ResponseData): Headers {
  const responseHeaders = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (Array.isArray(value)) for (const v of value) responseHeaders.append(name, v);
    else if (value !== undefined) responseHeaders.append(name, value);
  }
  return responseHeaders;
}

/** A WHATWG Response over undici's answer, its body bounded to `maxBytes`. */
function toResponse(res: Dispatcher.ResponseData, maxBytes: number): Response {
  const responseHeaders = headersOf(res);
  if (NULL_BODY.has(res.statusCode)) {
    res.body.resume();
    return new Response(null, { status: res.statusCode, headers: responseHeaders });
  }
  let exceeded = false;
  const limited = res.body.pipe(
    new ByteLimit(maxBytes, () => {
      exceeded = true;
      // Stop reading: the connection is closed rather than drained of what is left.
      setImmediate(() => res.body.destroy());
    }),
  );
  res.body.once('error', (error) => {
    if (!exceeded) limited.destroy(error);
  });
  return new Response(Readable.toWeb(limited) as ReadableStream, { status: res.statusCode, headers: responseHeaders });
}

/**
 * Passes bytes through until `max`, then fails the stream with a
 * non-retryable `provider_error` naming the limit (the same prompt would
 * only produce the same oversized answer again).
 */
export class ByteLimit extends Transform {
  readonly #max: number;
  readonly #onExceeded: () => void;
  #seen = 0;

  constructor(max: number, onExceeded: () => void = () => {}) {
    super();
    this.#max = max;
    this.#onExceeded = onExceeded;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#max) {
      this.#onExceeded();
      callback(responseTooLarge(this.#max));
      return;
    }
    callback(null, chunk);
  }
}

/** The error of a provider response past the byte bound. */
export function responseTooLarge(maxBytes: number): ServiceError {
  return new ServiceError('provider_error', `provider response exceeded ${maxBytes} bytes (MAX_OUTPUT_BYTES plus envelope); the answer was dropped`, {
    retryable: false,
    details: { limit: 'MAX_OUTPUT_BYTES', max_bytes: maxBytes },
  });
}

function safeUrl(location: string, base: URL): URL | null {
  try {
    return new URL(location, base);
  } catch {
    return null;
  }
}

/** `init` with `extra` headers set (for the global-fetch fallback). */
function withHeaders(init: RequestInit, extra: ReturnType<ExtraHeaders>): RequestInit {
  if (!extra) return init;
  const headers = new Headers(init.headers);
  for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  return { ...init, headers };
}
