import { canonicalJson, cosineDistance, distanceBetween } from '../bundle/index.ts';
import type { ReplicateEnv } from './replicateEnv.ts';

/**
 * The semantic metric: each valid output is embedded once (an embeddings
 * call charged to the run), and outputs compare by cosine distance. An
 * output whose embedding failed falls back to the automatic metric, so one
 * failed call does not fail the run.
 */
export class SemanticSpace {
  readonly #vectors = new Map<string, number[]>();

  async embed(env: ReplicateEnv, output: unknown, signal: AbortSignal): Promise<void> {
    const text = textOf(output);
    if (this.#vectors.has(text)) return;
    try {
      const result = await env.models.embed({ input: [text], signal });
      const vector = result.vectors[0];
      if (vector) this.#vectors.set(text, vector);
    } catch (error) {
      if (!signal.aborted) env.log.warn({ err: error }, 'embedding failed; falling back to the automatic metric for this output');
    }
  }

  readonly distance = (a: unknown, b: unknown): number => {
    if (a === null || a === undefined || b === null || b === undefined) return 1;
    const va = this.#vectors.get(textOf(a));
    const vb = this.#vectors.get(textOf(b));
    return va && vb ? cosineDistance(va, vb) : distanceBetween(a, b, 'auto');
  };
}

function textOf(output: unknown): string {
  return typeof output === 'string' ? output : canonicalJson(output);
}
