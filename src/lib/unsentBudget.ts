/** One stream as the budget sees it: bytes written but not yet taken by the peer, and how to cut it. */
export interface Outlet {
  /** Bytes buffered in the process for this stream (Node's `writableLength`). */
  readonly writableLength: number;
  /** Ends the stream and frees its buffer (the reader resumes with Last-Event-ID). */
  cut(): void;
}

/** A stream's handle on the budget. */
export interface BudgetSlot {
  /** Whether the stream may write its next frame; false means it was cut (too far behind, or the slowest when all are over). */
  mayWrite(): boolean;
  /** Records what the stream holds after a write. */
  wrote(): void;
  /** Leaves the budget (stream closed). */
  close(): void;
}

interface Entry {
  outlet: Outlet;
  /** Unsent bytes when last looked at; the total is the sum of these. */
  last: number;
  open: boolean;
}

/**
 * Bounds the bytes SSE streams leave unsent, per stream and across all of
 * them. Each stream's buffer only grows when it writes, so the check runs
 * before each frame: a stream past `perStream` is cut; when the running total
 * (the streams' last known buffer sizes, which only overestimate) passes
 * `total`, it is recomputed exactly and, if still over, the streams holding
 * the most are cut until it fits. Slow readers pay, fast ones keep flowing.
 * A frame goes out whole, so a stream may pass its bound by one frame.
 */
export class UnsentBudget {
  readonly perStream: number;
  readonly total: number;
  readonly #entries = new Set<Entry>();
  #sum = 0;
  /** Streams cut so far (for metrics and tests). */
  cuts = 0;

  constructor(perStream: number, total: number = Number.POSITIVE_INFINITY) {
    this.perStream = perStream;
    this.total = total;
  }

  /** Unsent bytes across open streams, as last seen. */
  get unsent(): number {
    return this.#sum;
  }

  /** Streams in the budget. */
  get streams(): number {
    return this.#entries.size;
  }

  register(outlet: Outlet): BudgetSlot {
    const entry: Entry = { outlet, last: 0, open: true };
    this.#entries.add(entry);
    return {
      mayWrite: () => {
        if (!entry.open) return false;
        this.#observe(entry);
        if (entry.last > this.perStream) {
          this.#cut(entry);
          return false;
        }
        if (this.#sum > this.total) this.#enforceTotal();
        return entry.open;
      },
      wrote: () => {
        if (entry.open) this.#observe(entry);
      },
      close: () => this.#remove(entry),
    };
  }

  #observe(entry: Entry): void {
    const now = entry.outlet.writableLength;
    this.#sum += now - entry.last;
    entry.last = now;
  }

  /** Exact recount, then cut the largest buffers until the total fits. */
  #enforceTotal(): void {
    for (const entry of this.#entries) this.#observe(entry);
    if (this.#sum <= this.total) return;
    const bySize = [...this.#entries].sort((a, b) => b.last - a.last);
    for (const entry of bySize) {
      if (this.#sum <= this.total) return;
      this.#cut(entry);
    }
  }

  #cut(entry: Entry): void {
    this.#remove(entry);
    this.cuts++;
    entry.outlet.cut();
  }

  #remove(entry: Entry): void {
    if (!entry.open) return;
    entry.open = false;
    this.#entries.delete(entry);
    this.#sum -= entry.last;
    entry.last = 0;
  }
}
