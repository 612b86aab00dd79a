import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { Config } from '../config.ts';
import { BUILD_DIR, PROJECT_ROOT, RUNNING_COMPILED } from '../lib/projectRoot.ts';
import type { ToolDefinition } from './api.ts';
import { parseDeclarativeTool, toToolDefinition, type DeclarativeOptions } from './declarative.ts';
import { ToolRegistry, ToolRegistryError } from './registry.ts';

/** How declarative tools are built on this configuration (prompt bound, handoffs flag and turn bound). */
export function declarativeOptions(config: Pick<Config, 'MAX_PROMPT_BYTES' | 'HANDOFFS' | 'HANDOFFS_MAX_TURNS'>): DeclarativeOptions {
  return { maxPromptBytes: config.MAX_PROMPT_BYTES, handoffs: { enabled: config.HANDOFFS, maxTurns: config.HANDOFFS_MAX_TURNS } };
}

/**
 * Loads every tool in `dir`: TypeScript modules exporting `tool` (or
 * `tools`) and declarative YAML/JSON files, registered through one registry.
 * A file that does not load stops startup with a message naming it (and,
 * for declarative files, the field).
 */
export async function loadTools(dir: string, options: DeclarativeOptions = {}): Promise<ToolRegistry> {
  const registry = new ToolRegistry();
  let files: string[];
  try {
    files = (await readdir(dir)).sort();
  } catch (error) {
    throw new ToolRegistryError(`cannot read tools directory ${dir}: ${(error as Error).message}`);
  }
  for (const file of files) {
    const full = path.resolve(dir, file);
    const source = path.relative(process.cwd(), full);
    if (/\.(ts|js|mjs)$/.test(file) && !file.endsWith('.d.ts') && !file.includes('.test.')) {
      for (const tool of await loadModule(full)) registry.register({ ...tool, source: tool.source ?? source });
    } else if (/\.(ya?ml|json)$/.test(file)) {
      registry.register(await loadDeclarative(full, source, options));
    }
  }
  registry.checkDependencies();
  return registry;
}

async function loadDeclarative(file: string, source: string, options: DeclarativeOptions): Promise<ToolDefinition> {
  const text = await readFile(file, 'utf8');
  let data: unknown;
  try {
    data = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ToolRegistryError(`${source}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
  try {
    return toToolDefinition(parseDeclarativeTool(data, source), source, options);
  } catch (error) {
    throw new ToolRegistryError((error as Error).message);
  }
}

/**
 * The file imported for a tool module. When the service runs compiled
 * (`npm start`, the image), a `.ts` file of the project whose JavaScript the
 * build emitted is imported from that JavaScript (`tools/bundle.ts` →
 * `dist/tools/bundle.js`), so the service never loads Node's type stripper
 * (~17 MiB of RSS). Any other `.ts` file, a tools directory of your own among
 * them, is imported as it is, and Node strips its types.
 */
export function moduleFile(file: string, compiled = RUNNING_COMPILED): string {
  if (!compiled || !file.endsWith('.ts')) return file;
  const relative = path.relative(PROJECT_ROOT, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return file;
  const emitted = path.join(BUILD_DIR, relative.replace(/\.ts$/, '.js'));
  return existsSync(emitted) ? emitted : file;
}

async function loadModule(file: string): Promise<ToolDefinition[]> {
  let mod: { tool?: ToolDefinition; tools?: ToolDefinition[] };
  try {
    mod = (await import(pathToFileURL(moduleFile(file)).href)) as typeof mod;
  } catch (error) {
    throw new ToolRegistryError(`${file}: failed to load: ${(error as Error).message}`);
  }
  const found = [...(mod.tool ? [mod.tool] : []), ...(mod.tools ?? [])];
  if (found.length === 0) throw new ToolRegistryError(`${file}: exports neither \`tool\` nor \`tools\``);
  for (const t of found) {
    if (typeof t?.execute !== 'function') throw new ToolRegistryError(`${file}: tool ${String(t?.name)} has no execute()`);
  }
  return found;
}
