/**
 * Values made on first use per key, in least-recently-used order. Past `max`
 * entries the least recently used ones that `evictable` allows are dropped
 * (never the one just asked for). Requests name the keys (model names), so
 * every per-key registry needs this bound.
 */
export class KeyedLru<V> {
  readonly #max: number;
  readonly #evictable: (value: V) => boolean;
  readonly #entries = new Map<string, V>();

  constructor(max: number, evictable: (value: V) => boolean = () => true) {
    this.#max = max;
    this.#evictable = evictable;
  }

  /** The value of `key`, made by `make` on first use; either way now the most recently used. */
  get(key: string, make: () => V): V {
    const existing = this.#entries.get(key);
    if (existing !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, existing);
      return existing;
    }
    const value = make();
    this.#entries.set(key, value);
    if (this.#entries.size > this.#max) {
      for (const [k, v] of this.#entries) {
        if (k !== key && this.#evictable(v)) this.#entries.delete(k);
        if (this.#entries.size <= this.#max) break;
      }
    }
    return value;
  }

  get size(): number {
    return this.#entries.size;
  }

  entries(): IterableIterator<[string, V]> {
    return this.#entries.entries();
  }

  clear(): void {
    this.#entries.clear();
  }
}
