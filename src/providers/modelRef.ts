/** A model as addressed by a request: which provider, which model there. */
export interface ModelRef {
  provider: string;
  model: string;
}

/**
 * Reads `provider/model`. Model names may hold slashes themselves
 * (`meta-llama/Llama-3.1-8B` on vLLM), so the part before the first slash
 * names a provider only when such a provider is configured; otherwise the
 * whole string is a model of the default provider.
 */
export function parseModelRef(ref: string, providers: ReadonlySet<string>, defaultProvider: string): ModelRef {
  const slash = ref.indexOf('/');
  if (slash > 0) {
    const provider = ref.slice(0, slash);
    if (providers.has(provider)) return { provider, model: ref.slice(slash + 1) };
  }
  return { provider: defaultProvider, model: ref };
}

/** The canonical `provider/model` form (what replicates, breakers and metrics are keyed by). */
export function formatModelRef(ref: ModelRef): string {
  return `${ref.provider}/${ref.model}`;
}
