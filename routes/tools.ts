import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { ToolDefinition } from '../src/toolkit/api.ts';
import type { ToolRegistry } from '../src/toolkit/registry.ts';
import { parseOr400 } from './http.ts';

/** What the catalogue routes need. */
export interface ToolsRoutesOptions {
  registry: ToolRegistry;
  provider: string;
  defaultModel: string;
}

const ListQuery = z.object({ tag: z.string().min(1).optional() });
const GetQuery = z.object({ version: z.string().min(1).optional() });
const NameParams = z.object({ name: z.string().min(1) });

/** `GET /v1/tools`, `GET /v1/tools/{name}`: the tool catalogue. */
export const toolsRoutes: FastifyPluginAsync<ToolsRoutesOptions> = async (app, { registry, provider, defaultModel }) => {
  const describe = (tool: ToolDefinition) => ({
    object: 'tool',
    name: tool.name,
    version: tool.version,
    versions: registry.versions(tool.name),
    description: tool.description,
    input_schema: tool.input_schema,
    output_schema: tool.output_schema,
    tags: tool.tags,
    defaults: tool.defaults ?? {},
    dependencies: tool.dependencies ?? {},
    provider,
    model: tool.defaults?.agent?.model ?? defaultModel,
  });

  app.get('/v1/tools', async (request) => {
    const { tag } = parseOr400(ListQuery, request.query, 'query');
    return { object: 'list', data: registry.list(tag).map(describe) };
  });

  app.get('/v1/tools/:name', async (request) => {
    const { name } = parseOr400(NameParams, request.params, 'path');
    const { version } = parseOr400(GetQuery, request.query, 'query');
    return describe(registry.resolve(name, version));
  });
};
