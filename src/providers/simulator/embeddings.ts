/**
 * Deterministic pseudo-embeddings: a hashed bag of words (with bigrams), so
 * texts sharing words land close together and unrelated texts far apart.
 * Good enough to exercise a semantic distance metric offline; not a model.
 */
import type { ParsedRequest } from './request.ts';

/** Dimensions of every vector. */
export const EMBEDDING_DIMENSIONS = 256;

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The unit vector of one text. */
export function embedText(text: string): Float32Array {
  const v = new Float32Array(EMBEDDING_DIMENSIONS);
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const features = [...words, ...words.slice(1).map((w, i) => `${words[i]} ${w}`)];
  for (const f of features) {
    const h = fnv1a(f);
    v[h % EMBEDDING_DIMENSIONS] = (v[h % EMBEDDING_DIMENSIONS] as number) + ((h >>> 31) === 1 ? 1 : -1) * (f.includes(' ') ? 0.5 : 1);
  }
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) / norm;
  return v;
}

/** An OpenAI-shaped embeddings response, floats or base64 little-endian float32 as asked. */
export function embeddingsResponse(parsed: ParsedRequest, promptTokens: number): object {
  const inputs = parsed.inputs ?? [];
  return {
    object: 'list',
    model: parsed.model,
    data: inputs.map((text, index) => {
      const vector = embedText(text);
      return {
        object: 'embedding',
        index,
        embedding: parsed.encodingFormat === 'base64' ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64') : Array.from(vector),
      };
    }),
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}
