/**
 * `local/no-import-cycle`: no module may reach itself through its relative
 * imports, counting `import type` too. eslint-plugin-import-x's `no-cycle`
 * skips type-only imports, but a type cycle is still two modules that cannot
 * be understood (or moved) one without the other, which is what the layering
 * rules are about (issue 11: replicateRunner ↔ synthesizer was type-only).
 *
 * The graph is read with TypeScript's `preProcessFile` (a scanner, no type
 * checking), once per file per lint run, so the rule stays cheap.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** file -> { mtimeMs, deps: absolute paths of its relative imports } */
const edges = new Map();

function resolveRelative(fromFile, specifier) {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return null;
  const base = path.resolve(path.dirname(fromFile), specifier);
  for (const candidate of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    try {
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not this candidate
    }
  }
  return null;
}

function depsOf(file) {
  let stat;
  try {
    stat = fs.statSync(file);
  } catch {
    return [];
  }
  const cached = edges.get(file);
  if (cached && cached.mtimeMs === stat.mtimeMs) return cached.deps;
  const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
  const deps = [...new Set(info.importedFiles.map((f) => resolveRelative(file, f.fileName)).filter(Boolean))];
  edges.set(file, { mtimeMs: stat.mtimeMs, deps });
  return deps;
}

/** A path from `start` back to `target` (both included), or null. */
function pathBack(start, target) {
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift();
    for (const next of depsOf(node)) {
      if (next === target) {
        const route = [next];
        for (let at = node; at !== null; at = previous.get(at)) route.unshift(at);
        return route;
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return null;
}

/** @type {import('eslint').Rule.RuleModule} */
export const noImportCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'Forbid import cycles between local modules, type-only imports included.' },
    schema: [],
    messages: { cycle: 'Import cycle: {{route}}. Move the shared part into a module both can import.' },
  },
  create(context) {
    const file = context.physicalFilename;
    if (!path.isAbsolute(file)) return {};
    const root = context.cwd;
    const check = (node) => {
      const source = node.source;
      if (!source || source.type !== 'Literal' || typeof source.value !== 'string') return;
      const target = resolveRelative(file, source.value);
      if (!target || target === file) return;
      const route = pathBack(target, file);
      if (route) {
        context.report({ node, messageId: 'cycle', data: { route: [file, ...route].map((p) => path.relative(root, p)).join(' → ') } });
      }
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};
