import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_TABLE } from '../../src/errors.ts';
import {
  BundleSchema,
  DisagreementSchema,
  EarlyStopResultSchema,
  ErrorBodySchema,
  ReplicateSchema,
  StatisticsSchema,
  SummarySchema,
  UsageSchema,
} from '../../src/schemas/bundle.ts';
import { RunEventSchema } from '../../src/schemas/events.ts';
import { AgentSpecSchema, BudgetLimitsSchema, EarlyStopSchema, LaunchSchema, MessageSchema, RunRequestSchema } from '../../src/schemas/request.ts';
import { BudgetReportSchema, CostLineSchema, PlannerDecisionSchema, RunResultSchema } from '../../src/schemas/result.ts';
import { defineTool } from '../../src/toolkit/api.ts';
import { parseDeclarativeTool, toToolDefinition } from '../../src/toolkit/declarative.ts';
import { loadTools } from '../../src/toolkit/loader.ts';
import { getJson, postJson, startTestService, type TestService } from '../helpers/service.ts';
import { openSse, type SseCapture } from '../helpers/sse.ts';
import { waitFor } from '../helpers/waitFor.ts';

/*
 * The contract test: openapi.yaml must describe what the service really does.
 * Real responses of a real service (against the real simulator) are validated
 * against the schema documented for their route, status and media type, and
 * the document is compared with the zod schemas (the implementation's source
 * of truth), the error table, the Fastify routes and CONTRACT.md.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOC_ID = 'openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const doc: any = parseYaml(readFileSync(path.join(ROOT, 'openapi.yaml'), 'utf8'));
const schemas: Record<string, any> = doc.components.schemas;

/** The contract: docs/contract.md, the repository's copy of the shared contract (.ci/run keeps them equal). */
const contract = readFileSync(path.join(ROOT, 'docs', 'contract.md'), 'utf8');

/** The text of a `## name` section of CONTRACT.md. */
function contractSection(name: string): string {
  const start = contract.indexOf(`\n## ${name}`);
  if (start < 0) throw new Error(`CONTRACT.md has no "## ${name}" section`);
  const end = contract.indexOf('\n## ', start + 4);
  return contract.slice(start, end < 0 ? undefined : end);
}

/** The JSON code blocks of a section, `//` comments stripped. */
function contractJsonBlocks(name: string): any[] {
  const blocks = [...contractSection(name).matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  return blocks.map((b) => JSON.parse(b.replace(/\s\/\/.*$/gm, '')));
}

// ---------------------------------------------------------------- document helpers

const esc = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

/** The value at a JSON pointer of the document. */
function at(pointer: string): any {
  let node: any = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    node = node?.[key];
  }
  return node;
}

/** Follows local `$ref`s of the document. */
function deref(node: any): any {
  let current = node;
  for (let i = 0; current && typeof current === 'object' && typeof current.$ref === 'string'; i++) {
    if (i > 20 || !current.$ref.startsWith('#/')) throw new Error(`cannot follow $ref ${current.$ref}`);
    current = at(current.$ref.slice(1));
  }
  return current;
}

/** Every documented operation, as `METHOD /path/{param}`. */
function documentedOperations(): string[] {
  const out: string[] = [];
  for (const [p, item] of Object.entries<any>(doc.paths)) {
    for (const m of METHODS) if (item[m]) out.push(`${m.toUpperCase()} ${p}`);
  }
  return out;
}

/** The `type: <x>` const of each RunEvent branch, mapped to its component name. */
function eventComponents(): Map<string, string> {
  const out = new Map<string, string>();
  for (const branch of schemas.RunEvent.oneOf) {
    const name = String(branch.$ref).split('/').pop() as string;
    out.set(schemas[name].properties.type.const, name);
  }
  return out;
}

/**
 * A copy of a schema tree in which every object schema that lists
 * `properties` and says nothing about others refuses them: responses are
 * validated strictly, so a field the service sends but the document lacks
 * fails here (the document stays open for clients, as the contract allows
 * additions).
 */
function strictify(node: any): any {
  if (Array.isArray(node)) return node.map(strictify);
  if (!node || typeof node !== 'object') return node;
  const out: any = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' || key === '$defs') {
      out[key] = Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, strictify(v)]));
    } else if (['items', 'additionalProperties', 'not', 'anyOf', 'oneOf', 'allOf', 'prefixItems'].includes(key)) {
      out[key] = strictify(value);
    } else out[key] = value;
  }
  if (out.properties && out.additionalProperties === undefined && out.unevaluatedProperties === undefined && out.patternProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

// ---------------------------------------------------------------- ajv

const ajvWarnings: string[] = [];
const collect = (...args: unknown[]) => void ajvWarnings.push(args.map(String).join(' '));
const ajv = new Ajv2020({ strict: false, allErrors: true, logger: { log: collect, warn: collect, error: collect } });
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
ajv.addFormat('date-time', { type: 'string', validate: (s: string) => ISO_DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)) });
const strictSchemas = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, strictify(schema)]));
ajv.addSchema({ $id: DOC_ID, paths: doc.paths, components: { ...doc.components, schemas: strictSchemas } }, DOC_ID);

const compiled = new Map<string, ValidateFunction>();
/** The validator of the schema at a JSON pointer of the document. */
function validatorAt(pointer: string): ValidateFunction {
  let fn = compiled.get(pointer);
  if (!fn) {
    const target = at(pointer);
    if (target === undefined) throw new Error(`openapi.yaml has nothing at ${pointer}`);
    fn = ajv.compile({ $ref: `${DOC_ID}#${pointer}` });
    compiled.set(pointer, fn);
  }
  return fn;
}

function explain(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`).join('\n');
}

/** Asserts that `value` satisfies the schema at `pointer`, naming every violation. */
function expectValid(pointer: string, value: unknown, what = pointer): void {
  const validate = validatorAt(pointer);
  const ok = validate(value);
  if (!ok) throw new Error(`${what} does not match ${pointer}:\n${explain(validate.errors)}\n${JSON.stringify(value).slice(0, 2000)}`);
}

const componentPointer = (name: string) => `/components/schemas/${name}`;

/**
 * The pointer of the schema documented for a response: `path` as written in
 * openapi.yaml, the status must be listed explicitly (not only `default`).
 */
function responseSchemaPointer(route: string, method: string, status: number, mediaType = 'application/json'): string {
  const operation = doc.paths[route]?.[method];
  if (!operation) throw new Error(`openapi.yaml does not document ${method.toUpperCase()} ${route}`);
  let pointer = `/paths/${esc(route)}/${method}/responses/${status}`;
  let response = operation.responses?.[String(status)];
  if (!response) throw new Error(`openapi.yaml does not document status ${status} for ${method.toUpperCase()} ${route}`);
  if (response.$ref) {
    pointer = String(response.$ref).slice(1);
    response = deref(response);
  }
  if (!response.content?.[mediaType]) throw new Error(`${method.toUpperCase()} ${route} ${status} documents no ${mediaType} content`);
  return `${pointer}/content/${esc(mediaType)}/schema`;
}

/** The documented response object (refs followed). */
function documentedResponse(route: string, method: string, status: number): any {
  return deref(doc.paths[route]?.[method]?.responses?.[String(status)]);
}

/** Checks a real HTTP answer against the document: status, media type, body, and the headers that always come. */
function expectDocumented(route: string, method: string, res: { status: number; headers: Headers; body: unknown }, mediaType = 'application/json') {
  const response = documentedResponse(route, method, res.status);
  expect(response, `${method.toUpperCase()} ${route} ${res.status} is documented`).toBeDefined();
  expect(res.headers.get('content-type') ?? '').toContain(mediaType);
  expectValid(responseSchemaPointer(route, method, res.status, mediaType), res.body, `${method.toUpperCase()} ${route} → ${res.status}`);
  if (response.headers?.['X-Request-Id']) expect(res.headers.get('x-request-id')).toBeTruthy();
  const body = res.body as any;
  if (body && typeof body === 'object' && body.error && 'request_id' in body.error) {
    // An error envelope: its status is the code's, and its request id the header's.
    expect(ERROR_TABLE[body.error.code as keyof typeof ERROR_TABLE].status).toBe(res.status);
    expect(body.error.request_id).toBe(res.headers.get('x-request-id'));
  }
}

/** Every frame of an SSE capture, against the documented stream schema and its own event type's schema. */
function expectDocumentedStream(route: string, method: string, capture: SseCapture, seen: Set<string>, firstSeq = 1) {
  expect(capture.status).toBe(200);
  expect(capture.headers.get('content-type') ?? '').toContain('text/event-stream');
  const streamPointer = responseSchemaPointer(route, method, 200, 'text/event-stream');
  const byType = eventComponents();
  expect(capture.frames.length).toBeGreaterThan(0);
  capture.frames.forEach((frame, i) => {
    const data = frame.data;
    const component = byType.get(String(frame.event));
    expect(component, `event type ${frame.event} is documented`).toBeDefined();
    expectValid(componentPointer(component as string), data, `SSE event ${frame.event} #${frame.id}`);
    expectValid(streamPointer, data, `SSE frame #${frame.id} as RunEvent`);
    expect(data.type).toBe(frame.event);
    expect(frame.id).toBe(String(data.seq));
    expect(data.seq).toBe(firstSeq + i);
    seen.add(data.type);
  });
  expect(capture.frames.at(-1)?.event).toBe('run_completed');
}

// ---------------------------------------------------------------- zod comparison

/** Top-level property names of a zod object. */
const zodKeys = (schema: { shape: Record<string, unknown> }) => Object.keys(schema.shape).sort();
const docKeys = (name: string) => Object.keys(deref(schemas[name]).properties ?? {}).sort();

/** Splits `X | null` into X and a flag (type arrays, or anyOf/oneOf with a null branch). */
function splitNull(s: any): { inner: any; nullable: boolean } {
  if (!s || typeof s !== 'object') return { inner: s, nullable: false };
  if (Array.isArray(s.type) && s.type.includes('null')) {
    const rest = s.type.filter((t: string) => t !== 'null');
    return { inner: { ...s, type: rest.length === 1 ? rest[0] : rest }, nullable: true };
  }
  const branches = s.anyOf ?? s.oneOf;
  if (Array.isArray(branches) && branches.some((b: any) => b?.type === 'null')) {
    const rest = branches.filter((b: any) => b?.type !== 'null');
    const { anyOf: _a, oneOf: _o, ...others } = s;
    return { inner: rest.length === 1 ? { ...others, ...rest[0] } : { ...others, anyOf: rest }, nullable: true };
  }
  return { inner: s, nullable: false };
}

const BOUNDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'pattern'] as const;

/**
 * Walks the document's schema and zod's JSON Schema of the same thing side by
 * side: property names, `required`, types, enums, consts, nullability, strictness
 * (for inputs) and bounds must agree at every level. Returns the differences.
 */
function compareWithZod(api: any, zj: any, where: string, io: 'input' | 'output', out: string[] = []): string[] {
  const a = splitNull(deref(api));
  const zs = splitNull(zj);
  const A = deref(a.inner) ?? {};
  const Z = zs.inner ?? {};
  const zodIsAny = Object.keys(Z).filter((k) => !['description', '$schema', 'default'].includes(k)).length === 0;
  if (zodIsAny) return out;
  if (a.nullable !== zs.nullable) out.push(`${where}: nullable is ${a.nullable} in openapi, ${zs.nullable} in zod`);
  if (A.type !== undefined && Z.type !== undefined && JSON.stringify(A.type) !== JSON.stringify(Z.type)) {
    out.push(`${where}: type ${JSON.stringify(A.type)} in openapi, ${JSON.stringify(Z.type)} in zod`);
  }
  if (Z.const !== undefined && A.const !== Z.const) out.push(`${where}: const ${A.const} in openapi, ${Z.const} in zod`);
  if (Z.enum !== undefined) {
    const an = [...(A.enum ?? [])].sort();
    const zn = [...Z.enum].sort();
    if (JSON.stringify(an) !== JSON.stringify(zn)) out.push(`${where}: enum ${JSON.stringify(an)} in openapi, ${JSON.stringify(zn)} in zod`);
  }
  if (Z.properties) {
    if (!A.properties) out.push(`${where}: zod lists properties, openapi none`);
    else {
      const ak = Object.keys(A.properties).sort();
      const zk = Object.keys(Z.properties).sort();
      if (JSON.stringify(ak) !== JSON.stringify(zk)) out.push(`${where}: properties ${JSON.stringify(ak)} in openapi, ${JSON.stringify(zk)} in zod`);
      const ar = [...(A.required ?? [])].sort();
      const zr = [...(Z.required ?? [])].sort();
      if (JSON.stringify(ar) !== JSON.stringify(zr)) out.push(`${where}: required ${JSON.stringify(ar)} in openapi, ${JSON.stringify(zr)} in zod`);
      for (const k of zk) if (A.properties[k] !== undefined) compareWithZod(A.properties[k], Z.properties[k], `${where}.${k}`, io, out);
    }
  }
  if (io === 'input' && Z.additionalProperties === false && A.additionalProperties !== false) {
    out.push(`${where}: zod is strict, openapi lacks additionalProperties: false`);
  }
  if (Z.additionalProperties && typeof Z.additionalProperties === 'object') {
    if (A.additionalProperties === undefined || A.additionalProperties === false) out.push(`${where}: zod is a record, openapi has no additionalProperties schema`);
    else if (typeof A.additionalProperties === 'object') compareWithZod(A.additionalProperties, Z.additionalProperties, `${where}{*}`, io, out);
  }
  if (Z.items) {
    if (!A.items) out.push(`${where}: zod has items, openapi none`);
    else compareWithZod(A.items, Z.items, `${where}[]`, io, out);
  }
  const zb = Z.anyOf ?? Z.oneOf;
  if (Array.isArray(zb)) {
    const ab = A.anyOf ?? A.oneOf;
    if (!Array.isArray(ab) || ab.length !== zb.length) out.push(`${where}: zod is a union of ${zb.length}, openapi ${Array.isArray(ab) ? `of ${ab.length}` : 'is not'}`);
    else zb.forEach((b: any, i: number) => compareWithZod(ab[i], b, `${where}|${i}`, io, out));
  }
  if (io === 'input') {
    for (const bound of BOUNDS) {
      const zv = Z[bound];
      if (zv === undefined || zv === Number.MAX_SAFE_INTEGER || zv === -Number.MAX_SAFE_INTEGER) continue;
      if (A[bound] !== zv) out.push(`${where}: ${bound} ${A[bound]} in openapi, ${zv} in zod`);
    }
  }
  return out;
}

const zodJson = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as any;

// ---------------------------------------------------------------- routes

/** `METHOD /path/{param}` of every route registered in the app (HEAD twins of GET routes left out). */
function registeredRoutes(svc: TestService): Set<string> {
  const routes = new Set<string>();
  const stack: string[] = [];
  for (const line of svc.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[├└]── (.+?)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length / 4;
    stack.length = depth;
    stack.push(m[2] as string);
    const url = stack.join('').replace(/:(\w+)/g, '{$1}');
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) routes.add(`${method} ${url}`);
  }
  for (const r of [...routes]) if (r.startsWith('HEAD ') && routes.has(`GET ${r.slice(5)}`)) routes.delete(r);
  return routes;
}

// ---------------------------------------------------------------- the tests

const answerSchema = {
  type: 'object',
  properties: { answer: { type: 'string' }, score: { type: 'integer', minimum: 0, maximum: 10 } },
  required: ['answer'],
};

/** A composite tool, so that tool_started / tool_completed / synthesis_done are seen for real. */
const compositeTool = defineTool({
  name: 'contract_composite',
  version: '1.0.0',
  description: 'Runs the bundle tool as one step, with a synthesizer pass (contract test only).',
  input_schema: { type: 'object', required: ['input'] },
  output_schema: {},
  tags: ['contract-test'],
  dependencies: { bundle: '^1.0.0' },
  execute: (ctx) => ctx.runTool('bundle', { replicates: 2, synthesize: true }, { step: 'consensus' }),
});

/** Two agents, the first handing the task to the second (docs/handoffs.md), built as with HANDOFFS=on. */
const handoffTool = toToolDefinition(
  parseDeclarativeTool(
    { name: 'contract_handoff', version: '1.0.0', description: 'Hands the task to a second agent (contract test only).', handoffs: true, instructions: 'Hand it on.', agents: [{ name: 'second', instructions: 'Answer.' }] },
    'contract',
  ),
  'contract',
  { handoffs: { enabled: true, maxTurns: 4 } },
);

describe('openapi.yaml, the document itself', () => {
  it('is OpenAPI 3.1 with valid JSON Schema components, and ajv compiles them without warnings', () => {
    expect(String(doc.openapi)).toMatch(/^3\.1\./);
    for (const [name, schema] of Object.entries(schemas)) {
      const ok = ajv.validateSchema(schema);
      if (!ok) throw new Error(`components.schemas.${name} is not valid JSON Schema 2020-12: ${explain(ajv.errors)}`);
      validatorAt(componentPointer(name));
    }
    expect(ajvWarnings).toEqual([]);
  });

  it('resolves every $ref, and lists only existing properties as required', () => {
    const problems: string[] = [];
    const walk = (node: any, where: string) => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${where}/${i}`));
      if (!node || typeof node !== 'object') return;
      if (typeof node.$ref === 'string' && (!node.$ref.startsWith('#/') || at(node.$ref.slice(1)) === undefined)) problems.push(`${where}: $ref ${node.$ref}`);
      if (Array.isArray(node.required) && node.properties) {
        for (const r of node.required) if (!(r in node.properties)) problems.push(`${where}: required "${r}" is not a property`);
      }
      for (const [k, v] of Object.entries(node)) walk(v, `${where}/${k}`);
    };
    walk(doc, '#');
    expect(problems).toEqual([]);
  });

  it('gives every operation a unique operationId and documents X-Request-Id on every JSON response', () => {
    const ids = documentedOperations().map((op) => {
      const [method, route] = op.split(' ') as [string, string];
      return doc.paths[route][method.toLowerCase()].operationId;
    });
    expect(ids.every(Boolean)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const op of documentedOperations()) {
      const [method, route] = op.split(' ') as [string, string];
      for (const [status, raw] of Object.entries<any>(doc.paths[route][method.toLowerCase()].responses)) {
        const response = deref(raw);
        if (response.content?.['application/json']) expect(response.headers?.['X-Request-Id'], `${op} ${status}`).toBeDefined();
      }
    }
  });

  it('makes the RunEvent discriminator mapping name exactly its oneOf branches', () => {
    const mapping = schemas.RunEvent.discriminator.mapping as Record<string, string>;
    const byType = eventComponents();
    expect(Object.keys(mapping).sort()).toEqual([...byType.keys()].sort());
    for (const [type, ref] of Object.entries(mapping)) expect(ref).toBe(`#/components/schemas/${byType.get(type)}`);
  });
});

describe('openapi.yaml against the code', () => {
  it('documents exactly the error codes of ERROR_TABLE, in both directions', () => {
    const documented: string[] = schemas.ErrorCode.enum;
    expect([...documented].sort()).toEqual([...ERROR_CODES].sort());
    expect(new Set(documented).size).toBe(documented.length);
    // The envelope and the run-level error both use that enum.
    expect(schemas.ErrorEnvelope.properties.error.properties.code.$ref).toBe('#/components/schemas/ErrorCode');
    expect(schemas.ErrorBody.properties.code.$ref).toBe('#/components/schemas/ErrorCode');
  });

  it('has every error code CONTRACT.md lists, with its HTTP status', () => {
    const section = contractSection('Errors');
    const named = [...section.matchAll(/`([a-z][a-z0-9]*(?:_[a-z0-9]+)*)`/g)].map((m) => m[1] as string);
    expect(named.length).toBeGreaterThan(10);
    const codes = new Set<string>(ERROR_CODES);
    expect(named.filter((c) => !codes.has(c))).toEqual([]);
    for (const m of section.matchAll(/`([a-z_]+)` (\d{3})/g)) {
      expect(ERROR_TABLE[m[1] as keyof typeof ERROR_TABLE]?.status, m[1]).toBe(Number(m[2]));
    }
  });

  it.each([
    ['RunRequest', RunRequestSchema],
    ['RunResult', RunResultSchema],
    ['Bundle', BundleSchema],
    ['Replicate', ReplicateSchema],
    ['Summary', SummarySchema],
    ['Statistics', StatisticsSchema],
    ['EarlyStopResult', EarlyStopResultSchema],
    ['Disagreement', DisagreementSchema],
    ['Usage', UsageSchema],
    ['ErrorBody', ErrorBodySchema],
    ['CostLine', CostLineSchema],
    ['BudgetReport', BudgetReportSchema],
    ['PlannerDecision', PlannerDecisionSchema],
    ['Message', MessageSchema],
    ['AgentSpec', AgentSpecSchema],
    ['BudgetLimits', BudgetLimitsSchema],
    ['EarlyStopConfig', EarlyStopSchema],
    ['LaunchConfig', LaunchSchema],
  ] as const)('%s has exactly the properties of its zod schema', (name, schema) => {
    expect(docKeys(name)).toEqual(zodKeys(schema as unknown as { shape: Record<string, unknown> }));
  });

  it('documents exactly the event types of RunEventSchema, each with exactly its properties', () => {
    const byType = eventComponents();
    const zodTypes = RunEventSchema.options.map((o) => o.shape.type.value as string);
    expect([...byType.keys()].sort()).toEqual([...zodTypes].sort());
    for (const option of RunEventSchema.options) {
      const name = byType.get(option.shape.type.value) as string;
      expect(docKeys(name), `${name} properties`).toEqual(zodKeys(option));
    }
  });

  it.each([
    ['RunRequest', RunRequestSchema, 'input'],
    ['RunResult', RunResultSchema, 'output'],
    ['Bundle', BundleSchema, 'output'],
    ['ErrorBody', ErrorBodySchema, 'output'],
  ] as const)('%s agrees with zod at every level (required, types, enums, nullability, strictness, bounds)', (name, schema, io) => {
    expect(compareWithZod(schemas[name], zodJson(schema as z.ZodType, io), name, io)).toEqual([]);
  });

  it('every event schema agrees with zod at every level', () => {
    const byType = eventComponents();
    const problems: string[] = [];
    for (const option of RunEventSchema.options) {
      const name = byType.get(option.shape.type.value) as string;
      compareWithZod(schemas[name], zodJson(option, 'output'), name, 'output', problems);
    }
    expect(problems).toEqual([]);
  });

  it('has every field CONTRACT.md names for requests, results, bundles, events and tools', () => {
    const missing: string[] = [];
    const within = (keys: string[], name: string, where: string) => {
      const props = deref(schemas[name]).properties ?? {};
      for (const k of keys) if (!(k in props)) missing.push(`${where}.${k} (${name})`);
    };
    const [request] = contractJsonBlocks('Run request (`POST /v1/runs`)');
    within(Object.keys(request), 'RunRequest', 'request');
    within(Object.keys(request.agent), 'AgentSpec', 'request.agent');
    within(Object.keys(request.budget), 'BudgetLimits', 'request.budget');
    within(Object.keys(request.early_stop), 'EarlyStopConfig', 'request.early_stop');

    const [result] = contractJsonBlocks('Run result');
    within(Object.keys(result), 'RunResult', 'result');
    within(Object.keys(result.usage), 'Usage', 'result.usage');
    within(Object.keys(result.cost_breakdown[0]), 'CostLine', 'result.cost_breakdown[]');
    within(Object.keys(result.budget), 'BudgetReport', 'result.budget');
    const usedProps = schemas.BudgetReport.properties.used.properties;
    for (const k of Object.keys(result.budget.used)) if (!(k in usedProps)) missing.push(`result.budget.used.${k}`);
    within(Object.keys(result.planner), 'PlannerDecision', 'result.planner');
    const statuses = String(result.status).split('|').map((s) => s.trim());
    expect([...statuses].sort()).toEqual([...schemas.RunStatus.enum].sort());

    const [bundle] = contractJsonBlocks('Evidence Bundle');
    within(Object.keys(bundle), 'Bundle', 'bundle');
    within(Object.keys(bundle.replicates[0]), 'Replicate', 'bundle.replicates[]');
    expect(String(bundle.replicates[0].status).split('|').map((s) => s.trim()).sort()).toEqual([...schemas.Replicate.properties.status.enum].sort());
    within(Object.keys(bundle.summary), 'Summary', 'bundle.summary');
    within(Object.keys(bundle.summary.disagreements[0]), 'Disagreement', 'bundle.summary.disagreements[]');
    const valueProps = schemas.Disagreement.properties.values.items.properties;
    for (const k of Object.keys(bundle.summary.disagreements[0].values[0])) if (!(k in valueProps)) missing.push(`disagreements[].values[].${k}`);
    within(Object.keys(bundle.statistics), 'Statistics', 'bundle.statistics');
    within(Object.keys(bundle.early_stop), 'EarlyStopResult', 'bundle.early_stop');

    // Events: the types and the fields every `data` carries.
    const events = contractSection('Events (SSE)');
    const byType = eventComponents();
    for (const type of ['run_started', 'replicate_done', 'partial_summary', 'bundle_ready', 'run_completed']) {
      expect(events).toContain(`\`${type}\``);
      expect(byType.has(type), type).toBe(true);
    }
    for (const name of byType.values()) within(['type', 'seq', 'run_id', 'trace_id', 'ts', 'tool', 'source', 'provider', 'model'], name, 'event');

    // Tools: `{data: [{name, version, description, input_schema, output_schema, tags}]}`.
    const endpoints = contractSection('Endpoints');
    const toolFields = /\{data: \[\{([^}]*)\}\]\}/.exec(endpoints)?.[1]?.split(',').map((s) => s.trim()) ?? [];
    expect(toolFields.length).toBeGreaterThan(0);
    within(toolFields, 'Tool', 'tool');
    expect(schemas.ToolList.properties.data).toBeDefined();
    expect(missing).toEqual([]);
  });
});

describe('real responses match openapi.yaml', () => {
  let svc: TestService;
  const seenEvents = new Set<string>();

  beforeAll(async () => {
    const registry = await loadTools(path.join(ROOT, 'tools'));
    registry.register(compositeTool);
    registry.register(handoffTool);
    registry.checkDependencies();
    svc = await startTestService({ registry, env: { SSE_HEARTBEAT_MS: '20' } });
  });
  afterAll(async () => svc?.close());
  beforeEach(() => svc.sim.reset());

  const post = (body: unknown, headers: Record<string, string> = {}) => postJson(`${svc.url}/v1/runs`, body, headers);
  const stream = (url: string, init: RequestInit = {}) => openSse(url, init);
  const postStream = (body: unknown, headers: Record<string, string> = {}) =>
    stream(`${svc.url}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  async function waitForEnd(id: string): Promise<any> {
    return waitFor(async () => {
      const res = await getJson(`${svc.url}/v1/runs/${id}`);
      return !['queued', 'running'].includes(res.body.status) && res;
    }, { what: `run ${id} ending` });
  }

  it('routes: every documented operation is registered, and every registered route is documented', () => {
    const documented = documentedOperations();
    for (const op of documented) {
      const [method, route] = op.split(' ') as [string, string];
      expect(svc.app.hasRoute({ method: method as 'GET', url: route.replace(/\{(\w+)\}/g, ':$1') }), `${op} is registered`).toBe(true);
    }
    // Files under /docs/ and /console/ are the pages' assets (and CORS's catch-all preflight), not API operations.
    const isAsset = (route: string) => /^(GET|HEAD) \/(docs|console)(\/.|\*)/.test(route) || route === 'OPTIONS *';
    const registered = new Set([...registeredRoutes(svc)].filter((r) => !isAsset(r)));
    expect(registered.has('GET /healthz')).toBe(true);
    expect([...registered].sort()).toEqual([...documented].sort());
  });

  it('a succeeded run with an output_schema (one invalid replicate, early stop configured)', async () => {
    svc.sim.configure({ answers: { kind: 'sequence', values: [{ answer: 'Paris', score: 9 }, { answer: 'Paris', score: 99 }, { answer: 'Paris', score: 9 }, { answer: 'Lyon' }] } });
    const res = await post(
      { input: 'Capital of France?', replicates: 4, seed: 7, agent: { output_schema: answerSchema }, metadata: { team: 'contract' } },
      { 'x-request-id': 'contract-req-1', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    );
    expect(res.status).toBe(200);
    expectDocumented('/v1/runs', 'post', res);
    expect(res.body.status).toBe('succeeded');
    expect(res.body.trace_id).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(res.headers.get('x-request-id')).toBe('contract-req-1');
    expect(res.headers.get('location')).toBe(`/v1/runs/${res.body.id}`);
    expect(res.body.bundle.replicates.some((r: any) => r.error?.code === 'schema_validation')).toBe(true);

    const early = await post({ input: 'Agree fast', replicates: 6, agent: { output_schema: answerSchema }, early_stop: { quorum: 2, min_replicates: 2 } });
    expectDocumented('/v1/runs', 'post', early);

    const again = await getJson(`${svc.url}/v1/runs/${res.body.id}`);
    expect(again.status).toBe(200);
    expectDocumented('/v1/runs/{id}', 'get', again);
    expect(again.body.id).toBe(res.body.id);
  });

  it('a free-text run, and a run with a synthesizer pass', async () => {
    svc.sim.configure({ answers: { kind: 'sequence', values: ['The capital is Paris.', 'the capital is paris', 'Lyon, surely.'] } });
    const text = await post({ input: [{ role: 'user', content: 'Capital?' }], replicates: 3 });
    expect(text.status).toBe(200);
    expectDocumented('/v1/runs', 'post', text);
    expect(typeof text.body.output).toBe('string');

    const synthesized = await post({ input: 'Capital?', replicates: 2, synthesize: { instructions: 'Be brief.' } });
    expectDocumented('/v1/runs', 'post', synthesized);
  });

  it('runs that end failed or timed_out still answer 200 with a documented record', async () => {
    svc.sim.configure({ faultRate: { probability: 1, status: 400 } });
    const failed = await post({ input: 'Will fail', replicates: 2 });
    expect(failed.status).toBe(200);
    expectDocumented('/v1/runs', 'post', failed);
    expect(failed.body.status).toBe('failed');
    expect(failed.body.error).not.toBeNull();

    svc.sim.reset();
    svc.sim.configure({ latencyMs: 2000 });
    const timedOut = await post({ input: 'Too slow', replicates: 2, timeout_ms: 50 });
    expect(timedOut.status).toBe(200);
    expectDocumented('/v1/runs', 'post', timedOut);
    expect(timedOut.body.status).toBe('timed_out');
    expect(timedOut.body.error.code).toBe('timeout');
  });

  it('a background run: 202, its live record, its final record', async () => {
    svc.sim.configure({ latencyMs: 150 });
    const started = await post({ input: 'In the background', replicates: 3, background: true });
    expect(started.status).toBe(202);
    expectDocumented('/v1/runs', 'post', started);
    expect(started.headers.get('location')).toBe(`/v1/runs/${started.body.id}`);

    const live = await getJson(`${svc.url}/v1/runs/${started.body.id}`);
    expectDocumented('/v1/runs/{id}', 'get', live);
    expect(['queued', 'running']).toContain(live.body.status);

    const final = await waitForEnd(started.body.id);
    expectDocumented('/v1/runs/{id}', 'get', final);
    expect(final.body.status).toBe('succeeded');

    // A record with a partial bundle, while replicates are still arriving: two answer, two hang.
    svc.sim.reset();
    svc.sim.configure({ faults: [{ type: 'ok' }, { type: 'ok' }, { type: 'hang' }, { type: 'hang' }] });
    const partial = await post({ input: 'Partial', replicates: 4, background: true, seed: 3 });
    const midway = await waitFor(async () => {
      const res = await getJson(`${svc.url}/v1/runs/${partial.body.id}`);
      return res.body.status === 'running' && res.body.bundle?.replicates.length === 2 && res;
    }, { what: 'a partial bundle with two replicates' });
    expectDocumented('/v1/runs/{id}', 'get', midway);
    await postJson(`${svc.url}/v1/runs/${partial.body.id}/cancel`, {});
    expectDocumented('/v1/runs/{id}', 'get', await waitForEnd(partial.body.id));
  });

  it('a cancelled run: POST cancel answers the cancelled record', async () => {
    svc.sim.configure({ faults: [{ type: 'hang' }] });
    const started = await post({ input: 'Hangs', replicates: 1, background: true });
    expect(started.status).toBe(202);
    const cancelled = await postJson(`${svc.url}/v1/runs/${started.body.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expectDocumented('/v1/runs/{id}/cancel', 'post', cancelled);
    expect(cancelled.body.status).toBe('cancelled');
    expect(cancelled.body.error.code).toBe('cancelled');
    expectDocumented('/v1/runs/{id}', 'get', await getJson(`${svc.url}/v1/runs/${started.body.id}`));

    // Cancelling an ended run answers it as it is.
    const twice = await fetch(`${svc.url}/v1/runs/${started.body.id}/cancel`, { method: 'POST' });
    expectDocumented('/v1/runs/{id}/cancel', 'post', { status: twice.status, headers: twice.headers, body: await twice.json() });
  });

  it('every SSE event of a streamed run (stream: true and Accept), including resume', async () => {
    svc.sim.configure({ latencyMs: 30 });
    const capture = await postStream({ input: 'Stream it', replicates: 3, stream: true, agent: { output_schema: answerSchema } });
    expectDocumentedStream('/v1/runs', 'post', capture, seenEvents);
    expect(capture.frames[0]?.event).toBe('run_started');
    const runId = capture.frames[0]?.data.run_id as string;

    const viaAccept = await postStream({ input: 'Stream it by Accept', replicates: 2 }, { accept: 'text/event-stream' });
    expectDocumentedStream('/v1/runs', 'post', viaAccept, seenEvents);

    // The whole log again, then resumed with Last-Event-ID and with ?after=N.
    const all = await stream(`${svc.url}/v1/runs/${runId}/events`);
    expectDocumentedStream('/v1/runs/{id}/events', 'get', all, seenEvents);
    expect(all.frames.map((f) => f.id)).toEqual(capture.frames.map((f) => f.id));
    const resumed = await stream(`${svc.url}/v1/runs/${runId}/events`, { headers: { 'last-event-id': '3' } });
    expectDocumentedStream('/v1/runs/{id}/events', 'get', resumed, seenEvents, 4);
    const after = await stream(`${svc.url}/v1/runs/${runId}/events?after=5`);
    expectDocumentedStream('/v1/runs/{id}/events', 'get', after, seenEvents, 6);
  });

  it('SSE heartbeats are comment lines while a stream is idle', async () => {
    svc.sim.configure({ latencyMs: 300 });
    const capture = await postStream({ input: 'Slow stream', replicates: 1, stream: true });
    expectDocumentedStream('/v1/runs', 'post', capture, seenEvents);
    expect(capture.comments.length).toBeGreaterThan(0);
  });

  it('events of composed tools and of the synthesizer (tool_started, tool_completed, synthesis_done)', async () => {
    const capture = await postStream({ tool: 'contract_composite', input: 'Composite', stream: true });
    expectDocumentedStream('/v1/runs', 'post', capture, seenEvents);
    const types = new Set(capture.frames.map((f) => f.event));
    for (const t of ['tool_started', 'tool_completed', 'synthesis_done']) expect(types.has(t), t).toBe(true);
  });

  it('events of a handoff tool (handoff)', async () => {
    svc.sim.configure({ answers: { kind: 'script', when: 'always', turns: [{ tool_call: { name: 'transfer_to_second' } }, { text: 'Answered.' }] } });
    const capture = await postStream({ tool: 'contract_handoff', input: 'Hand me on', replicates: 1, stream: true });
    expectDocumentedStream('/v1/runs', 'post', capture, seenEvents);
    expect(capture.frames.map((f) => f.event)).toContain('handoff');
  });

  it('events of a run taken over from a dead replica (run_resumed)', async () => {
    // A run as a dead replica left it: started, one of two replicates done (its replicate taken from a real run).
    const donor = (await postJson(`${svc.url}/v1/runs`, { input: 'Resume me', replicates: 1 })).body;
    const prepared = svc.orchestrator.prepare({ tool: 'bundle', input: 'Resume me', replicates: 2 }, { trace: { trace_id: donor.trace_id, request_id: 'contract-resume' } as never });
    prepared.release();
    const now = new Date().toISOString();
    const stamp = { run_id: prepared.id, trace_id: donor.trace_id, request_id: 'contract-resume', tool: 'bundle', ts: now };
    await svc.store.saveRun({ ...donor, id: prepared.id, status: 'running', created_at: now, started_at: now, completed_at: null, bundle: null, output: null });
    await svc.store.appendEvent({ ...stamp, type: 'run_started', seq: 1, tool_version: donor.tool_version, planner: donor.planner, replicates: 2 });
    await svc.store.appendEvent({ ...stamp, type: 'replicate_done', seq: 2, replicate: donor.bundle.replicates[0] });
    await svc.orchestrator.process({ id: prepared.id, tool: 'bundle', tool_version: donor.tool_version, request: prepared.request, trace: prepared.trace, timeoutMs: 60_000 }, 2);
    const capture = await stream(`${svc.url}/v1/runs/${prepared.id}/events`);
    expectDocumentedStream('/v1/runs/{id}/events', 'get', capture, seenEvents);
    expect(capture.frames.map((f) => f.event)).toContain('run_resumed');
  });

  it('has seen and validated every documented event type', () => {
    expect([...seenEvents].sort()).toEqual([...eventComponents().keys()].sort());
  });

  it('idempotency: replay (Idempotent-Replayed), 409 while running, 422 on a different body', async () => {
    svc.sim.configure({ faults: [{ type: 'hang' }] });
    const body = { input: 'Idempotent', replicates: 1, background: true };
    const key = { 'idempotency-key': `contract-${Date.now()}` };
    const first = await post(body, key);
    expect(first.status).toBe(202);

    const inProgress = await post(body, key);
    expect(inProgress.status).toBe(409);
    expectDocumented('/v1/runs', 'post', inProgress);
    expect(inProgress.body.error.code).toBe('idempotency_in_progress');

    const conflict = await post({ ...body, input: 'Something else' }, key);
    expect(conflict.status).toBe(422);
    expectDocumented('/v1/runs', 'post', conflict);
    expect(conflict.body.error.code).toBe('idempotency_conflict');

    await postJson(`${svc.url}/v1/runs/${first.body.id}/cancel`, {});
    const replay = await post(body, key);
    expect(replay.status).toBe(200);
    expectDocumented('/v1/runs', 'post', replay);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.id).toBe(first.body.id);
    expect(documentedResponse('/v1/runs', 'post', 200).headers['Idempotent-Replayed']).toBeDefined();
  });

  it('error envelopes: 400 invalid_request, 404 tool_not_found, 404 not_found', async () => {
    for (const bad of [{ input: '' }, { input: 'x', replicate: 3 }, '{"input": "x",']) {
      const res = await post(bad);
      expect(res.status).toBe(400);
      expectDocumented('/v1/runs', 'post', res);
      expect(res.body.error.code).toBe('invalid_request');
    }
    const badHeader = await getJson(`${svc.url}/v1/runs/run_missing/events`, { 'last-event-id': 'abc' });
    expect(badHeader.status).toBe(400);
    expectDocumented('/v1/runs/{id}/events', 'get', badHeader);

    const noTool = await post({ tool: 'no_such_tool', input: 'x' });
    expect(noTool.status).toBe(404);
    expectDocumented('/v1/runs', 'post', noTool);
    expect(noTool.body.error.code).toBe('tool_not_found');

    const noToolItem = await getJson(`${svc.url}/v1/tools/no_such_tool`);
    expect(noToolItem.status).toBe(404);
    expectDocumented('/v1/tools/{name}', 'get', noToolItem);
    expect(noToolItem.body.error.code).toBe('tool_not_found');

    const missingRuns: Array<[string, string, Awaited<ReturnType<typeof getJson>>]> = [
      ['/v1/runs/{id}', 'get', await getJson(`${svc.url}/v1/runs/run_missing`)],
      ['/v1/runs/{id}/events', 'get', await getJson(`${svc.url}/v1/runs/run_missing/events`)],
      ['/v1/runs/{id}/cancel', 'post', await postJson(`${svc.url}/v1/runs/run_missing/cancel`, {})],
    ];
    for (const [route, method, res] of missingRuns) {
      expect(res.status).toBe(404);
      expectDocumented(route, method, res);
      expect(res.body.error.code).toBe('not_found');
    }
  });

  it('the OpenAI-compatible front door and the MCP endpoint: completion, chunks, models, JSON-RPC answers', async () => {
    const messages = [{ role: 'user', content: 'Say something.' }];
    const completion = await postJson(`${svc.url}/v1/chat/completions`, { model: 'bundle/gpt-4o-mini@2', messages, seed: 3 });
    expect(completion.status).toBe(200);
    expectDocumented('/v1/chat/completions', 'post', completion);
    expect(completion.headers.get('x-run-id')).toBe(completion.body.run_id);

    const streamed = await fetch(`${svc.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sentiment@2', messages, stream: true, stream_options: { include_usage: true } }),
    });
    expect(streamed.headers.get('content-type')).toContain('text/event-stream');
    const frames = (await streamed.text()).split('\n\n').filter((f) => f.startsWith('data: ')).map((f) => f.slice(6));
    expect(frames.at(-1)).toBe('[DONE]');
    const chunkPointer = responseSchemaPointer('/v1/chat/completions', 'post', 200, 'text/event-stream');
    for (const frame of frames.slice(0, -1)) expectValid(chunkPointer, JSON.parse(frame), 'a chat.completion.chunk');

    expectDocumented('/v1/chat/completions', 'post', await postJson(`${svc.url}/v1/chat/completions`, { model: 'no_such_tool', messages }));
    expectDocumented('/v1/chat/completions', 'post', await postJson(`${svc.url}/v1/chat/completions`, { model: 'bundle', messages: [] }));
    expectDocumented('/v1/models', 'get', await getJson(`${svc.url}/v1/models`));
    expectDocumented('/v1/models/{model}', 'get', await getJson(`${svc.url}/v1/models/${encodeURIComponent('bundle/gpt-4o-mini@5')}`));
    expectDocumented('/v1/models/{model}', 'get', await getJson(`${svc.url}/v1/models/nothing_here`));

    // MCP answers JSON or, when it has messages to send before the result, an SSE stream of them.
    const rpc = async (message: unknown) => {
      const res = await fetch(`${svc.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
        body: JSON.stringify(message),
      });
      const mediaType = (res.headers.get('content-type') ?? '').includes('text/event-stream') ? 'text/event-stream' : 'application/json';
      const text = await res.text();
      const out = mediaType === 'application/json' ? [JSON.parse(text)] : text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
      expect(res.status).toBe(200);
      for (const m of out) expectValid(responseSchemaPointer('/mcp', 'post', 200, mediaType), m, `an MCP message (${mediaType})`);
      return out;
    };
    const list = await rpc({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    expect(list.at(-1).result.tools.length).toBeGreaterThan(0);
    const call = await rpc({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'bundle', arguments: { input: 'Hi', replicates: 2 }, _meta: { progressToken: 'p1' } } });
    expect(call.filter((m) => m.method === 'notifications/progress').length).toBeGreaterThan(0);
    expect(call.at(-1)).toMatchObject({ id: 2, result: { structuredContent: { status: 'succeeded' } } });
    const notAllowed = await fetch(`${svc.url}/mcp`, { headers: { accept: 'text/event-stream' } });
    expectDocumented('/mcp', 'get', { status: notAllowed.status, headers: notAllowed.headers, body: await notAllowed.json() });
  });

  it('the tool catalogue: list, by tag, one tool, one version', async () => {
    const list = await getJson(`${svc.url}/v1/tools`);
    expect(list.status).toBe(200);
    expectDocumented('/v1/tools', 'get', list);
    expect(list.body.data.map((t: any) => t.name)).toContain('bundle');

    const tagged = await getJson(`${svc.url}/v1/tools?tag=contract-test`);
    expectDocumented('/v1/tools', 'get', tagged);
    expect(tagged.body.data.map((t: any) => t.name)).toEqual(['contract_composite']);

    for (const url of ['/v1/tools/bundle', '/v1/tools/bundle?version=%5E1.0.0', '/v1/tools/contract_composite']) {
      const item = await getJson(`${svc.url}${url}`);
      expect(item.status).toBe(200);
      expectDocumented('/v1/tools/{name}', 'get', item);
    }
  });

  it('/healthz, /readyz and /metrics', async () => {
    const health = await getJson(`${svc.url}/healthz`);
    expect(health.status).toBe(200);
    expectDocumented('/healthz', 'get', health);

    const ready = await getJson(`${svc.url}/readyz`);
    expect(ready.status).toBe(200);
    expectDocumented('/readyz', 'get', ready);

    const metrics = await fetch(`${svc.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(deref(doc.paths['/metrics'].get.responses['200']).content['text/plain']).toBeDefined();
    expect(await metrics.text()).toContain('# HELP');
  });
});

describe('auth and draining responses match openapi.yaml', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { API_KEYS: 'contract-key-1' } });
  });
  afterAll(async () => svc?.close());

  it('401 unauthorized on /v1 without a bearer token; health is open', async () => {
    const denied = await getJson(`${svc.url}/v1/tools`);
    expect(denied.status).toBe(401);
    expectDocumented('/v1/tools', 'get', denied);
    expect(denied.body.error.code).toBe('unauthorized');
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });

    const runDenied = await post401();
    expectDocumented('/v1/runs', 'post', runDenied);
    expectDocumented('/v1/chat/completions', 'post', await postJson(`${svc.url}/v1/chat/completions`, { model: 'bundle', messages: [{ role: 'user', content: 'hi' }] }));
    expectDocumented('/mcp', 'post', await postJson(`${svc.url}/mcp`, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { accept: 'application/json, text/event-stream' }));

    const allowed = await getJson(`${svc.url}/v1/tools`, { authorization: 'Bearer contract-key-1' });
    expect(allowed.status).toBe(200);
    expectDocumented('/v1/tools', 'get', allowed);
    expectDocumented('/healthz', 'get', await getJson(`${svc.url}/healthz`));
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });

  it('the run list, a minted stream token, events by token, 204 past the end and 401 for a bad token', async () => {
    const auth = { authorization: 'Bearer contract-key-1' };
    const done = await postJson(`${svc.url}/v1/runs`, { input: 'Listed', replicates: 1 }, auth);
    expectDocumented('/v1/runs', 'post', done);
    expect(typeof done.body.stream_token).toBe('string');

    const list = await getJson(`${svc.url}/v1/runs?limit=1&status=succeeded`, auth);
    expect(list.status).toBe(200);
    expectDocumented('/v1/runs', 'get', list);
    expect(list.body.data.map((r: { id: string }) => r.id)).toEqual([done.body.id]);
    const badCursor = await getJson(`${svc.url}/v1/runs?after=nonsense`, auth);
    expectDocumented('/v1/runs', 'get', badCursor);
    expect(badCursor.status).toBe(400);

    const minted = await postJson(`${svc.url}/v1/runs/${done.body.id}/stream_token`, '', auth);
    expect(minted.status).toBe(200);
    expectDocumented('/v1/runs/{id}/stream_token', 'post', minted);

    const events = await openSse(`${svc.url}/v1/runs/${done.body.id}/events?stream_token=${encodeURIComponent(minted.body.stream_token)}`);
    expectDocumentedStream('/v1/runs/{id}/events', 'get', events, new Set());
    const last = events.frames.at(-1)?.id as string;
    const ended = await fetch(`${svc.url}/v1/runs/${done.body.id}/events?stream_token=${encodeURIComponent(minted.body.stream_token)}`, { headers: { 'last-event-id': last } });
    expect(ended.status).toBe(204);
    expect(documentedResponse('/v1/runs/{id}/events', 'get', 204)).toBeDefined();
    const tampered = await getJson(`${svc.url}/v1/runs/${done.body.id}/events?stream_token=${encodeURIComponent(`${minted.body.stream_token}x`)}`);
    expect(tampered.status).toBe(401);
    expectDocumented('/v1/runs/{id}/events', 'get', tampered);
  });

  async function post401() {
    const res = await postJson(`${svc.url}/v1/runs`, { input: 'x' });
    expect(res.status).toBe(401);
    return res;
  }

  it('503 from /readyz and POST /v1/runs while draining', async () => {
    await svc.orchestrator.drain(0);
    const ready = await getJson(`${svc.url}/readyz`);
    expect(ready.status).toBe(503);
    expectDocumented('/readyz', 'get', ready);
    expect(ready.body.checks.draining).toBe(true);

    const refused = await postJson(`${svc.url}/v1/runs`, { input: 'x' }, { authorization: 'Bearer contract-key-1' });
    expect(refused.status).toBe(503);
    expectDocumented('/v1/runs', 'post', refused);
    expect(refused.body.error.code).toBe('unavailable');
  });
});

describe('HTTP edge answers match openapi.yaml', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService({ env: { API_KEYS: 'contract-edge-key', RATE_LIMIT_MAX: '2', LOG_LEVEL: 'warn' } });
  });
  afterAll(async () => svc?.close());
  const auth = { authorization: 'Bearer contract-edge-key' };

  it('414 for an over-long path parameter, 431 for oversized headers, 429 past the rate limit', async () => {
    const tooLong = await getJson(`${svc.url}/v1/runs/run_${'a'.repeat(200)}`, auth);
    expect(tooLong.status).toBe(414);
    expectDocumented('/v1/runs/{id}', 'get', tooLong);

    const bigHeaders = await getJson(`${svc.url}/v1/tools`, { ...auth, 'x-padding': 'p'.repeat(20_000) });
    expect(bigHeaders.status).toBe(431);
    expectDocumented('/v1/tools', 'get', bigHeaders);

    // Refused before routing, those two did not count against the limit of 2.
    for (let i = 0; i < 2; i++) expect((await getJson(`${svc.url}/v1/tools`, auth)).status).toBe(200);
    const limited = await getJson(`${svc.url}/v1/tools`, auth);
    expect(limited.status).toBe(429);
    expectDocumented('/v1/tools', 'get', limited);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describe('cross-model responses match openapi.yaml', () => {
  it('a panel run with a fallback, degraded capabilities and merge.weights, and GET /v1/models with its providers', async () => {
    const svc = await startTestService({
      providersYaml: 'providers:\n  - name: p1\n    base_url: ${SIM}\n    retry: { max_attempts: 1 }\n    capabilities:\n      m1: { seed: false, json_schema: false }\n  - name: p2\n    base_url: ${SIM}\n',
    });
    try {
      svc.sim.configure({ answers: { kind: 'fixed', value: { answer: 'Paris' } }, faults: [{ type: 'status', status: 500 }] });
      const res = await postJson(`${svc.url}/v1/runs`, {
        input: 'Capital of France?',
        replicates: 3,
        seed: 1,
        launch: { policy: 'waves', wave_size: 1 },
        agent: { models: ['p1/m1', 'p2/m2'], fallback_models: ['p2/m2'], output_schema: answerSchema },
        merge: { weights: { 'p2/m2': 2 } },
      });
      expect(res.status).toBe(200);
      expectDocumented('/v1/runs', 'post', res);
      const [moved, , degraded] = res.body.bundle.replicates;
      expect(moved.fallbacks).toEqual([{ provider: 'p1', model: 'm1', reason: 'provider_error' }]);
      expect(degraded.warnings.length).toBeGreaterThan(0);
      expect(Object.keys(res.body.bundle.by_model).sort()).toEqual(['p1/m1', 'p2/m2']);
      const models = await getJson(`${svc.url}/v1/models`);
      expectDocumented('/v1/models', 'get', models);
      expect(models.body.providers.map((p: any) => p.name)).toEqual(['p1', 'p2']);
    } finally {
      await svc.close();
    }
  });
});
