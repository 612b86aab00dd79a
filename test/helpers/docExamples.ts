import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The runnable examples of a doc: its ```` ```ts example=NAME ```` blocks
 * and ```` ```yaml example=NAME ```` tool files (or only one `lang`'s, e.g. `'json'`), by name. A doc's examples are modules; tests import them and check what
 * they export, so the docs cannot drift from what the service does.
 */
export function docExamples(doc: string, lang = '(?:ts|yaml)'): Map<string, string> {
  const text = readFileSync(path.join(ROOT, doc), 'utf8');
  const out = new Map<string, string>();
  for (const m of text.matchAll(new RegExp('```' + lang + ' example=([\\w-]+)\\n([\\s\\S]*?)```', 'g'))) out.set(m[1] as string, m[2] as string);
  return out;
}

/**
 * Runs one example module (written inside the project, so its imports
 * resolve like the project's own) with `env` set, and answers its exports.
 */
export async function runExample(code: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(ROOT, 'test', '.doc-example-'));
  const file = path.join(dir, 'example.ts');
  writeFileSync(file, code);
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return (await import(file)) as Record<string, unknown>;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
