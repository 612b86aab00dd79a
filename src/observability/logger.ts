import pino, { type DestinationStream, type Logger } from 'pino';
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
