import type { ModelPrice } from '../config.ts';
import type { Usage } from '../schemas/bundle.ts';

export type { ModelPrice } from '../config.ts';

/**
 * List prices in USD per 1M tokens for common models. Any OpenAI-compatible
 * endpoint may serve other models: unknown models cost 0 unless PRICING_JSON
 * names them (a local vLLM or Ollama is free to us; a gateway may not be).
 * A cost budget cannot be enforced on an unknown model, so runs that carry
 * one are refused up front (see `applyCostCeilings` and {@link PricingTable.has}).
 */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = {
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-5': { input: 1.25, output: 10 },
  'gpt-5-mini': { input: 0.25, output: 2 },
  'gpt-5-nano': { input: 0.05, output: 0.4 },
  'o4-mini': { input: 1.1, output: 4.4 },
  'text-embedding-3-small': { input: 0.02, output: 0 },
  'text-embedding-3-large': { input: 0.13, output: 0 },
};

/** Prices per model; lookups fall back from `model-2024-07-18` to `model`. */
export class PricingTable {
  readonly #prices: Map<string, ModelPrice>;

  /** `overrides`: the parsed PRICING_JSON (`config.PRICING_JSON`), which config has already checked. */
  constructor(overrides: Readonly<Record<string, ModelPrice>> = {}) {
    this.#prices = new Map(Object.entries({ ...DEFAULT_PRICES, ...overrides }));
  }

  /** The price of a model, or null when unknown. */
  priceOf(model: string): ModelPrice | null {
    const exact = this.#prices.get(model);
    if (exact) return exact;
    // Dated snapshots (gpt-4o-mini-2024-07-18) cost what their family costs.
    const undated = model.replace(/-\d{4}-\d{2}-\d{2}$/, '');
    return this.#prices.get(undated) ?? null;
  }

  /** Whether `model` has a known price (a cost budget on it can trip). */
  has(model: string): boolean {
    return this.priceOf(model) !== null;
  }

  /** Cost of `usage` on `model`, in USD, rounded to 1e-9 so sums stay exact enough to compare. */
  cost(model: string, usage: Usage): number {
    const price = this.priceOf(model);
    if (!price) return 0;
    return roundUsd((usage.input_tokens * price.input + usage.output_tokens * price.output) / 1_000_000);
  }

  /** The whole table (for the tool catalogue and docs). */
  entries(): Record<string, ModelPrice> {
    return Object.fromEntries(this.#prices);
  }
}

/** Rounds to nano-dollars: enough precision, and sums of rounded parts stay comparable. */
export function roundUsd(value: number): number {
  return Math.round(value * 1e9) / 1e9;
}
