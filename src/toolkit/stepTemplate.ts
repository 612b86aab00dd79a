import { ServiceError } from '../errors.ts';
import type { ToolMemory } from './api.ts';

/**
 * Placeholders of a composite step's `input` template: `{{input}}` (the
 * run's input as text), `{{previous}}` (the previous step's output as text)
 * and `{{memory.<reference>}}` (an entry of the run's memory, or a field of
 * one; see {@link parseMemoryRef} and docs/memory.md).
 */
const PLACEHOLDER = /\{\{(input|previous|memory\.[^{}]*)\}\}/g;

/** `input`, `planner`, `step.<N|previous>`, `note.<name>`, each followed by a field path (`.summary.consensus`, `.replicates.0.output`). */
const MEMORY_REF = /^(input|planner|step\.(\d+|previous)|note\.([A-Za-z0-9_-]{1,64}))((?:\.[A-Za-z0-9_-]{1,128})*)$/;

/** A parsed memory reference of a template (or of a pipeline's `keep_memory`). */
export interface MemoryRef {
  /** As written, without braces: `step.previous.bundle.summary.consensus`. */
  text: string;
  root: 'input' | 'planner' | 'step' | 'note';
  /** For `step`: the step's 1-based position, or `previous`. */
  step?: number | 'previous';
  /** For `note`: its name. */
  name?: string;
  /** Field names (or array indices) walked into the entry's value. */
  path: string[];
}

/**
 * Parses one reference, e.g. `step.1.bundle.summary.consensus`.
 * @throws Error naming the reference and the grammar.
 */
export function parseMemoryRef(text: string): MemoryRef {
  const m = MEMORY_REF.exec(text);
  if (!m) throw new Error(`memory reference "${text.slice(0, 200)}" is not input, planner, step.<N|previous> or note.<name>, followed by .field…`);
  const head = m[1] as string;
  const path = (m[4] ?? '').split('.').filter(Boolean);
  if (head === 'input' || head === 'planner') return { text, root: head, path };
  if (m[2] !== undefined) return { text, root: 'step', step: m[2] === 'previous' ? 'previous' : Number(m[2]), path };
  return { text, root: 'note', name: m[3] as string, path };
}

/** The memory references of a template, in order. */
export function templateMemoryRefs(template: string): MemoryRef[] {
  return [...template.matchAll(PLACEHOLDER)].filter((m) => (m[1] as string).startsWith('memory.')).map((m) => parseMemoryRef((m[1] as string).slice('memory.'.length)));
}

/**
 * Load-time check of the references a composite's step may use: a pipeline
 * step (`position` ≥ 1) may name earlier steps only, and `previous` not in
 * its first step; a fan-out branch (`position` null) runs beside the others
 * and names no step.
 * @throws Error naming the step and the reference.
 */
export function checkMemoryRefs(refs: readonly MemoryRef[], position: number | null, where: string): void {
  for (const ref of refs) {
    if (ref.root !== 'step') continue;
    if (position === null) throw new Error(`${where}: {{memory.${ref.text}}}: fan-out branches run together, so none can read another's step`);
    const n = ref.step === 'previous' ? position - 1 : (ref.step as number);
    if (n < 1 || n >= position) throw new Error(`${where}: {{memory.${ref.text}}}: a step may read earlier steps only (1 to ${position - 1})`);
  }
}

/**
 * Reads what `refs` name from the run's memory: each reference's value
 * (entries and fields as JSON values). `stepKey(n)` is the memory key of
 * step `n` of this composite.
 * @throws ServiceError `invalid_request` when an entry or a field is missing.
 */
export async function readMemoryRefs(refs: readonly MemoryRef[], memory: ToolMemory, stepKey: (n: number) => string, position: number, where: string): Promise<Map<string, unknown>> {
  const values = new Map<string, unknown>();
  for (const ref of refs) {
    if (values.has(ref.text)) continue;
    const key = ref.root === 'step' ? stepKey(ref.step === 'previous' ? position - 1 : (ref.step as number)) : ref.root === 'note' ? `note.${ref.name as string}` : ref.root;
    let value = await memory.get(key);
    if (value === undefined) {
      throw new ServiceError('invalid_request', `${where}: {{memory.${ref.text}}}: the run's memory holds no "${key}" (never written, or refused past MEMORY_MAX_BYTES / MEMORY_MAX_ENTRIES: see the run's log)`);
    }
    for (const [i, field] of ref.path.entries()) {
      const next = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[field] : undefined;
      if (next === undefined || !Object.hasOwn(value as object, field)) {
        throw new ServiceError('invalid_request', `${where}: {{memory.${ref.text}}}: "${key}" has no field ${[...ref.path.slice(0, i + 1)].join('.')}`);
      }
      value = next;
    }
    values.set(ref.text, value);
  }
  return values;
}

/** A value as template text: strings as they are, anything else as JSON. */
export function asText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

/**
 * Fills a step template in one pass with a replacer function: values are
 * inserted as they are, never read as replacement patterns (`$'` and `` $` ``
 * in a value would otherwise copy the template around them) nor expanded
 * again (a value holding `{{previous}}` stays as it is). The result's size
 * is known before it is built: past `maxBytes` the step fails instead.
 * `memory` holds the texts of the template's memory references (by reference).
 *
 * @throws ServiceError `invalid_request` when the prompt would exceed `maxBytes`.
 */
export function fillTemplate(template: string, values: { input: string; previous: string; memory?: ReadonlyMap<string, string> }, maxBytes: number, where: string): string {
  const text = (name: string): string => {
    if (name === 'input' || name === 'previous') return values[name];
    return values.memory?.get(name.slice('memory.'.length)) ?? '';
  };
  let bytes = Buffer.byteLength(template);
  for (const m of template.matchAll(PLACEHOLDER)) bytes += Buffer.byteLength(text(m[1] as string)) - Buffer.byteLength(m[0]);
  if (bytes > maxBytes) {
    throw new ServiceError('invalid_request', `${where}: the prompt its template builds would be ${bytes} bytes, more than ${maxBytes} (MAX_PROMPT_BYTES)`);
  }
  return template.replace(PLACEHOLDER, (_match, name: string) => text(name));
}
