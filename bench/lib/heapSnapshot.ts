/**
 * Reading V8 heap snapshots (`.heapsnapshot`, as written by
 * `v8.writeHeapSnapshot`) for the leak check: live objects grouped by kind
 * (constructor name for objects, function name for closures, the node type
 * for strings and numbers), and which objects of a later snapshot are new
 * since an earlier one. Object ids persist across snapshots of one process,
 * so "new" means allocated after the earlier snapshot and still alive.
 */
import { readFileSync } from 'node:fs';

interface RawSnapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** One parsed snapshot, flat arrays as V8 writes them. */
export class HeapSnapshot {
  readonly #raw: RawSnapshot;
  readonly #nodeFieldCount: number;
  readonly #edgeFieldCount: number;
  readonly #f: { type: number; name: number; id: number; selfSize: number; edgeCount: number };
  readonly #e: { type: number; nameOrIndex: number; toNode: number };
  readonly #nodeTypes: string[];
  readonly #edgeTypes: string[];
  /** Index of each node's first edge in `edges` (in edge-field units). */
  readonly #firstEdge: Uint32Array;
  readonly nodeCount: number;

  constructor(raw: RawSnapshot) {
    this.#raw = raw;
    const meta = raw.snapshot.meta;
    this.#nodeFieldCount = meta.node_fields.length;
    this.#edgeFieldCount = meta.edge_fields.length;
    const nf = (name: string) => {
      const i = meta.node_fields.indexOf(name);
      if (i < 0) throw new Error(`heap snapshot without node field ${name}`);
      return i;
    };
    const ef = (name: string) => {
      const i = meta.edge_fields.indexOf(name);
      if (i < 0) throw new Error(`heap snapshot without edge field ${name}`);
      return i;
    };
    this.#f = { type: nf('type'), name: nf('name'), id: nf('id'), selfSize: nf('self_size'), edgeCount: nf('edge_count') };
    this.#e = { type: ef('type'), nameOrIndex: ef('name_or_index'), toNode: ef('to_node') };
    this.#nodeTypes = meta.node_types[0];
    this.#edgeTypes = meta.edge_types[0];
    this.nodeCount = raw.nodes.length / this.#nodeFieldCount;
    this.#firstEdge = new Uint32Array(this.nodeCount + 1);
    let edge = 0;
    for (let n = 0; n < this.nodeCount; n++) {
      this.#firstEdge[n] = edge;
      edge += (raw.nodes[n * this.#nodeFieldCount + this.#f.edgeCount] as number) * this.#edgeFieldCount;
    }
    this.#firstEdge[this.nodeCount] = edge;
  }

  static read(file: string): HeapSnapshot {
    return new HeapSnapshot(JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot);
  }

  type(n: number): string {
    return this.#nodeTypes[this.#raw.nodes[n * this.#nodeFieldCount + this.#f.type] as number] as string;
  }

  name(n: number): string {
    return this.#raw.strings[this.#raw.nodes[n * this.#nodeFieldCount + this.#f.name] as number] as string;
  }

  id(n: number): number {
    return this.#raw.nodes[n * this.#nodeFieldCount + this.#f.id] as number;
  }

  selfSize(n: number): number {
    return this.#raw.nodes[n * this.#nodeFieldCount + this.#f.selfSize] as number;
  }

  /**
   * What kind of object node `n` is: `Foo` for an object built by Foo,
   * `closure foo`, `(array) name`, `(string)`… Strings and numbers are one
   * kind each (their name is their value).
   */
  kind(n: number): string {
    const type = this.type(n);
    switch (type) {
      case 'object':
        return this.name(n);
      case 'string':
      case 'concatenated string':
      case 'sliced string':
      case 'number':
      case 'bigint':
        return `(${type})`;
      case 'code':
        // Code objects are named after their function; group them by type only.
        return '(code)';
      default: {
        const name = this.name(n);
        return name ? `(${type}) ${name}` : `(${type})`;
      }
    }
  }

  /** Live nodes by kind (synthetic root nodes left out). */
  countByKind(): Map<string, { count: number; size: number }> {
    const out = new Map<string, { count: number; size: number }>();
    for (let n = 0; n < this.nodeCount; n++) {
      if (this.type(n) === 'synthetic') continue;
      const k = this.kind(n);
      const g = out.get(k);
      if (g) {
        g.count++;
        g.size += this.selfSize(n);
      } else out.set(k, { count: 1, size: this.selfSize(n) });
    }
    return out;
  }

  ids(): Set<number> {
    const out = new Set<number>();
    for (let n = 0; n < this.nodeCount; n++) out.add(this.id(n));
    return out;
  }

  /**
   * Self size plus the backing stores the object owns (its `elements`,
   * `properties` and collection `table`): V8 replaces a backing store
   * when it grows, so only the owner keeps its id as an array, Map or Set
   * grows.
   */
  ownedSize(n: number): number {
    let size = this.selfSize(n);
    for (const [edgeType, name, to] of this.edgesOf(n)) {
      if (edgeType === 'internal' && (name === 'elements' || name === 'properties' || name === 'table')) size += this.selfSize(to);
    }
    return size;
  }

  /** Nodes whose id is not in `before`: allocated since that snapshot and still alive. */
  newSince(before: Set<number>): number[] {
    const out: number[] = [];
    for (let n = 0; n < this.nodeCount; n++) if (this.type(n) !== 'synthetic' && !before.has(this.id(n))) out.push(n);
    return out;
  }

  /** Edges out of node `n`: [edge type, edge name, target node]. */
  *edgesOf(n: number): Generator<[string, string, number]> {
    const raw = this.#raw;
    for (let e = this.#firstEdge[n] as number; e < (this.#firstEdge[n + 1] as number); e += this.#edgeFieldCount) {
      const type = this.#edgeTypes[raw.edges[e + this.#e.type] as number] as string;
      const nameOrIndex = raw.edges[e + this.#e.nameOrIndex] as number;
      const name = type === 'element' || type === 'hidden' ? `[${nameOrIndex}]` : (raw.strings[nameOrIndex] as string);
      yield [type, name, (raw.edges[e + this.#e.toNode] as number) / this.#nodeFieldCount];
    }
  }

  /**
   * A shortest strong retaining path from the root to node `target`, as
   * lines `kind --edge--> kind` (weak edges do not retain). Null when the
   * node is unreachable by strong edges.
   */
  retainingPath(target: number): string[] | null {
    const parent = new Int32Array(this.nodeCount).fill(-1);
    const via = new Array<string>(this.nodeCount);
    parent[0] = 0;
    let frontier = [0];
    while (frontier.length > 0 && parent[target] === -1) {
      const next: number[] = [];
      for (const n of frontier) {
        for (const [type, name, to] of this.edgesOf(n)) {
          if (type === 'weak' || type === 'shortcut' || parent[to] !== -1) continue;
          parent[to] = n;
          via[to] = `${type}:${name}`;
          next.push(to);
        }
      }
      frontier = next;
    }
    if (parent[target] === -1) return null;
    const path: string[] = [];
    for (let n = target; n !== 0; n = parent[n] as number) path.push(`--${via[n]}--> ${this.kind(n)} @${this.id(n)}`);
    return path.reverse();
  }
}

/** Groups nodes of `snap` by kind: count and self size, largest count first. */
export function groupByKind(snap: HeapSnapshot, nodes: readonly number[]): Array<{ kind: string; count: number; size: number }> {
  const out = new Map<string, { kind: string; count: number; size: number }>();
  for (const n of nodes) {
    const k = snap.kind(n);
    const g = out.get(k);
    if (g) {
      g.count++;
      g.size += snap.selfSize(n);
    } else out.set(k, { kind: k, count: 1, size: snap.selfSize(n) });
  }
  return [...out.values()].sort((a, b) => b.count - a.count || b.size - a.size);
}

/** Node types that are V8's own machinery (compiled code, maps, internal arrays) or the embedder graph, not program objects. */
const VM_TYPES = new Set(['code', 'hidden', 'object shape', 'native', 'synthetic']);
/** Holders whose references do not keep program data alive: compiled code, V8 metadata, the string table. */
const METADATA_HOLDERS = new Set(['code', 'hidden', 'object shape']);

/** Object counts and bytes, split between program objects and V8 code and metadata. */
export interface ObjectTally {
  /** Program objects (objects, closures, arrays, strings, numbers…) held by something other than compiled code or V8 metadata. */
  js: number;
  jsBytes: number;
  /** Compiled code, V8 metadata, and values only compiled code or metadata holds (constants, internalized names). */
  vm: number;
  vmBytes: number;
}

export interface KindCount {
  kind: string;
  count: number;
  bytes: number;
}

export interface SnapshotSurvival {
  baseline: { nodes: number } & ObjectTally;
  end: { nodes: number } & ObjectTally;
  /** Allocated between the baseline and the middle snapshot and still alive at the end. */
  survivors: ObjectTally;
  /** Program-object kinds among the survivors, most first. */
  survivorKinds: KindCount[];
  /** Allocated after the baseline and alive at the end (what the last runs left, included). */
  newAtEnd: ObjectTally;
  newAtEndKinds: KindCount[];
  /** Program-object kinds whose count moved most between the baseline and the end. */
  countDelta: KindCount[];
  /** Program-object kinds whose bytes moved most between the baseline and the end. */
  bytesDelta: KindCount[];
  /**
   * Objects alive in all three snapshots that grew in both halves (a leak
   * into one growing array or table adds no object, only size), steadiest
   * first: owned size (self plus backing stores, see ownedSize) at each.
   */
  growers: Array<{ kind: string; id: number; sizes: [number, number, number]; path?: string }>;
}

/** Which nodes a program object or a runtime root holds by a strong edge (not only code, metadata or the string table). */
function heldByProgram(snap: HeapSnapshot): Uint8Array {
  const held = new Uint8Array(snap.nodeCount);
  for (let n = 0; n < snap.nodeCount; n++) {
    const type = snap.type(n);
    if (METADATA_HOLDERS.has(type)) continue;
    if (type === 'synthetic' && snap.name(n) === '(Internalized strings)') continue;
    for (const [edgeType, , to] of snap.edgesOf(n)) if (edgeType !== 'weak' && edgeType !== 'shortcut') held[to] = 1;
  }
  return held;
}

/**
 * Three snapshots of one process (object ids persist between them): after
 * the warm-up, in the middle and at the end of a series of runs. Objects
 * allocated before the middle snapshot and alive at the end are what the
 * first part's runs left behind for good; a per-run leak makes them grow
 * with the runs, one-time state does not. Program objects are told apart
 * from V8's compiled code and metadata, which grow with JIT activity.
 */
export function snapshotSurvival(files: { baseline: string; middle: string; end: string }, top = 8): SnapshotSurvival {
  const empty = (): ObjectTally => ({ js: 0, jsBytes: 0, vm: 0, vmBytes: 0 });
  const add = (t: ObjectTally, js: boolean, bytes: number) => {
    if (js) {
      t.js++;
      t.jsBytes += bytes;
    } else {
      t.vm++;
      t.vmBytes += bytes;
    }
  };
  const addKind = (m: Map<string, KindCount>, kind: string, count: number, bytes: number) => {
    const g = m.get(kind) ?? { kind, count: 0, bytes: 0 };
    g.count += count;
    g.bytes += bytes;
    m.set(kind, g);
  };
  const tallyAll = (snap: HeapSnapshot, held: Uint8Array, kinds: Map<string, KindCount>, sign: number) => {
    const t = empty();
    for (let n = 0; n < snap.nodeCount; n++) {
      const type = snap.type(n);
      if (type === 'synthetic') continue;
      const js = !VM_TYPES.has(type) && held[n] === 1;
      add(t, js, snap.selfSize(n));
      if (js) addKind(kinds, snap.kind(n), sign, sign * snap.selfSize(n));
    }
    return t;
  };
  const delta = new Map<string, KindCount>();
  let baseIds: Set<number>;
  let baseline: SnapshotSurvival['baseline'];
  /** Self sizes of program objects in the baseline and the middle snapshot, by id. */
  const size0 = new Map<number, number>();
  const size1 = new Map<number, number>();
  {
    const s0 = HeapSnapshot.read(files.baseline);
    baseIds = s0.ids();
    baseline = { nodes: s0.nodeCount, ...tallyAll(s0, heldByProgram(s0), delta, -1) };
    for (let n = 0; n < s0.nodeCount; n++) if (!VM_TYPES.has(s0.type(n))) size0.set(s0.id(n), s0.ownedSize(n));
  }
  const windowIds = new Set<number>();
  {
    const s1 = HeapSnapshot.read(files.middle);
    for (const n of s1.newSince(baseIds)) windowIds.add(s1.id(n));
    for (let n = 0; n < s1.nodeCount; n++) if (size0.has(s1.id(n))) size1.set(s1.id(n), s1.ownedSize(n));
  }
  const s2 = HeapSnapshot.read(files.end);
  const held = heldByProgram(s2);
  const end = { nodes: s2.nodeCount, ...tallyAll(s2, held, delta, 1) };
  const survivors = empty();
  const newAtEnd = empty();
  const survivorKinds = new Map<string, KindCount>();
  const newKinds = new Map<string, KindCount>();
  for (const n of s2.newSince(baseIds)) {
    const js = !VM_TYPES.has(s2.type(n)) && held[n] === 1;
    const bytes = s2.selfSize(n);
    add(newAtEnd, js, bytes);
    if (js) addKind(newKinds, s2.kind(n), 1, bytes);
    if (windowIds.has(s2.id(n))) {
      add(survivors, js, bytes);
      if (js) addKind(survivorKinds, s2.kind(n), 1, bytes);
    }
  }
  const growers: SnapshotSurvival['growers'] = [];
  for (let n = 0; n < s2.nodeCount; n++) {
    const id = s2.id(n);
    const b0 = size0.get(id);
    const b1 = size1.get(id);
    if (b0 === undefined || b1 === undefined || VM_TYPES.has(s2.type(n))) continue;
    const b2 = s2.ownedSize(n);
    if (b1 > b0 && b2 > b1) growers.push({ kind: s2.kind(n), id, sizes: [b0, b1, b2] });
  }
  // Steadiest first: by the smaller of the two halves' growth.
  const steady = (g: { sizes: [number, number, number] }) => Math.min(g.sizes[1] - g.sizes[0], g.sizes[2] - g.sizes[1]);
  growers.sort((a, b) => steady(b) - steady(a));
  // Who holds the top growers (the last hops of a shortest retaining path).
  const byId = new Map(growers.slice(0, 3).map((g) => [g.id, g]));
  for (let n = 0; n < s2.nodeCount && byId.size > 0; n++) {
    const g = byId.get(s2.id(n));
    if (!g) continue;
    byId.delete(g.id);
    const p = s2.retainingPath(n);
    if (p) g.path = p.slice(-5).map((hop) => hop.replace(/ @\d+$/, '')).join(' ');
  }
  const sorted = (m: Map<string, KindCount>) => [...m.values()].sort((a, b) => b.count - a.count || b.bytes - a.bytes).slice(0, top);
  return {
    baseline,
    end,
    survivors,
    survivorKinds: sorted(survivorKinds),
    newAtEnd,
    newAtEndKinds: sorted(newKinds),
    countDelta: [...delta.values()]
      .filter((g) => g.count !== 0)
      .sort((a, b) => Math.abs(b.count) - Math.abs(a.count) || Math.abs(b.bytes) - Math.abs(a.bytes))
      .slice(0, top),
    bytesDelta: [...delta.values()]
      .filter((g) => g.bytes !== 0)
      .sort((a, b) => Math.abs(b.bytes) - Math.abs(a.bytes))
      .slice(0, top),
    growers: growers.slice(0, top),
  };
}
