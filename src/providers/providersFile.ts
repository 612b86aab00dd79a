import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { StartupError } from '../errors.ts';
import { CapabilitiesSchema } from './capabilities.ts';

/** A provider name: also the prefix of its models (`name/model`). */
const ProviderName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lowercase letters, digits, _ and - (starting with a letter), at most 32');

const Price = z.strictObject({ input: z.number().min(0), output: z.number().min(0) });

/** Breaker thresholds of one provider; unset fields take the service-wide BREAKER_* settings. */
const ProviderBreakerSchema = z.strictObject({
  error_percent: z.number().int().min(1).max(100).optional(),
  volume: z.number().int().min(1).optional(),
  consecutive_failures: z.number().int().min(1).optional(),
  reset_ms: z.number().int().min(10).optional(),
  rolling_ms: z.number().int().min(100).optional(),
});

/** Retries of one provider; unset fields take the service-wide RETRY_* settings. */
const ProviderRetrySchema = z.strictObject({
  max_attempts: z.number().int().min(1).max(20).optional(),
  base_ms: z.number().int().min(0).optional(),
  max_delay_ms: z.number().int().min(0).optional(),
  max_total_ms: z.number().int().min(0).optional(),
});

/** One OpenAI-compatible provider as the file declares it. */
export const ProviderEntrySchema = z.strictObject({
  name: ProviderName,
  base_url: z.url({ protocol: /^https?$/ }),
  /** Name of the environment variable holding the key; the key itself never goes in the file. */
  api_key_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
  api: z.enum(['chat_completions', 'responses']).default('chat_completions'),
  /** Models served, listed by `GET /v1/models` (any model may still be asked for). */
  models: z.array(z.string().min(1).max(200)).max(1000).default([]),
  /** Capabilities per model name or glob pattern (`*` any run of characters); later entries win. */
  capabilities: z.record(z.string().min(1).max(200), CapabilitiesSchema).default({}),
  /** USD per 1M tokens per model; overrides the built-in table for this provider. */
  pricing: z.record(z.string().min(1).max(200), Price).default({}),
  timeout_ms: z.number().int().min(1).max(3_600_000).optional(),
  /** Calls in flight to this provider at once (default MAX_GLOBAL_CONCURRENCY). */
  max_concurrency: z.number().int().min(1).max(100_000).optional(),
  breaker: ProviderBreakerSchema.optional(),
  retry: ProviderRetrySchema.optional(),
});

/** `PROVIDERS_FILE`: named providers and which one serves bare model names. */
export const ProvidersFileSchema = z
  .strictObject({
    default: ProviderName.optional(),
    providers: z.array(ProviderEntrySchema).min(1).max(64),
  })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    for (const [i, p] of file.providers.entries()) {
      if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: ['providers', i, 'name'], message: `provider "${p.name}" is declared twice` });
      seen.add(p.name);
    }
    if (file.default !== undefined && !seen.has(file.default)) {
      ctx.addIssue({ code: 'custom', path: ['default'], message: `names no declared provider ("${file.default}")` });
    }
  });

export type ProviderEntry = z.infer<typeof ProviderEntrySchema>;
export type ProvidersFile = z.infer<typeof ProvidersFileSchema>;

/** A provider ready to be wired: its file entry plus the key read from the environment. */
export interface ProviderSpec extends ProviderEntry {
  /** The key from `api_key_env`, or undefined when the provider needs none. */
  apiKey: string | undefined;
}

/** The providers of a file, and the default one's name. */
export interface ProviderSet {
  defaultProvider: string;
  /** Whether the file named its default (else the first provider, or OPENAI_BASE_URL's when that is set too). */
  defaultDeclared: boolean;
  providers: ProviderSpec[];
}

/** A problem in PROVIDERS_FILE; names the file and every bad field. */
export class ProvidersFileError extends StartupError {
  constructor(file: string, problems: string[]) {
    super('config_invalid', `${file}: invalid providers file:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Reads and checks a providers file (YAML or JSON). Every problem is listed
 * with its field; a key named by `api_key_env` must be set in `env`.
 */
export function loadProvidersFile(file: string, env: Record<string, string | undefined>): ProviderSet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ProvidersFileError(file, [`cannot read: ${(error as Error).message}`]);
  }
  return parseProvidersFile(text, file, env);
}

/** {@link loadProvidersFile} on text already read (`file` names it in errors). */
export function parseProvidersFile(text: string, file: string, env: Record<string, string | undefined>): ProviderSet {
  let data: unknown;
  try {
    data = parseYaml(text, { maxAliasCount: 100 });
  } catch (error) {
    throw new ProvidersFileError(file, [`not valid YAML: ${(error as Error).message}`]);
  }
  const parsed = ProvidersFileSchema.safeParse(data);
  if (!parsed.success) {
    throw new ProvidersFileError(
      file,
      parsed.error.issues.map((i) => {
        const field = i.path.length > 0 ? i.path.join('.') : '(root)';
        return i.code === 'unrecognized_keys' ? `${field}: unknown field(s) ${i.keys.join(', ')}` : `${field}: ${i.message}`;
      }),
    );
  }
  const missing: string[] = [];
  const providers = parsed.data.providers.map((p, i): ProviderSpec => {
    const key = p.api_key_env === undefined ? undefined : env[p.api_key_env];
    if (p.api_key_env !== undefined && (key === undefined || key.trim() === '')) missing.push(`providers.${i}.api_key_env: ${p.api_key_env} is not set in the environment`);
    return { ...p, apiKey: key?.trim() || undefined };
  });
  if (missing.length > 0) throw new ProvidersFileError(file, missing);
  return { defaultProvider: parsed.data.default ?? (providers[0] as ProviderSpec).name, defaultDeclared: parsed.data.default !== undefined, providers };
}
