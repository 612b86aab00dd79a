/**
 * Static analysis of an untrusted JSON Schema before Ajv sees it: size,
 * nesting, `$ref` targets and the work `$ref` expansion implies. A schema
 * arrives in a request, so anything Ajv would spend unbounded time or memory
 * on is refused here with a message that names the limit.
 *
 * Every walk is iterative (an explicit stack), so a schema nested deeper than
 * the JS stack is measured, not crashed on.
 */
import { ServiceError } from '../errors.ts';
import { truncateForMessage } from './truncate.ts';

/** Bounds on one schema (config: MAX_SCHEMA_*). */
export interface SchemaLimits {
  /** UTF-8 bytes of the schema's JSON text. */
  readonly maxBytes: number;
  /** Nesting of objects and arrays. */
  readonly maxDepth: number;
  /** Keywords and array items in the whole schema, counted once each. */
  readonly maxNodes: number;
  /** Subschemas applied to one value once every `$ref` is expanded in place. */
  readonly maxRefExpansion: number;
  /** Nesting of a value checked against a schema (model outputs): deeper is invalid, not walked. */
  readonly maxValueDepth: number;
}

/** Defaults, the same as the config's. */
export const DEFAULT_SCHEMA_LIMITS: SchemaLimits = Object.freeze({
  maxBytes: 65_536,
  maxDepth: 32,
  maxNodes: 5_000,
  maxRefExpansion: 10_000,
  maxValueDepth: 64,
});

/** Keywords whose value is one subschema; `true` when it applies to a part of the value (descends). */
const SINGLE: Record<string, boolean> = {
  not: false,
  if: false,
  then: false,
  else: false,
  additionalItems: true,
  additionalProperties: true,
  contains: true,
  propertyNames: true,
  unevaluatedItems: true,
  unevaluatedProperties: true,
  items: true,
};
/** Keywords whose value is an array of subschemas. */
const LIST: Record<string, boolean> = { allOf: false, anyOf: false, oneOf: false, prefixItems: true, items: true };
/** Keywords whose value maps names to subschemas (definitions are containers: applied only through `$ref`). */
const MAP: Record<string, boolean> = { properties: true, patternProperties: true, dependentSchemas: false, dependencies: false };
const DEFINITIONS = ['$defs', 'definitions'];

type Schema = Record<string, unknown>;

/**
 * `uniqueItems` over items that may be objects or arrays compares every pair
 * (Ajv's deep-equal loop): such a schema must cap the array at this many items
 * (`maxItems`, checked before `uniqueItems`). Over scalar items Ajv hashes, in
 * linear time, and no cap is needed.
 */
export const MAX_UNIQUE_ITEMS = 1_000;

/** True when `items` admits only scalar types (`type` set, never object or array). */
function scalarItems(items: unknown): boolean {
  if (!isObject(items)) return false;
  const types = typeof items.type === 'string' ? [items.type] : Array.isArray(items.type) ? items.type : [];
  return types.length > 0 && types.every((t) => t !== 'object' && t !== 'array');
}

interface Edge {
  readonly node: unknown;
  readonly descends: boolean;
}

const isObject = (v: unknown): v is Schema => v !== null && typeof v === 'object' && !Array.isArray(v);

function refuse(message: string): never {
  throw new ServiceError('invalid_request', `output_schema ${message}`);
}

/** Nesting depth of a JSON value, walked iteratively; stops counting once past `limit`. */
export function jsonValueDepth(value: unknown, limit = Number.MAX_SAFE_INTEGER): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
  }
  return max;
}

/** The subschemas a schema object applies (not its definitions), with whether each descends into the value. */
function subschemas(schema: Schema): Edge[] {
  const out: Edge[] = [];
  for (const [key, value] of Object.entries(schema)) {
    if (key in LIST && Array.isArray(value)) for (const s of value) out.push({ node: s, descends: LIST[key] as boolean });
    else if (key in SINGLE && (isObject(value) || typeof value === 'boolean')) out.push({ node: value, descends: SINGLE[key] as boolean });
    else if (key in MAP && isObject(value)) {
      for (const s of Object.values(value)) if (isObject(s) || typeof s === 'boolean') out.push({ node: s, descends: MAP[key] as boolean });
    }
  }
  return out;
}

/** Every schema position, definitions included. */
function allSchemas(root: Schema): Schema[] {
  const seen: Schema[] = [];
  const stack: Schema[] = [root];
  while (stack.length > 0) {
    const s = stack.pop() as Schema;
    seen.push(s);
    for (const e of subschemas(s)) if (isObject(e.node)) stack.push(e.node);
    for (const key of DEFINITIONS) {
      const defs = s[key];
      if (isObject(defs)) for (const d of Object.values(defs)) if (isObject(d)) stack.push(d);
    }
  }
  return seen;
}

function decodePointerSegment(segment: string): string {
  let text = segment;
  try {
    text = decodeURIComponent(segment);
  } catch {
    /* not percent-encoded: taken as is */
  }
  return text.replaceAll('~1', '/').replaceAll('~0', '~');
}

/** Resolves a local `$ref` against the root; `undefined` when it points nowhere (Ajv then names it). */
function resolveRef(root: Schema, ref: string, anchors: Map<string, Schema>): unknown {
  if (ref === '' || ref === '#') return root;
  if (ref.startsWith('#/')) {
    let node: unknown = root;
    for (const raw of ref.slice(2).split('/')) {
      const seg = decodePointerSegment(raw);
      if (Array.isArray(node)) node = node[Number(seg)];
      else if (isObject(node) && Object.hasOwn(node, seg)) node = node[seg];
      else return undefined;
    }
    return node;
  }
  return anchors.get(ref.slice(1));
}

/**
 * Checks a schema against `limits` before compiling it: bytes, nesting,
 * keyword count, `$ref`s (local only; no `$id` below the root, since that
 * would move the base of the references under it) and the expanded size.
 * Recursion through `$ref` is allowed when each round descends into a
 * part of the value (`properties`, `items`…), since the value's own size
 * bounds it then; a loop that re-applies to the same value never ends and is
 * refused.
 *
 * @throws ServiceError `invalid_request` naming the limit crossed.
 */
export function checkSchemaLimits(schema: Schema, limits: SchemaLimits, bytes: number): void {
  // Depth and node count first, both iteratively: they bound every later walk.
  let nodes = 0;
  const stack: [unknown, number][] = [[schema, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (d > limits.maxDepth) refuse(`is nested more than ${limits.maxDepth} levels deep (MAX_SCHEMA_DEPTH)`);
    const children = Array.isArray(v) ? v : Object.values(v as object);
    nodes += children.length;
    if (nodes > limits.maxNodes) refuse(`has more than ${limits.maxNodes} keywords and items (MAX_SCHEMA_NODES)`);
    for (const c of children) if (c !== null && typeof c === 'object') stack.push([c, d + 1]);
  }
  if (bytes > limits.maxBytes) refuse(`is ${bytes} bytes, more than ${limits.maxBytes} (MAX_SCHEMA_BYTES)`);

  const rootId = typeof schema.$id === 'string' ? schema.$id.replace(/#$/, '') : undefined;
  const positions = allSchemas(schema);
  const anchors = new Map<string, Schema>();
  for (const s of positions) {
    if (s !== schema && (typeof s.$id === 'string' || typeof s.id === 'string')) {
      const id = (s.$id ?? s.id) as string;
      // A draft-07 plain-name anchor (`"$id": "#name"`) is fine; any other $id changes the base URI.
      if (id.startsWith('#')) anchors.set(id.slice(1), s);
      else refuse(`has an $id (${JSON.stringify(truncateForMessage(id, 100))}) below its root; only the root may have one`);
    }
    if (typeof s.$anchor === 'string') anchors.set(s.$anchor, s);
    // An async validator returns a promise (always truthy) and rejects it on invalid data:
    // never awaited here, that rejection would be unhandled and end the process.
    if ('$async' in s) refuse('uses $async, which is not supported');
    if (s.uniqueItems === true && !scalarItems(s.items) && !(typeof s.maxItems === 'number' && s.maxItems <= MAX_UNIQUE_ITEMS)) {
      refuse(`uses uniqueItems on items that may be objects or arrays without maxItems ≤ ${MAX_UNIQUE_ITEMS} (comparing every pair is quadratic in the output)`);
    }
  }
  const targets = new Map<Schema, unknown>();
  for (const s of positions) {
    if (!('$ref' in s)) continue;
    if (typeof s.$ref !== 'string') refuse('has a $ref that is not a string');
    let ref = s.$ref;
    if (rootId !== undefined && rootId !== '' && ref.startsWith(rootId)) ref = ref.slice(rootId.length);
    if (ref !== '' && !ref.startsWith('#')) {
      refuse(`has a remote or relative $ref ${JSON.stringify(truncateForMessage(s.$ref, 100))}: only local references ("#/$defs/…") are allowed`);
    }
    targets.set(s, resolveRef(schema, ref, anchors));
  }
  checkLoops(positions, targets);
  checkExpansion(schema, targets, limits.maxRefExpansion);
}

/**
 * Refuses a cycle made only of edges that apply to the same value
 * (`allOf`/`anyOf`/`not`/… and `$ref`): Ajv would recurse on one value
 * forever. A cycle through a descending keyword (`properties`, `items`…) is
 * bounded by the value's size and fine. Iterative three-colour DFS over
 * the non-descending edges alone, so no path order can hide such a loop.
 */
function checkLoops(positions: Schema[], targets: Map<Schema, unknown>): void {
  const sameValue = (node: Schema): Schema[] => {
    const out = subschemas(node)
      .filter((e) => !e.descends && isObject(e.node))
      .map((e) => e.node as Schema);
    const target = targets.get(node);
    if (isObject(target)) out.push(target);
    return out;
  };
  const state = new Map<Schema, 1 | 2>(); // 1: on the path, 2: done
  for (const start of positions) {
    if (state.has(start)) continue;
    const stack: { node: Schema; next: Schema[]; i: number }[] = [{ node: start, next: sameValue(start), i: 0 }];
    state.set(start, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as (typeof stack)[number];
      if (top.i >= top.next.length) {
        state.set(top.node, 2);
        stack.pop();
        continue;
      }
      const child = top.next[top.i++] as Schema;
      const seen = state.get(child);
      if (seen === 1) refuse('has a $ref loop that applies to the same value again without descending into it (it would never end)');
      if (seen === undefined) {
        state.set(child, 1);
        stack.push({ node: child, next: sameValue(child), i: 0 });
      }
    }
  }
}

/**
 * Counts the subschemas applied to one value with every `$ref` inlined
 * (memoised per target, iteratively): a `$defs` chain where each level
 * refers to the one before twice doubles per level, which is what makes
 * Ajv's work exponential.
 */
function checkExpansion(root: Schema, targets: Map<Schema, unknown>, max: number): void {
  interface Frame {
    node: Schema;
    edges: Edge[];
    next: number;
    sum: number;
  }
  const cost = new Map<Schema, number>();
  const onStack = new Set<Schema>();
  const frame = (node: Schema): Frame => {
    const edges = subschemas(node);
    const target = targets.get(node);
    if (target !== undefined) edges.push({ node: target, descends: false });
    onStack.add(node);
    return { node, edges, next: 0, sum: 1 };
  };
  const stack: Frame[] = [frame(root)];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as Frame;
    if (top.next < top.edges.length) {
      const edge = top.edges[top.next++] as Edge;
      if (!isObject(edge.node)) {
        top.sum += 1;
        continue;
      }
      const child = edge.node;
      const known = cost.get(child);
      if (known !== undefined) top.sum += known;
      else {
        // A node on the path: recursion, which checkLoops proved descends; it costs one application per level.
        if (onStack.has(child)) top.sum += 1;
        else stack.push(frame(child));
      }
      if (top.sum > max) refuse(`expands to more than ${max} subschemas through $ref (MAX_SCHEMA_REF_EXPANSION)`);
      continue;
    }
    stack.pop();
    onStack.delete(top.node);
    cost.set(top.node, top.sum);
    const parent = stack[stack.length - 1];
    if (parent) {
      parent.sum += top.sum;
      if (parent.sum > max) refuse(`expands to more than ${max} subschemas through $ref (MAX_SCHEMA_REF_EXPANSION)`);
    }
  }
}
