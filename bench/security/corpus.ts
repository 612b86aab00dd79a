/**
 * Hostile request bodies, each with the answer the service must give: the
 * test suite (test/e2e/hostileInput.test.ts) and `npm run security:probe`
 * (bench/security/hostileInput.ts) run the same list, the first asserting,
 * the second printing figures for SECURITY.md.
 */
import type { AnswerSpec } from '../../src/providers/simulator/types.ts';

/** What the service must answer to an attack. */
export type Expected =
  /** Refused up front: this HTTP status and error code, the message matching. */
  | { refused: number; code: string; message: RegExp }
  /** Accepted: the run completes (synchronously) with this status and, when failed, this error code. */
  | { run: 'succeeded' | 'failed'; errorCode?: string };

/** One attack. */
export interface Attack {
  name: string;
  /** The JSON text sent (a string, so deep nesting needs no deep object to build). */
  body: string;
  /** Simulator answers while it runs (default: generated from the schema). */
  answers?: AnswerSpec;
  headers?: Record<string, string>;
  expected: Expected;
}

/** `$defs` where level i refers to level i−1 twice: 2^depth subschemas once expanded, in ~2 KB. */
export function doublingDefs(depth: number, combinator: 'anyOf' | 'allOf' = 'anyOf'): Record<string, unknown> {
  const defs: Record<string, unknown> = { l0: { type: 'string' } };
  for (let i = 1; i <= depth; i++) defs[`l${i}`] = { [combinator]: [{ $ref: `#/$defs/l${i - 1}` }, { $ref: `#/$defs/l${i - 1}` }] };
  return { type: 'object', properties: { answer: { $ref: `#/$defs/l${depth}` } }, required: ['answer'], $defs: defs };
}

/** A `{type: object}` schema whose `answer` string must match `pattern`. */
function patterned(pattern: string): Record<string, unknown> {
  return { type: 'object', properties: { answer: { type: 'string', pattern } }, required: ['answer'] };
}

/** `"[".repeat(n)` … without building the value. */
function nestedText(depth: number, key: string): string {
  return `{"input":"x","${key}":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
}

const run = (body: Record<string, unknown>) => JSON.stringify({ input: 'hostile', replicates: 1, ...body });
const schemaRun = (schema: unknown) => run({ agent: { output_schema: schema } });
/** 30 letters and no Z: the input that makes backtracking engines try 2^30 ways. */
const NO_MATCH = { kind: 'fixed', value: { answer: 'a'.repeat(30) } } as const satisfies AnswerSpec;

/** The corpus. */
export const ATTACKS: Attack[] = [
  {
    name: 'exponential $defs (anyOf, depth 25)',
    body: schemaRun(doublingDefs(25)),
    expected: { refused: 400, code: 'invalid_request', message: /MAX_SCHEMA_REF_EXPANSION/ },
  },
  {
    name: 'exponential $defs (allOf, depth 24)',
    body: schemaRun(doublingDefs(24, 'allOf')),
    expected: { refused: 400, code: 'invalid_request', message: /MAX_SCHEMA_REF_EXPANSION/ },
  },
  {
    name: 'catastrophic pattern ^(([a-z ])+)*Z$',
    body: schemaRun(patterned('^(([a-z ])+)*Z$')),
    answers: NO_MATCH,
    expected: { run: 'failed', errorCode: 'schema_validation' },
  },
  {
    name: 'catastrophic pattern (a+)+$ (against "a…a!")',
    body: schemaRun(patterned('^(a+)+$')),
    answers: { kind: 'fixed', value: { answer: `${'a'.repeat(40)}!` } },
    expected: { run: 'failed', errorCode: 'schema_validation' },
  },
  {
    name: 'catastrophic pattern (a|a)*b',
    body: schemaRun(patterned('^(a|a)*b$')),
    answers: NO_MATCH,
    expected: { run: 'failed', errorCode: 'schema_validation' },
  },
  {
    name: 'catastrophic patternProperties ^(\\w+\\s?)*$',
    body: schemaRun({ type: 'object', patternProperties: { '^(\\w+\\s?)*$': { type: 'number' } } }),
    answers: { kind: 'fixed', value: { [`${'word '.repeat(8)}!`]: 1 } },
    expected: { run: 'succeeded' },
  },
  {
    name: 'lookahead pattern (not linear-time)',
    body: schemaRun(patterned('^(?=a)a+$')),
    expected: { refused: 400, code: 'invalid_request', message: /not supported/ },
  },
  {
    name: 'schema nested 40 deep',
    body: schemaRun(JSON.parse(`${'{"not":'.repeat(40)}{}${'}'.repeat(40)}`)),
    expected: { refused: 400, code: 'invalid_request', message: /MAX_SCHEMA_DEPTH/ },
  },
  {
    name: 'body nested 20,000 deep (options, with Idempotency-Key)',
    body: nestedText(20_000, 'options'),
    headers: { 'idempotency-key': 'deep-options' },
    expected: { refused: 400, code: 'invalid_request', message: /MAX_JSON_DEPTH/ },
  },
  {
    name: 'model output nested 20,000 deep',
    body: schemaRun({ type: 'object' }),
    // A string is sent verbatim: the simulator answers with this JSON text.
    answers: { kind: 'fixed', value: `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}` },
    expected: { run: 'failed', errorCode: 'schema_validation' },
  },
  {
    name: '$async schema (a rejected promise nobody awaits)',
    body: schemaRun({ $async: true, type: 'object', properties: { answer: { type: 'number' } } }),
    expected: { refused: 400, code: 'invalid_request', message: /\$async/ },
  },
  {
    name: 'remote $ref',
    body: schemaRun({ type: 'object', properties: { answer: { $ref: 'https://attacker.example/schema.json' } } }),
    expected: { refused: 400, code: 'invalid_request', message: /remote or relative \$ref/ },
  },
  {
    name: 'relative $ref',
    body: schemaRun({ type: 'object', properties: { answer: { $ref: 'other.json#/x' } } }),
    expected: { refused: 400, code: 'invalid_request', message: /remote or relative \$ref/ },
  },
  {
    name: '$ref loop on the same value',
    body: schemaRun({ anyOf: [{ $ref: '#' }, { type: 'string' }] }),
    expected: { refused: 400, code: 'invalid_request', message: /\$ref loop/ },
  },
  {
    name: 'huge enum (100,000 values)',
    body: schemaRun({ type: 'object', properties: { answer: { enum: Array.from({ length: 100_000 }, (_, i) => i) } } }),
    expected: { refused: 400, code: 'invalid_request', message: /MAX_SCHEMA_NODES/ },
  },
  {
    name: 'uniqueItems over objects, uncapped (quadratic check)',
    body: schemaRun({ type: 'object', properties: { answer: { type: 'array', uniqueItems: true } } }),
    expected: { refused: 400, code: 'invalid_request', message: /uniqueItems/ },
  },
  {
    name: 'tool_version of 900 KB',
    body: run({ tool_version: `>=${'1'.repeat(900_000)}` }),
    expected: { refused: 400, code: 'invalid_request', message: /tool_version/ },
  },
  {
    name: 'model name of 450 KB',
    body: run({ agent: { model: 'm'.repeat(450_000) } }),
    expected: { refused: 400, code: 'invalid_request', message: /agent\.model/ },
  },
];
