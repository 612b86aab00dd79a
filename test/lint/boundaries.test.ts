import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The import-boundary rules of eslint.config.js catch what STYLE.md forbids:
 * each case lints a small module placed (virtually) in one layer and expects
 * the rule that names the boundary. A rule that silently stopped matching
 * (a renamed folder, a glob typo) fails here instead of passing `npm run lint`.
 */
const eslint = new ESLint({ cwd: path.resolve(import.meta.dirname, '../..') });

async function ruleIds(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.resolve(import.meta.dirname, '../..', file) });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

describe('import boundaries', () => {
  it.each([
    ['src/runs/probe.ts', "import Fastify from 'fastify'; export const f = Fastify;", 'no-restricted-imports'],
    ['src/toolkit/probe.ts', "import type { FastifyReply } from 'fastify'; export type R = FastifyReply;", 'no-restricted-imports'],
    ['src/runs/probe.ts', "import { toolsRoutes as runRoutes } from '../../routes/tools.ts'; export const r = runRoutes;", 'import-x/no-restricted-paths'],
    ['src/replicates/probe.ts', "import { tool } from '../../tools/bundle.ts'; export const t = tool;", 'import-x/no-restricted-paths'],
    ['src/bundle/probe.ts', "import { readFileSync } from 'node:fs'; export const r = readFileSync;", 'no-restricted-imports'],
    ['src/bundle/probe.ts', "import { ServiceError } from '../errors.ts'; export const e = ServiceError;", 'import-x/no-restricted-paths'],
    ['src/providers/probe.ts', "import { Orchestrator } from '../runs/orchestrator.ts'; export const o = Orchestrator;", 'import-x/no-restricted-paths'],
    ['src/schemas/probe.ts', "import { ModelCallError } from '../providers/gateway.ts'; export const m = ModelCallError;", 'import-x/no-restricted-paths'],
    ['src/providers/simulator/probe.ts', "import { ServiceError } from '../../errors.ts'; export const e = ServiceError;", 'import-x/no-restricted-paths'],
    ['tools/probe.ts', "import { ServiceError } from '../src/errors.ts'; export const e = ServiceError;", 'import-x/no-restricted-paths'],
    ['tools/probe.ts', "import pino from 'pino'; export const p = pino;", 'no-restricted-imports'],
    ['routes/probe.ts', "import { tool } from '../tools/bundle.ts'; export const t = tool;", 'import-x/no-restricted-paths'],
    ['src/store/probe.ts', "import type { FastifyReply } from 'fastify'; export type R = FastifyReply;", 'no-restricted-imports'],
    ['src/lib/validator.ts', "import { Orchestrator } from '../runs/orchestrator.ts'; export const o = Orchestrator;", 'import-x/no-restricted-paths'],
    ['src/lib/probe.ts', "import { ModelCallError } from '../providers/gateway.ts'; export const m = ModelCallError;", 'import-x/no-restricted-paths'],
    ['src/replicates/probe.ts', "import { Orchestrator } from '../runs/orchestrator.ts'; export const o = Orchestrator;", 'import-x/no-restricted-paths'],
    ['src/toolkit/probe.ts', "import { RunFollower } from '../runs/eventFeed.ts'; export const f = RunFollower;", 'import-x/no-restricted-paths'],
  ])('%s: %s is refused', async (file, code, rule) => {
    expect(await ruleIds(file, code)).toContain(rule);
  });

  it.each([
    ['src/app.ts', "import Fastify from 'fastify'; import { toolsRoutes as runRoutes } from '../routes/tools.ts'; export const x = [Fastify, runRoutes];"],
    ['src/providers/probe.ts', "import { Semaphore } from '../lib/semaphore.ts'; export const s = Semaphore;"],
    ['src/bundle/probe.ts', "import { UsageSchema } from '../schemas/bundle.ts'; export const u = UsageSchema;"],
    ['tools/probe.ts', "import { z } from 'zod'; import { defineTool } from '../src/toolkit/api.ts'; export const x = [z, defineTool];"],
    ['src/runs/orchestrator.ts', "import { ModelCallError } from '../providers/gateway.ts'; import { Semaphore } from '../lib/semaphore.ts'; export const x = [ModelCallError, Semaphore];"],
    ['src/replicates/probe.ts', "import { preciseNow } from '../lib/clock.ts'; export const n = preciseNow;"],
    ['src/auth/probe.ts', "import type { FastifyRequest } from 'fastify'; export type R = FastifyRequest;"],
    ['routes/probe.ts', "import type { FastifyInstance } from 'fastify'; import { ServiceError } from '../src/errors.ts'; export type F = FastifyInstance; export const e = ServiceError;"],
  ])('%s: allowed imports pass', async (file, code) => {
    expect(await ruleIds(file, code)).toEqual([]);
  });

  it('refuses an import cycle, type-only imports included', async () => {
    // src/schemas/result.ts imports ./bundle.ts; a type import back closes a cycle.
    const ids = await ruleIds('src/schemas/bundle.ts', "import type { RunResult } from './result.ts'; export type R = RunResult;");
    expect(ids).toContain('local/no-import-cycle');
  });
});
