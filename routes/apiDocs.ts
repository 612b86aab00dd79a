import { readFileSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { PROJECT_ROOT } from '../src/lib/projectRoot.ts';

/** The checked-in API description, at the repository root. */
export const OPENAPI_PATH = path.join(PROJECT_ROOT, 'openapi.yaml');

/** The document as checked in, its JSON text, and the copy Swagger UI renders; read on first use. */
interface Documents {
  yamlText: string;
  jsonText: string;
  forUi: Record<string, unknown>;
}

function readDocuments(): Documents {
  const yamlText = readFileSync(OPENAPI_PATH, 'utf8');
  const document = parseYaml(yamlText) as Record<string, unknown>;
  // The rendered copy: "Try it out" calls this same server, and Swagger UI (which only knows the default
  // dialect, the same 2020-12 schemas) is not told about `jsonSchemaDialect`, which it would warn about.
  const { jsonSchemaDialect: _dialect, ...rest } = document;
  return { yamlText, jsonText: JSON.stringify(document), forUi: { ...rest, servers: [{ url: '/', description: 'this server' }] } };
}

/** Swagger UI in an app of its own, built on the first `/docs` request and answered through `inject`. */
async function docsApp(documents: Documents): Promise<FastifyInstance> {
  const [{ fastifySwagger }, { fastifySwaggerUi }] = await Promise.all([import('@fastify/swagger'), import('@fastify/swagger-ui')]);
  const app = Fastify({ logger: false });
  await app.register(fastifySwagger, { mode: 'static', specification: { document: documents.forUi as never } });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    // Swagger UI's default validator badge calls validator.swagger.io; offline means none.
    uiConfig: { validatorUrl: null, docExpansion: 'list', deepLinking: true },
    staticCSP: "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'",
  });
  await app.ready();
  return app;
}

/** Headers of the inner answer that describe its framing, not its content: the outer reply sets its own. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date']);

/**
 * `GET /openapi.json`, `GET /openapi.yaml` (the document as checked in) and
 * `GET /docs` (Swagger UI, served from the package's own files: no CDN,
 * works offline). The document is read and parsed on the first request for
 * it, and Swagger UI (@fastify/swagger, @fastify/swagger-ui) loaded on the
 * first request for `/docs`: a service nobody browses the docs of does not
 * hold them (~15 MiB of RSS at idle, BENCHMARKS.md).
 */
export const apiDocsRoutes: FastifyPluginAsync = async (app) => {
  let documents: Documents | undefined;
  const docs = (): Documents => (documents ??= readDocuments());
  let inner: Promise<FastifyInstance> | undefined;
  app.addHook('onClose', async () => {
    if (inner) await (await inner).close();
  });

  app.get('/openapi.json', async (_request, reply) => reply.type('application/json').send(docs().jsonText));
  app.get('/openapi.yaml', async (_request, reply) => reply.type('application/yaml').send(docs().yamlText));

  const serveDocs = async (request: FastifyRequest, reply: FastifyReply) => {
    inner ??= docsApp(docs()).catch((error: unknown) => {
      inner = undefined;
      throw error;
    });
    const answer = await (await inner).inject({ method: request.method as 'GET', url: request.url, headers: request.headers });
    // The docs app has nothing but files and pages to serve: whatever it refuses is not found, in the service's envelope.
    if (answer.statusCode >= 400) return reply.callNotFound();
    for (const [name, value] of Object.entries(answer.headers)) if (!HOP_HEADERS.has(name) && value !== undefined) reply.header(name, value);
    return reply.code(answer.statusCode).send(answer.rawPayload);
  };
  app.get('/docs', serveDocs);
  app.get('/docs/*', serveDocs);
};
