import { createRequire } from 'node:module';
import type { Ajv, Options, ValidateFunction } from 'ajv';
import type { RegExpEngine } from 'ajv/dist/types/index.js';
import { RE2JS } from 're2js';
import { canonicalJson } from '../bundle/canonical.ts';
import type { Config } from '../config.ts';
import { ServiceError } from '../errors.ts';
import { checkSchemaLimits, DEFAULT_SCHEMA_LIMITS, jsonValueDepth, type SchemaLimits } from './schemaLimits.ts';
import { truncateForMessage } from './truncate.ts';

export { DEFAULT_SCHEMA_LIMITS, type SchemaLimits } from './schemaLimits.ts';

/** Result of checking a value against a JSON Schema. */
export interface ValidationResult {
  valid: boolean;
  errors: string[];
  /**
   * The value must not be kept: it nests past MAX_JSON_DEPTH, deeper than
   * the recursive walks after validation (JSON.stringify of the answer among
   * them) can take.
   */
  discard?: boolean;
}

/** The schema limits a config sets (MAX_SCHEMA_*, and MAX_JSON_DEPTH for checked values). */
export function schemaLimitsFrom(config: Config): SchemaLimits {
  return {
    maxBytes: config.MAX_SCHEMA_BYTES,
    maxDepth: config.MAX_SCHEMA_DEPTH,
    maxNodes: config.MAX_SCHEMA_NODES,
    maxRefExpansion: config.MAX_SCHEMA_REF_EXPANSION,
    maxValueDepth: config.MAX_JSON_DEPTH,
  };
}

/** The base URI given to a schema without an `$id`, so that `#` resolves. */
const LOCAL_ID = 'urn:orchestrator:output-schema';

/** Errors reported per failed check, at most (Ajv stops at the first failing keyword anyway). */
const MAX_ERRORS = 20;

/**
 * Patterns (`pattern`, `patternProperties`, `propertyNames.pattern`) run on
 * RE2 (re2js), whose matching is linear in the input: a backtracking
 * pattern such as `^(([a-z ])+)*Z$` cannot stall the event loop. What RE2
 * cannot do in linear time (lookaround, backreferences) fails to compile,
 * so the schema is refused up front. `toString` is Ajv's key for sharing a
 * compiled pattern in generated code, so it must differ per pattern.
 */
export const linearRegExp: RegExpEngine = Object.assign(
  (pattern: string, flags: string) => {
    let re: RE2JS;
    try {
      re = RE2JS.compile(RE2JS.translateRegExp(pattern));
    } catch (error) {
      throw new Error(`pattern ${JSON.stringify(truncateForMessage(pattern, 100))} is not supported (linear-time RE2 syntax, no lookaround or backreferences): ${(error as Error).message}`, {
        cause: error,
      });
    }
    return { test: (s: string) => re.test(s), toString: () => `/${pattern}/${flags}` };
  },
  { code: 're2js' },
);

/**
 * `allErrors: false`: validation stops at the first failing keyword, so the
 * work and the error list are bounded by the schema's size, never by the
 * number of ways a value can fail (collecting every error of a doubled
 * `$defs` chain is 2^depth errors).
 *
 * `addUsedSchema: false`: a request's `$id` is not registered on the Ajv
 * instance, so one request's schema is never visible to (or in conflict
 * with) another's, and a schema with an `$id` can be compiled again after
 * it left the cache (Ajv refuses a second schema under a registered id).
 * No `loadSchema`: a remote `$ref` is never fetched (and refused before Ajv sees it).
 */
const AJV_OPTIONS: Options = { allErrors: false, strict: false, validateFormats: false, addUsedSchema: false, code: { regExp: linearRegExp } };

const require = createRequire(import.meta.url);

/** A fresh Ajv instance; Ajv (~85 modules) is loaded at the first schema compiled, not at start-up. */
function newAjv(): Ajv {
  const { Ajv: AjvClass } = require('ajv') as typeof import('ajv');
  return new AjvClass(AJV_OPTIONS);
}

interface CachedSchema {
  fn: ValidateFunction;
  /** The Ajv instance that compiled it. */
  ajv: Ajv;
}

/**
 * Compiles JSON Schemas once and keeps them (bounded, least recently used
 * out first): requests usually repeat the same few schemas, and compiling
 * is far costlier than validating.
 *
 * Schemas come from requests, so the number of distinct ones is unbounded,
 * and an Ajv instance keeps every schema it ever compiled, whatever leaves
 * our cache: its cache keyed by the schema object, and the schema, its
 * `pattern` regexps and the like as values of its generated code's scope
 * (`removeSchema` clears only the former). So each instance compiles at
 * most `maxSchemas` schemas, then a fresh one takes over, and a cached
 * schema of an older instance is compiled again on the current one when it
 * is next used. After `maxSchemas` compiles every entry of an instance
 * before the previous one has been used again (so recompiled) or evicted:
 * at most two instances, with at most 2 × `maxSchemas` schemas, are ever
 * reachable, however many distinct schemas came in.
 */
export class SchemaValidator {
  readonly #cache = new Map<string, CachedSchema>();
  readonly #max: number;
  readonly #limits: SchemaLimits;
  /** Created at the first compile. */
  #ajv: Ajv | null = null;
  /** Schemas compiled (or tried) on the current instance. */
  #compiled = 0;

  constructor(maxSchemas = 256, limits: SchemaLimits = DEFAULT_SCHEMA_LIMITS) {
    this.#max = maxSchemas;
    this.#limits = limits;
  }

  /** Schemas held in the cache. */
  get size(): number {
    return this.#cache.size;
  }

  /**
   * Compiles (or fetches) a schema; an uncompilable schema, or one past a
   * limit (see {@link checkSchemaLimits}), is the caller's mistake (400).
   */
  compile(schema: Record<string, unknown>): ValidateFunction {
    // Depth first: the cache key below walks the whole schema.
    if (jsonValueDepth(schema, this.#limits.maxDepth) > this.#limits.maxDepth) {
      throw new ServiceError('invalid_request', `output_schema is nested more than ${this.#limits.maxDepth} levels deep (MAX_SCHEMA_DEPTH)`);
    }
    const key = canonicalJson(schema);
    const hit = this.#cache.get(key);
    if (hit) this.#cache.delete(key);
    if (hit?.ajv === this.#ajv) {
      this.#cache.set(key, hit);
      return hit.fn;
    }
    // Only schemas not yet compiled are analysed; a cached one passed already.
    checkSchemaLimits(schema, this.#limits, Buffer.byteLength(key));
    if (this.#ajv === null || this.#compiled >= this.#max) {
      this.#ajv = newAjv();
      this.#compiled = 0;
    }
    const ajv = this.#ajv;
    // Failed compiles count too: Ajv keeps what it took in before it refused the schema.
    this.#compiled++;
    let fn: ValidateFunction;
    try {
      // Without an $id (and with addUsedSchema off) Ajv cannot resolve `{"$ref": "#"}`; any fixed id
      // serves, since nothing is registered under it.
      fn = ajv.compile(typeof schema.$id === 'string' ? schema : { $id: LOCAL_ID, ...schema });
    } catch (error) {
      throw new ServiceError('invalid_request', `output_schema is not a valid JSON Schema: ${truncateForMessage((error as Error).message, 300)}`);
    }
    // Belt and braces for checkSchemaLimits' $async refusal: an async validator must never be called here.
    if ((fn as { $async?: unknown }).$async) throw new ServiceError('invalid_request', 'output_schema uses $async, which is not supported');
    this.#cache.set(key, { fn, ajv });
    if (this.#cache.size > this.#max) this.#cache.delete(this.#cache.keys().next().value as string);
    return fn;
  }

  /**
   * Checks `value` against `schema`. A value nested deeper than
   * `maxValueDepth` is invalid without being walked (a model can answer
   * with JSON deep enough to overflow any recursive walk after this one).
   */
  validate(schema: Record<string, unknown>, value: unknown): ValidationResult {
    const fn = this.compile(schema);
    const max = this.#limits.maxValueDepth;
    if (jsonValueDepth(value, max) > max) return { valid: false, discard: true, errors: [`/ is nested more than ${max} levels deep (MAX_JSON_DEPTH); the output was dropped`] };
    if (fn(value)) return { valid: true, errors: [] };
    return {
      valid: false,
      errors: (fn.errors ?? []).slice(0, MAX_ERRORS).map((e) => `${truncateForMessage(e.instancePath || '/', 100)} ${e.message ?? 'is invalid'}`),
    };
  }
}
