import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fastifySwagger } from '@fastify/swagger';
import { fastifySwaggerUi } from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import { parse as parseYaml } from 'yaml';

/** The checked-in API description, at the repository root. */
export const OPENAPI_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'openapi.yaml');

/**
 * `GET /openapi.json`, `GET /openapi.yaml` (the document as checked in,
 * read once at startup) and `GET /docs` (Swagger UI, served from the
 * package's own files: no CDN, works offline).
 */
export const apiDocsRoutes: FastifyPluginAsync = async (app) => {
  const yamlText = readFileSync(OPENAPI_PATH, 'utf8');
  const document = parseYaml(yamlText) as Record<string, unknown>;
  const jsonText = JSON.stringify(document);

  app.get('/openapi.json', async (_request, reply) => reply.type('application/json').send(jsonText));
  app.get('/openapi.yaml', async (_request, reply) => reply.type('application/yaml').send(yamlText));

  // The rendered copy: "Try it out" calls this same server, and Swagger UI (which only knows the default
  // dialect, the same 2020-12 schemas) is not told about `jsonSchemaDialect`, which it would warn about.
  const { jsonSchemaDialect: _dialect, ...rest } = document;
  const forUi = { ...rest, servers: [{ url: '/', description: 'this server' }] };
  await app.register(fastifySwagger, { mode: 'static', specification: { document: forUi as never } });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    // Swagger UI's default validator badge calls validator.swagger.io; offline means none.
    uiConfig: { validatorUrl: null, docExpansion: 'list', deepLinking: true },
    staticCSP: "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'",
  });
};
