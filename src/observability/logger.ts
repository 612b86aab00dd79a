import pino, { type ChildLoggerOptions, type DestinationStream, type Logger } from 'pino';
import type { Redactor } from '../lib/redaction.ts';

/** Paths pino masks whatever the level: credentials never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'apiKey',
  'api_key',
  '*.apiKey',
  '*.api_key',
  'OPENAI_API_KEY',
  '*.OPENAI_API_KEY',
  'config.API_KEYS',
  'stream_token',
  '*.stream_token',
  'config.STREAM_TOKEN_SECRET',
];

/**
 * The service logger: JSON lines, credentials redacted by path, and every
 * string argument passed through the redaction hook (API keys and bearer
 * tokens inside messages, prompts or error texts are masked too).
 */
export function createLogger(options: { level: string; redact: Redactor; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'llm-orchestrator' },
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      hooks: {
        logMethod(args, method) {
          const cleaned = args.map((a) => (typeof a === 'string' ? (options.redact(a, 'log') as string) : a));
          return method.apply(this, cleaned as Parameters<typeof method>);
        },
      },
      formatters: {
        log(object) {
          return options.redact(object, 'log') as Record<string, unknown>;
        },
      },
      serializers: {
        err: pino.stdSerializers.err,
      },
    },
    options.destination,
  );
}

/** pino's level methods: the ones a disabled level answers with a no-op. */
const LEVEL_METHODS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);
const noop = () => {};

/**
 * `parent.child(bindings)`, built on first use. A run's logger is made for
 * every run, but with the level above `info` most runs never log, and
 * pino's `child` (its bindings serialized and redacted) is ~0.7 % of a
 * one-replicate run's CPU (BENCHMARKS.md, scenario 7). A call at a level
 * the parent has off answers a no-op without building the child; anything
 * else builds it once and is forwarded to it.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  const real = () => (child ??= parent.child(bindings));
  return new Proxy({} as Logger, {
    get(_target, prop) {
      if (child === undefined) {
        // A child has its parent's level until someone sets its own (which builds it).
        if (prop === 'isLevelEnabled') return (level: string) => parent.isLevelEnabled(level);
        if (prop === 'level') return parent.level;
        // A child of the unbuilt child is lazy too: the parent's child with both sets of bindings.
        if (prop === 'child') {
          return (more: Record<string, unknown>, options?: ChildLoggerOptions) =>
            options && Object.keys(options).length > 0 ? real().child(more, options) : lazyChild(parent, { ...bindings, ...more });
        }
        // Looked up is not called (Fastify checks a request logger's methods): built at the first call.
        if (typeof prop === 'string' && LEVEL_METHODS.has(prop)) {
          if (!parent.isLevelEnabled(prop)) return noop;
          return (...args: unknown[]) => {
            const built = real();
            (built[prop as 'info'] as (...a: unknown[]) => void).apply(built, args);
          };
        }
      }
      const built = real();
      const value = Reflect.get(built, prop) as unknown;
      return typeof value === 'function' ? value.bind(built) : value;
    },
    set(_target, prop, value) {
      return Reflect.set(real(), prop, value);
    },
    has(_target, prop) {
      return Reflect.has(real(), prop);
    },
  });
}
