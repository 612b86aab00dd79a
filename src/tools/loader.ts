import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ToolDefinition } from './api.ts';
import { ToolRegistry, ToolRegistryError } from './registry.ts';

/**
 * Loads every tool in `dir`: TypeScript modules exporting `tool` (or
 * `tools`), registered through one registry. A file that does not load
 * stops startup with a message naming it.
 */
export async function loadTools(dir: string): Promise<ToolRegistry> {
  const registry = new ToolRegistry();
  let files: string[];
  try {
    files = (await readdir(dir)).sort();
  } catch (error) {
    throw new ToolRegistryError(`cannot read tools directory ${dir}: ${(error as Error).message}`);
  }
  for (const file of files) {
    const full = path.resolve(dir, file);
    if (/\.(ts|js|mjs)$/.test(file) && !file.endsWith('.d.ts') && !file.includes('.test.')) {
      for (const tool of await loadModule(full)) registry.register({ ...tool, source: tool.source ?? path.relative(process.cwd(), full) });
    }
  }
  registry.checkDependencies();
  return registry;
}

async function loadModule(file: string): Promise<ToolDefinition[]> {
  let mod: { tool?: ToolDefinition; tools?: ToolDefinition[] };
  try {
    mod = (await import(pathToFileURL(file).href)) as typeof mod;
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
