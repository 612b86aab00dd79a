import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ServiceError, StartupError } from '../errors.ts';
import { inputText } from '../schemas/inputText.ts';
import type { RunRequest } from '../schemas/request.ts';
import type { ToolRegistry } from '../toolkit/registry.ts';
import { DefaultToolPlanner, type Planner, type PlannerChoice } from './planner.ts';

/** What a rule looks at; every condition given must hold. */
const WhenSchema = z.strictObject({
  input_min_chars: z.number().int().min(0).optional(),
  input_max_chars: z.number().int().min(0).optional(),
  /** Regular expression tested against the input text (case-insensitive). */
  input_pattern: z.string().min(1).optional(),
  has_output_schema: z.boolean().optional(),
  /** Metadata keys that must be present; a string value must also match exactly. */
  metadata: z.record(z.string(), z.union([z.string(), z.literal(true)])).optional(),
  replicates_min: z.number().int().min(1).optional(),
  replicates_max: z.number().int().min(1).optional(),
  /** At least one of these must be among the request's `tags`. */
  tags_any: z.array(z.string().min(1)).min(1).optional(),
});

const RuleSchema = z.strictObject({
  name: z.string().min(1),
  when: WhenSchema.default({}),
  tool: z.string().min(1),
  version: z.string().min(1).optional(),
  options: z.record(z.string(), z.unknown()).optional(),
  reason: z.string().optional(),
});

/** A planner rules file: ordered rules, first match wins, then `default`. */
export const RulesFileSchema = z.strictObject({
  default: z.string().min(1).nullable().optional(),
  rules: z.array(RuleSchema).default([]),
});

export type PlannerRule = z.infer<typeof RuleSchema>;
export type RulesFile = z.infer<typeof RulesFileSchema>;

/**
 * Chooses a tool by ordered rules over request attributes; the first rule
 * whose conditions all hold wins and its reason lists them. Compiled once.
 */
export class RuleBasedPlanner implements Planner {
  readonly #rules: Array<PlannerRule & { pattern: RegExp | null }>;
  readonly #default: string | null;

  constructor(file: RulesFile) {
    this.#rules = file.rules.map((r) => ({ ...r, pattern: r.when.input_pattern ? new RegExp(r.when.input_pattern, 'i') : null }));
    this.#default = file.default ?? null;
  }

  /** Reads and validates a rules file (YAML or JSON); errors name the file and field. */
  static fromFile(path: string): RuleBasedPlanner {
    let data: unknown;
    try {
      data = parseYaml(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new StartupError('planner_rules_invalid', `${path}: cannot read planner rules: ${(error as Error).message}`, { cause: error });
    }
    const parsed = RulesFileSchema.safeParse(data ?? {});
    if (!parsed.success) {
      throw new StartupError('planner_rules_invalid', `${path}: invalid planner rules: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    }
    for (const [i, rule] of parsed.data.rules.entries()) {
      if (rule.when.input_pattern) {
        try {
          new RegExp(rule.when.input_pattern);
        } catch (error) {
          throw new StartupError('planner_rules_invalid', `${path}: rules.${i}.when.input_pattern: ${(error as Error).message}`, { cause: error });
        }
      }
    }
    return new RuleBasedPlanner(parsed.data);
  }

  /** Checks that every tool the rules name is registered (startup). */
  check(registry: ToolRegistry, source: string): void {
    const named = [...this.#rules.map((r) => ({ where: `rule "${r.name}"`, tool: r.tool, version: r.version })), ...(this.#default ? [{ where: 'default', tool: this.#default, version: undefined }] : [])];
    for (const { where, tool, version } of named) {
      try {
        registry.resolve(tool, version);
      } catch (error) {
        throw new StartupError('planner_rules_invalid', `${source}: ${where} names ${tool}${version ? `@${version}` : ''}: ${(error as Error).message}`, { cause: error });
      }
    }
  }

  choose(request: RunRequest): PlannerChoice {
    const text = inputText(request.input);
    for (const rule of this.#rules) {
      const reasons = matches(rule, rule.pattern, request, text);
      if (reasons) {
        return {
          tool: rule.tool,
          ...(rule.version ? { version: rule.version } : {}),
          rule: rule.name,
          reason: rule.reason ?? `rule "${rule.name}" matched${reasons.length ? `: ${reasons.join(', ')}` : ' (no conditions)'}`,
          ...(rule.options ? { options: rule.options } : {}),
        };
      }
    }
    if (this.#default) return { tool: this.#default, rule: null, reason: `no rule matched; using the default tool "${this.#default}"` };
    throw new ServiceError('invalid_request', 'no planner rule matched this request and no default tool is configured; name a `tool`', {
      details: { rules: this.#rules.map((r) => r.name) },
    });
  }
}

/** The reasons a rule holds, or null when one of its conditions fails. */
function matches(rule: PlannerRule, pattern: RegExp | null, request: RunRequest, text: string): string[] | null {
  const w = rule.when;
  const reasons: string[] = [];
  if (w.input_min_chars !== undefined) {
    if (text.length < w.input_min_chars) return null;
    reasons.push(`input has ≥ ${w.input_min_chars} characters`);
  }
  if (w.input_max_chars !== undefined) {
    if (text.length > w.input_max_chars) return null;
    reasons.push(`input has ≤ ${w.input_max_chars} characters`);
  }
  if (pattern) {
    if (!pattern.test(text)) return null;
    reasons.push(`input matches /${pattern.source}/i`);
  }
  if (w.has_output_schema !== undefined) {
    if ((request.agent?.output_schema !== undefined) !== w.has_output_schema) return null;
    reasons.push(w.has_output_schema ? 'an output_schema is given' : 'no output_schema is given');
  }
  for (const [key, value] of Object.entries(w.metadata ?? {})) {
    const actual = request.metadata?.[key];
    if (actual === undefined || (value !== true && actual !== value)) return null;
    reasons.push(value === true ? `metadata.${key} is set` : `metadata.${key} = "${value}"`);
  }
  if (w.replicates_min !== undefined) {
    if ((request.replicates ?? 0) < w.replicates_min) return null;
    reasons.push(`replicates ≥ ${w.replicates_min}`);
  }
  if (w.replicates_max !== undefined) {
    if (request.replicates === undefined || request.replicates > w.replicates_max) return null;
    reasons.push(`replicates ≤ ${w.replicates_max}`);
  }
  if (w.tags_any) {
    const hit = w.tags_any.find((t) => request.tags?.includes(t));
    if (!hit) return null;
    reasons.push(`tag "${hit}" wanted`);
  }
  return reasons;
}

/**
 * The planner for a service: rules from `path` when the file exists (checked
 * against the registry), else the default tool. A path the operator set
 * explicitly must exist.
 */
export function loadPlanner(path: string, registry: ToolRegistry, options: { explicit: boolean; defaultTool?: string }): Planner {
  if (!existsSync(path)) {
    if (options.explicit) throw new StartupError('planner_rules_invalid', `PLANNER_RULES: ${path} does not exist`);
    return new DefaultToolPlanner(options.defaultTool ?? 'bundle');
  }
  const planner = RuleBasedPlanner.fromFile(path);
  planner.check(registry, path);
  return planner;
}
