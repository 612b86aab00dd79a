import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

const require = createRequire(import.meta.url);

type Factory = (...args: never[]) => unknown;
type Compilers = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;

/**
 * Fastify's schema compilers, loaded when a route first needs one. Fastify
 * otherwise requires `@fastify/ajv-compiler` and
 * `@fastify/fast-json-stringify-compiler` (Ajv, its JTD build,
 * fast-json-stringify: ~100 modules) when it is built; no route of the
 * service declares a Fastify schema (bodies are checked with zod), so an
 * idle service never uses them. The Swagger UI of `/docs` does, once
 * `routes/apiDocs.ts` registers it; then the real compilers are built,
 * with Fastify's own options.
 */
export function lazySchemaCompilers(): Compilers {
  return {
    buildValidator: lazyPool('@fastify/ajv-compiler') as Compilers['buildValidator'],
    buildSerializer: lazyPool('@fastify/fast-json-stringify-compiler') as Compilers['buildSerializer'],
  };
}

/** A compiler pool factory (what the package's default export returns), built on its first call. */
function lazyPool(name: string) {
  let pool: Factory | null = null;
  return (...args: never[]) => {
    pool ??= (require(name) as () => Factory)();
    return pool(...args);
  };
}
