import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
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
 * A `fetch` for the openai SDK built on undici's dispatcher instead of the
 * WHATWG fetch algorithm. Same wire, same keep-alive pooling, but no
 * Request/fetch-controller machinery per call (about 40 % less CPU and
 * 15 KiB less heap per in-flight call than fetch, BENCHMARKS.md, "Provider
 * transport"), and since the fourth pass of issue 17 no `request()` body
 * stream either ({@link exchange}).
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
    const signal = init.signal ?? null;
    for (let hop = 0; ; hop++) {
      const answer = await exchange(dispatcher, { origin: url.origin, path: url.pathname + url.search, method, headers, body: payload }, signal, maxBytes);
      const location = REDIRECTS.has(answer.status) ? answer.headers.location : undefined;
      const target = typeof location === 'string' ? safeUrl(location, url) : null;
      if (target && target.origin === url.origin && hop < MAX_REDIRECTS) {
        answer.stream?.resume();
        // As fetch does: 303 (and 301/302 after a POST) become a bodiless GET; 307/308 repeat the request.
        if (answer.status === 303 || ((answer.status === 301 || answer.status === 302) && method === 'POST')) {
          method = 'GET';
          payload = null;
          delete headers['content-type'];
          delete headers['content-length'];
        }
        url = target;
        continue;
      }
      return answer.stream ? toResponse(answer.status, answer.headers, answer.stream, maxBytes) : new BufferedResponse(answer.bytes as Uint8Array<ArrayBuffer>, answer.status, answer.headers);
    }
  };

  return { fetch: lightFetch as typeof fetch, close: () => dispatcher.close() };
}

/** What one request got: status and headers, and the body read whole (`bytes`) or to be read (`stream`). */
interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  bytes: Buffer | null;
  stream: Readable | null;
}

/**
 * One request on undici's dispatcher, with a handler of our own instead of
 * `request()`'s: a JSON answer that declares a length within the bound
 * (every unstreamed chat, responses or embeddings answer), and a bodiless
 * status, are read whole into bytes, with no stream, no body mixin and no
 * promise per chunk between the socket and the SDK; undici reads exactly the
 * declared length, so the bound holds. Anything else (an SSE stream, an
 * answer of unknown length) is handed over as soon as its headers arrive,
 * as a Readable that pauses the socket while it is full.
 *
 * The signal aborts the request on the wire at any point; the promise (or,
 * once handed over, the stream) then fails with the signal's reason, as
 * `request()` does.
 */
function exchange(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, signal: AbortSignal | null, maxBytes: number): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    let controller: Dispatcher.DispatchController | null = null;
    let answer: Answer | null = null;
    let chunks: Buffer[] | null = null;
    let received = 0;
    let done = false;
    const onAbort = () => controller?.abort(abortReason(signal as AbortSignal));
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = () => {
      done = true;
      signal?.removeEventListener('abort', onAbort);
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (signal?.aborted) c.abort(abortReason(signal));
      },
      onResponseStart(c, status, headers) {
        // 1xx informational answers precede the real one.
        if (status < 200) return;
        const length = Number(headers['content-length']);
        const type = headers['content-type'];
        const whole = NULL_BODY.has(status) || (length <= maxBytes && typeof type === 'string' && type.startsWith('application/json'));
        if (whole) {
          answer = { status, headers, bytes: null, stream: null };
          chunks = [];
          return;
        }
        const stream = new Readable({
          read: () => c.resume(),
          // Dropped before its end (a byte bound, a reader that gave up): the request stops on the wire too.
          destroy: (error, callback) => {
            if (!done) c.abort(error ?? new Error('response body dropped before its end'));
            callback(error);
          },
        });
        answer = { status, headers, bytes: null, stream };
        resolve(answer);
      },
      onResponseData(c, chunk) {
        if (chunks) {
          chunks.push(chunk);
          received += chunk.length;
        } else if (answer?.stream && !answer.stream.push(chunk)) c.pause();
      },
      onResponseEnd() {
        finish();
        if (!answer) return reject(new Error('provider answered no response'));
        if (chunks) {
          answer.bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received);
          chunks = null;
          resolve(answer);
        } else answer.stream?.push(null);
      },
      onResponseError(_c, error) {
        if (done) return;
        finish();
        const reason = signal?.aborted ? abortReason(signal) : error;
        if (answer?.stream) answer.stream.destroy(reason);
        else reject(reason);
      },
    };
    try {
      dispatcher.dispatch(options, handler);
    } catch (error) {
      // Refused before it started (a header undici will not send, a closed pool).
      finish();
      reject(error);
    }
  });
}

function abortReason(signal: AbortSignal): Error {
  return (signal.reason as Error | undefined) ?? new DOMException('This operation was aborted', 'AbortError');
}

const utf8 = new TextDecoder();

/**
 * A Response over a body already read whole. The SDK reads an unstreamed
 * answer with `text()` once; a Response built on the bytes would wrap them
 * in a web stream and read that back chunk by chunk (~2 % of a
 * one-replicate run's CPU), and a Response built with headers copies them
 * twice (~6 µs). Here `text()`, `json()`, `bytes()` and `arrayBuffer()`
 * answer from the bytes, `body` is a stream over them made only if asked
 * for, a body is read once, as fetch's is, and `headers` reads undici's
 * parsed headers ({@link AnswerHeaders}).
 */
export class BufferedResponse extends Response {
  readonly #bytes: Uint8Array<ArrayBuffer>;
  readonly #headers: AnswerHeaders;
  #used = false;
  #stream: ReadableStream<Uint8Array> | null = null;

  constructor(bytes: Uint8Array<ArrayBuffer>, status: number, headers: IncomingHttpHeaders) {
    super(null, { status });
    this.#bytes = bytes;
    this.#headers = new AnswerHeaders(headers);
  }

  override get headers(): Headers {
    return this.#headers;
  }

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    if (NULL_BODY.has(this.status)) return null;
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
    return new BufferedResponse(this.#bytes, this.status, this.#headers.raw);
  }
}

/**
 * The headers of an answer, read from undici's parsed object (lower-case
 * names, a repeated header as an array) instead of copied into a Headers
 * list. Reads, iteration (sorted by name, values combined, `set-cookie`
 * kept apart) and copying (`new Headers(h)` iterates) behave as a fetch
 * answer's headers do; like those, they cannot be changed.
 */
// Extends Headers (so `instanceof Headers` holds) with every read replaced; typed as an object so its methods may replace the base's function-valued members.
export class AnswerHeaders extends (Headers as unknown as new () => object) implements Headers {
  readonly raw: IncomingHttpHeaders;
  #entries: [string, string][] | null = null;

  constructor(raw: IncomingHttpHeaders) {
    super();
    this.raw = raw;
  }

  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }

  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }

  getSetCookie(): string[] {
    const value = this.raw['set-cookie'];
    return value === undefined ? [] : Array.isArray(value) ? [...value] : [value];
  }

  /**
   * The entries, built on the first iteration (the openai SDK walks an
   * answer's headers twice per call, for its log lines). They cannot be
   * changed, so every iteration hands out the same pairs, frozen.
   */
  entries(): ArrayIterator<[string, string]> {
    if (this.#entries === null) {
      const entries: [string, string][] = [];
      for (const name of Object.keys(this.raw).sort()) {
        if (this.raw[name] === undefined) continue;
        if (name === 'set-cookie') for (const cookie of this.getSetCookie()) entries.push(Object.freeze([name, cookie]) as [string, string]);
        else entries.push(Object.freeze([name, this.get(name) as string]) as [string, string]);
      }
      this.#entries = entries;
    }
    return this.#entries.values();
  }

  *keys(): Generator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): Generator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): ArrayIterator<[string, string]> {
    return this.entries();
  }

  forEach(callback: (value: string, name: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [name, value] of this.entries()) callback.call(thisArg, value, name, this);
  }

  append(_name: string, _value: string): void {
    throw new TypeError('immutable: the headers of an answer cannot be changed');
  }

  set(_name: string, _value: string): void {
    throw new TypeError('immutable: the headers of an answer cannot be changed');
  }

  delete(_name: string): void {
    throw new TypeError('immutable: the headers of an answer cannot be changed');
  }
}

/** A WHATWG Response over an answer whose body streams in, bounded to `maxBytes`. */
function toResponse(status: number, headers: IncomingHttpHeaders, body: Readable, maxBytes: number): Response {
  let exceeded = false;
  const limited = body.pipe(
    new ByteLimit(maxBytes, () => {
      exceeded = true;
      // Stop reading: the connection is closed rather than drained of what is left.
      setImmediate(() => body.destroy());
    }),
  );
  body.once('error', (error) => {
    if (!exceeded) limited.destroy(error);
  });
  return new Response(Readable.toWeb(limited) as ReadableStream, { status, headers: new AnswerHeaders(headers) });
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
