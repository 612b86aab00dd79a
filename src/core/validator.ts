import { Ajv, type Options, type ValidateFunction } from 'ajv';
import { canonicalJson } from '../bundle/canonical.ts';
import { ServiceError } from '../errors.ts';

/** Result of checking a value against a JSON Schema. */
export interface ValidationResult {
  valid: boolean;
  errors: string[];
}

/**
 * `addUsedSchema: false`: a request's `$id` is not registered on the Ajv
 * instance, so one request's schema is never visible to (or in conflict
 * with) another's, and a schema with an `$id` can be compiled again after
 * it left the cache (Ajv refuses a second schema under a registered id).
 */
const AJV_OPTIONS: Options = { allErrors: true, strict: false, validateFormats: false, addUsedSchema: false };

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
  #ajv = new Ajv(AJV_OPTIONS);
  /** Schemas compiled (or tried) on the current instance. */
  #compiled = 0;

  constructor(maxSchemas = 256) {
    this.#max = maxSchemas;
  }

  /** Schemas held in the cache. */
  get size(): number {
    return this.#cache.size;
  }

  /** Compiles (or fetches) a schema; an uncompilable schema is the caller's mistake (400). */
  compile(schema: Record<string, unknown>): ValidateFunction {
    const key = canonicalJson(schema);
    const hit = this.#cache.get(key);
    if (hit) this.#cache.delete(key);
    if (hit?.ajv === this.#ajv) {
      this.#cache.set(key, hit);
      return hit.fn;
    }
    if (this.#compiled >= this.#max) {
      this.#ajv = new Ajv(AJV_OPTIONS);
      this.#compiled = 0;
    }
    const ajv = this.#ajv;
    // Failed compiles count too: Ajv keeps what it took in before it refused the schema.
    this.#compiled++;
    let fn: ValidateFunction;
    try {
      fn = ajv.compile(schema);
    } catch (error) {
      throw new ServiceError('invalid_request', `output_schema is not a valid JSON Schema: ${(error as Error).message}`);
    }
    this.#cache.set(key, { fn, ajv });
    if (this.#cache.size > this.#max) this.#cache.delete(this.#cache.keys().next().value as string);
    return fn;
  }

  /** Checks `value` against `schema`. */
  validate(schema: Record<string, unknown>, value: unknown): ValidationResult {
    const fn = this.compile(schema);
    if (fn(value)) return { valid: true, errors: [] };
    return { valid: false, errors: (fn.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`) };
  }
}
