import { Ajv, type ValidateFunction } from 'ajv';
import { canonicalJson } from '../bundle/canonical.ts';
import { ServiceError } from '../errors.ts';

/** Result of checking a value against a JSON Schema. */
export interface ValidationResult {
  valid: boolean;
  errors: string[];
}

/**
 * Compiles JSON Schemas once and keeps them (bounded, least recently used
 * out first): requests usually repeat the same few schemas, and compiling
 * is far costlier than validating.
 */
export class SchemaValidator {
  readonly #ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  readonly #cache = new Map<string, ValidateFunction>();
  readonly #max: number;

  constructor(maxSchemas = 256) {
    this.#max = maxSchemas;
  }

  /** Compiles (or fetches) a schema; an uncompilable schema is the caller's mistake (400). */
  compile(schema: Record<string, unknown>): ValidateFunction {
    const key = canonicalJson(schema);
    const hit = this.#cache.get(key);
    if (hit) {
      this.#cache.delete(key);
      this.#cache.set(key, hit);
      return hit;
    }
    let fn: ValidateFunction;
    try {
      fn = this.#ajv.compile(schema);
    } catch (error) {
      throw new ServiceError('invalid_request', `output_schema is not a valid JSON Schema: ${(error as Error).message}`);
    }
    this.#cache.set(key, fn);
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
