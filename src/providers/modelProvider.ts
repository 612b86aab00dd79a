import type OpenAI from 'openai';
import { getDefaultModel, type Model, type ModelProvider } from '@openai/agents-core';
import { OpenAIChatCompletionsModel, OpenAIResponsesModel } from '@openai/agents-openai';
import { KeyedLru } from '../lib/keyedLru.ts';

/**
 * The Agents SDK model wrappers of one openai client, kept in a bounded
 * LRU. The SDK's own OpenAIProvider caches one wrapper per model name in a
 * Map that only `close()` clears; requests may name any model, so that Map
 * grew by a wrapper and two strings (~160 B) with every distinct name, for
 * the life of the process. A wrapper holds no connection of its own (the
 * client does), so building one again after eviction is cheap.
 */
export class BoundedModelProvider implements ModelProvider {
  readonly #client: OpenAI;
  readonly #useResponses: boolean;
  readonly #models: KeyedLru<Model>;

  constructor(options: { client: OpenAI; useResponses: boolean; maxModels?: number }) {
    this.#client = options.client;
    this.#useResponses = options.useResponses;
    this.#models = new KeyedLru(options.maxModels ?? 100);
  }

  /** Wrappers held. */
  get size(): number {
    return this.#models.size;
  }

  getModel(modelName?: string): Model {
    const name = modelName || getDefaultModel();
    return this.#models.get(name, () => (this.#useResponses ? new OpenAIResponsesModel(this.#client, name) : new OpenAIChatCompletionsModel(this.#client, name)));
  }

  async close(): Promise<void> {
    this.#models.clear();
  }
}
