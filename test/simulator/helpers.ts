import type { JsonSchemaDefinition } from '@openai/agents';
import { Ajv } from 'ajv';
import OpenAI from 'openai';
import type { Simulator } from '../../src/providers/simulator/index.ts';
import { waitFor } from '../helpers/waitFor.ts';

/** SDK client pointed at a simulator; retries off so every call is one request. */
export function clientFor(sim: Simulator): OpenAI {
  return new OpenAI({ baseURL: sim.url, apiKey: 'sk-test', maxRetries: 0 });
}

/** Polls until `cond` holds; for states reached through another socket (e.g. a request arriving). */
export async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  await waitFor(cond, { timeoutMs, intervalMs: 5 });
}

const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });

/** Independent JSON Schema check of what the simulator generated. */
export function schemaErrors(schema: object, value: unknown): string | null {
  const validate = ajv.compile(schema);
  return validate(value) ? null : ajv.errorsText(validate.errors);
}

/** Root URL of the simulator (without /v1) for the control endpoints. */
export function rootOf(sim: Simulator): string {
  return sim.url.replace(/\/v1$/, '');
}

/** A structured-output schema exercising enums, bounds, arrays, nesting and anyOf. */
export const gradeSchema: JsonSchemaDefinition['schema'] = {
  type: 'object',
  properties: {
    verdict: { type: 'string', enum: ['correct', 'incorrect', 'unsure'] },
    score: { type: 'integer', minimum: 1, maximum: 5 },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
    passed: { type: 'boolean' },
    reasons: { type: 'array', items: { type: 'string', minLength: 3 }, minItems: 2, maxItems: 4 },
    detail: {
      type: 'object',
      properties: { topic: { type: 'string' }, level: { anyOf: [{ type: 'integer', minimum: 10, maximum: 12 }, { type: 'null' }] } },
      required: ['topic', 'level'],
      additionalProperties: false,
    },
  },
  required: ['verdict', 'score', 'confidence', 'passed', 'reasons', 'detail'],
  additionalProperties: false,
};
