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
      default:
        return `(${type}) ${this.name(n)}`;
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
