import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerContent, chooseAnswer, estimateTokens, ToolCallAnswer } from './answers.ts';
import { defaultBehavior, SimulatorConfigError, validateBehavior } from './behavior.ts';
import { mulberry32, type Rng } from './prng.ts';
import { embeddingsResponse } from './embeddings.ts';
import { parseModelRequest, type ApiKind, type ParsedRequest } from './request.ts';
import type {
  FaultSpec,
  RecordedRequest,
  RequestOutcome,
  Simulator,
  SimulatorBehavior,
  SimulatorOptions,
} from './types.ts';
import { emptyStats, readJson, ringBuffer, sendJson } from './serverParts.ts';
import { chatCompletion, chatFrames, errorBody, errorTypeFor, modelList, responseFrames, responseObject, type AnswerMeta } from './wire.ts';

const DEFAULT_SEED = 0x5eed;
/** The refusal text of a `refusal` fault that names none. */
const DEFAULT_REFUSAL = "I'm sorry, but I can't help with that.";
const noop = (): void => {};

/**
 * Starts an OpenAI-compatible simulator on loopback. Plain node:http and
 * precomputed frames keep per-request overhead negligible next to the
 * service it is benchmarking.
 */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const startup: SimulatorBehavior = { ...defaultBehavior(), ...validateBehavior(opts.behavior ?? {}) };
  const seed = opts.seed ?? DEFAULT_SEED;
  const controlEnabled = opts.control ?? true;
  const recorder = ringBuffer(opts.maxRecorded ?? 1000);
  let behavior: SimulatorBehavior = { ...startup };
  let faultQueue: FaultSpec[] = [...startup.faults];
  let answerIndex = 0;
  let latencyIndex = 0;
  let simRng: Rng = mulberry32(seed);
  let stats = emptyStats();
  let idleWaiters: (() => void)[] = [];
  let idCounter = 0;
  // Abort hooks of in-flight requests, so close() can settle them without waiting for socket events.
  const active = new Set<() => void>();
  // Live latency and chunk-delay timers: an aborted request must leave none behind (tests check pendingTimers()).
  const timers = new Set<NodeJS.Timeout>();
  const later = (fn: () => void, ms: number): NodeJS.Timeout => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  };

  function configure(b: Partial<SimulatorBehavior>): void {
    const patch = validateBehavior(b);
    behavior = { ...behavior, ...patch };
    if (patch.faults) faultQueue = [...patch.faults];
    if (patch.answers) answerIndex = 0;
    if (patch.latencyMs) latencyIndex = 0;
  }

  function reset(): void {
    behavior = { ...startup, faults: [] };
    faultQueue = [];
    answerIndex = 0;
    latencyIndex = 0;
    simRng = mulberry32(seed);
    // In-flight requests still finish and decrement the fresh counters; keep them consistent.
    stats = { ...emptyStats(), inFlight: stats.inFlight, maxInFlight: stats.inFlight };
    recorder.clear();
  }

  function latency(): number {
    const l = behavior.latencyMs;
    if (typeof l === 'number') return l;
    if ('sequence' in l) return l.sequence[latencyIndex++ % l.sequence.length] as number;
    return l.max > l.min ? l.min + simRng() * (l.max - l.min) : l.min;
  }

  function nextFault(): FaultSpec | undefined {
    const scripted = faultQueue.shift();
    if (scripted) return scripted;
    const { probability, status } = behavior.faultRate;
    return probability > 0 && simRng() < probability ? { type: 'status', status } : undefined;
  }

  function modelRequest(api: ApiKind, path: string, req: IncomingMessage, res: ServerResponse, body: unknown): void {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      sendJson(res, 400, errorBody('The request body must be a JSON object.', 'invalid_request_error', null));
      return;
    }
    const parsed = parseModelRequest(api, body);
    const headers = req.headers;
    // Recordings are served over HTTP; a real key pointed here by mistake must not leak.
    if (headers.authorization !== undefined) headers.authorization = '[redacted]';
    const rec: RecordedRequest = {
      path, method: req.method ?? 'POST', headers, body, seed: parsed.seed, model: parsed.model,
      receivedAt: Date.now(), status: null, outcome: 'pending',
    };
    recorder.push(rec);
    const s = stats;
    s.received++;
    if (++s.inFlight > s.maxInFlight) s.maxInFlight = s.inFlight;

    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: RequestOutcome, status: number | null): void => {
      if (done) return;
      done = true;
      active.delete(abort);
      rec.outcome = outcome;
      rec.status = status;
      if (outcome === 'completed') stats.completed++;
      else if (outcome === 'aborted') stats.aborted++;
      else stats.failed++;
      if (--stats.inFlight <= 0) {
        stats.inFlight = 0;
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      }
    };
    const abort = (): void => {
      if (done) return;
      clearTimeout(timer);
      if (timer) timers.delete(timer);
      timer = undefined;
      finish('aborted', res.headersSent ? res.statusCode : null);
    };
    active.add(abort);
    res.on('close', abort);

    const fault = nextFault();
    if (fault?.type === 'hang') return;
    const act = (): void => {
      timer = undefined;
      if (fault?.type === 'refusal') answer(parsed, res, finish, (t) => (timer = t), fault.refusal ?? DEFAULT_REFUSAL);
      else if (fault && fault.type !== 'ok') runFault(fault, parsed, req, res, finish);
      else answer(parsed, res, finish, (t) => (timer = t));
    };
    const delay = latency();
    if (delay > 0) timer = later(act, delay);
    else act();
  }

  type Finish = (outcome: RequestOutcome, status: number | null) => void;

  function runFault(fault: FaultSpec, parsed: ParsedRequest, req: IncomingMessage, res: ServerResponse, finish: Finish): void {
    if (fault.type === 'reset') {
      finish('fault', null);
      req.socket.destroy();
    } else if (fault.type === 'malformed') {
      finish('fault', 200);
      const payload = parsed.stream ? 'data: {"id":"broken","choices":[{\n\n' : '{"id":"broken","object":';
      res.writeHead(200, { 'content-type': parsed.stream ? 'text/event-stream' : 'application/json' });
      res.end(payload);
    } else if (fault.type === 'status') {
      const body = fault.body !== undefined
        ? fault.body
        : errorBody(`Simulated HTTP ${fault.status} fault.`, errorTypeFor(fault.status), 'simulated_fault');
      finish('fault', fault.status);
      sendJson(res, fault.status, body, { 'x-request-id': `req_sim${(++idCounter).toString(16)}`, ...fault.headers });
    }
  }

  /** A normal answer, or with `refusal` the model refusing (a 200 all the same; embeddings ignore it). */
  function answer(parsed: ParsedRequest, res: ServerResponse, finish: Finish, setTimer: (t: NodeJS.Timeout | undefined) => void, refusal?: string): void {
    if (parsed.api === 'embeddings') {
      finish('completed', 200);
      sendJson(res, 200, embeddingsResponse(parsed, behavior.usage.inputTokens ?? estimateTokens(parsed.promptChars)), { 'x-request-id': `req_sim${(++idCounter).toString(16)}` });
      return;
    }
    let value: unknown;
    try {
      // A refusal takes no answer from the spec, so the answers after it stay where they were.
      value = refusal === undefined ? chooseAnswer(behavior.answers, parsed, answerIndex++, simRng) : '';
    } catch (err) {
      finish('fault', 500);
      sendJson(res, 500, errorBody(`Simulator answer function threw: ${String(err)}`, 'server_error', 'simulator_error'));
      return;
    }
    const toolCall = refusal === undefined && value instanceof ToolCallAnswer ? value : null;
    const content = refusal !== undefined || toolCall ? '' : answerContent(value);
    const n = (++idCounter).toString(16).padStart(8, '0');
    const meta: AnswerMeta = {
      id: parsed.api === 'chat' ? `chatcmpl-sim${n}` : `resp_sim${n}`,
      created: Math.floor(Date.now() / 1000),
      content,
      usage: {
        input: behavior.usage.inputTokens ?? estimateTokens(parsed.promptChars),
        output: behavior.usage.outputTokens ?? estimateTokens(toolCall ? toolCall.name.length + toolCall.arguments.length : (refusal ?? content).length),
      },
      refusal,
      ...(toolCall ? { toolCall: { id: `call_sim${n}`, name: toolCall.name, arguments: toolCall.arguments } } : {}),
    };
    const requestId = { 'x-request-id': `req_sim${n}` };
    if (!parsed.stream) {
      finish('completed', 200);
      sendJson(res, 200, parsed.api === 'chat' ? chatCompletion(parsed, meta) : responseObject(parsed, meta, 'completed'), requestId);
      return;
    }
    const frames = parsed.api === 'chat' ? chatFrames(parsed, meta) : responseFrames(parsed, meta);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...requestId });
    const delay = behavior.streamChunkDelayMs;
    if (delay <= 0) {
      finish('completed', 200);
      res.end(frames.join(''));
      return;
    }
    let i = 0;
    const next = (): void => {
      setTimer(undefined);
      res.write(frames[i++] as string);
      if (i < frames.length) setTimer(later(next, delay));
      else {
        finish('completed', 200);
        res.end();
      }
    };
    next();
  }

  function control(path: string, method: string, req: IncomingMessage, res: ServerResponse): boolean {
    if (method === 'GET' && path === '/_simulator/stats') sendJson(res, 200, { ...stats });
    else if (method === 'GET' && path === '/_simulator/requests') sendJson(res, 200, recorder.list());
    else if (method === 'GET' && path === '/_simulator/config') sendJson(res, 200, { behavior });
    else if (method === 'POST' && path === '/_simulator/reset') {
      req.resume();
      reset();
      sendJson(res, 200, { ok: true });
    } else if (method === 'POST' && path === '/_simulator/config') {
      readJson(req, res, (body) => {
        try {
          configure(body as Partial<SimulatorBehavior>);
        } catch (err) {
          if (!(err instanceof SimulatorConfigError)) throw err;
          sendJson(res, 400, errorBody(err.message, 'invalid_request_error', 'invalid_simulator_config'));
          return;
        }
        sendJson(res, 200, { behavior });
      });
    } else return false;
    return true;
  }

  const server = createServer((req, res) => {
    req.on('error', noop);
    res.on('error', noop);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    if (method === 'POST' && path === '/v1/chat/completions') {
      readJson(req, res, (body) => modelRequest('chat', path, req, res, body));
    } else if (method === 'POST' && path === '/v1/responses') {
      readJson(req, res, (body) => modelRequest('responses', path, req, res, body));
    } else if (method === 'POST' && path === '/v1/embeddings') {
      readJson(req, res, (body) => modelRequest('embeddings', path, req, res, body));
    } else if (method === 'GET' && path === '/v1/models') {
      sendJson(res, 200, modelList(Math.floor(Date.now() / 1000)));
    } else if (!controlEnabled || !control(path, method, req, res)) {
      req.resume();
      sendJson(res, 404, errorBody(`Unknown request URL: ${method} ${path}.`, 'invalid_request_error', 'unknown_url'));
    }
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`;
  let closing: Promise<void> | undefined;

  return {
    url,
    configure,
    reset,
    stats: () => ({ ...stats }),
    get requests() {
      return recorder.list();
    },
    pendingTimers: () => timers.size,
    waitForIdle: () => (stats.inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => idleWaiters.push(r))),
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const abort of [...active]) abort();
      });
      return closing;
    },
  };
}
