import { z } from 'zod';
import type { AnswerFn, AnswerSpec, SimulatorBehavior } from './types.ts';

/** Thrown when a behavior given to configure() or POST /_simulator/config is invalid. */
export class SimulatorConfigError extends Error {
  override name = 'SimulatorConfigError';
}

/** Built-in behavior: instant, schema-aware answers, no faults. */
export function defaultBehavior(): SimulatorBehavior {
  return {
    latencyMs: 0,
    answers: { kind: 'auto' },
    usage: {},
    faults: [],
    faultRate: { probability: 0, status: 500 },
    streamChunkDelayMs: 0,
  };
}

const ms = z.number().finite().nonnegative();
const tokens = z.number().int().nonnegative();
const httpStatus = z.number().int().min(200).max(599);

const latency = z.union([
  ms,
  z
    .strictObject({ min: ms, max: ms })
    .refine((v) => v.min <= v.max, { message: 'latencyMs.min must not exceed latencyMs.max' }),
  z.strictObject({ sequence: z.array(ms).min(1) }),
]);

const weighted = z
  .array(z.strictObject({ value: z.unknown(), weight: z.number().finite().nonnegative() }))
  .min(1)
  .refine((vs) => vs.some((v) => v.weight > 0), { message: 'at least one weight must be positive' });

const answers: z.ZodType<AnswerSpec> = z.lazy(() =>
  z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('auto') }),
    z.strictObject({ kind: z.literal('fixed'), value: z.unknown() }),
    z.strictObject({ kind: z.literal('sequence'), values: z.array(z.unknown()).min(1) }),
    z.strictObject({ kind: z.literal('distribution'), values: weighted }),
    z.strictObject({
      kind: z.literal('byPrompt'),
      rules: z.array(z.strictObject({ match: z.string().min(1), values: weighted })),
      fallback: answers.optional(),
    }),
    z.strictObject({
      kind: z.literal('script'),
      turns: z
        .array(
          z.union([
            z.strictObject({ tool_call: z.strictObject({ name: z.string().min(1), arguments: z.unknown().optional() }) }),
            z.strictObject({ text: z.string() }),
            z.strictObject({ value: z.unknown() }),
          ]),
        )
        .min(1),
      when: z.enum(['tools', 'always']).optional(),
      fallback: answers.optional(),
    }),
    z.strictObject({
      kind: z.literal('function'),
      fn: z.custom<AnswerFn>((v) => typeof v === 'function', {
        message: 'answers.fn must be a function (only possible in-process)',
      }),
    }),
  ]),
);

const fault = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('status'),
    status: httpStatus,
    headers: z.record(z.string(), z.string()).optional(),
    body: z.unknown().optional(),
  }),
  z.strictObject({ type: z.literal('hang') }),
  z.strictObject({ type: z.literal('reset') }),
  z.strictObject({ type: z.literal('malformed') }),
  z.strictObject({ type: z.literal('refusal'), refusal: z.string().min(1).max(10_000).optional() }),
  z.strictObject({ type: z.literal('ok') }),
]);

const behaviorPatch = z
  .strictObject({
    latencyMs: latency,
    answers,
    usage: z.strictObject({ inputTokens: tokens.optional(), outputTokens: tokens.optional() }),
    faults: z.array(fault),
    faultRate: z.strictObject({ probability: z.number().min(0).max(1), status: httpStatus }),
    streamChunkDelayMs: ms,
  })
  .partial();

/**
 * Validates a partial behavior. Unknown keys are rejected so a typo in a
 * benchmark config fails loudly instead of silently running the defaults.
 */
export function validateBehavior(input: unknown): Partial<SimulatorBehavior> {
  const r = behaviorPatch.safeParse(input);
  if (!r.success) {
    throw new SimulatorConfigError(`invalid simulator behavior: ${z.prettifyError(r.error)}`);
  }
  const out: Partial<SimulatorBehavior> = {};
  for (const [k, v] of Object.entries(r.data)) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}
