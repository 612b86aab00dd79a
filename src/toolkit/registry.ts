import semver from 'semver';
import { quoteForMessage } from '../lib/truncate.ts';
import { ServiceError, StartupError } from '../errors.ts';
import { MAX_TOOL_NAME_CHARS, MAX_TOOL_VERSION_CHARS } from '../schemas/request.ts';
import type { ToolDefinition } from './api.ts';

const NAME = /^[a-z][a-z0-9_.-]{0,63}$/;

/** A registration problem found at startup. */
export class ToolRegistryError extends StartupError {
  constructor(message: string) {
    super('tool_invalid', message);
  }
}

/**
 * The tool catalogue: name → versions. Tools are looked up by name and an
 * optional semver range; the highest satisfying version wins.
 */
export class ToolRegistry {
  readonly #tools = new Map<string, ToolDefinition[]>();

  /** Adds a tool; refuses bad names, non-semver versions and duplicate name@version. */
  register(tool: ToolDefinition): void {
    const where = tool.source ? ` (${tool.source})` : '';
    if (!NAME.test(tool.name)) throw new ToolRegistryError(`tool name "${tool.name}"${where} must match ${NAME}`);
    if (semver.valid(tool.version) === null) throw new ToolRegistryError(`tool ${tool.name}${where}: version "${tool.version}" is not semver`);
    const versions = this.#tools.get(tool.name) ?? [];
    if (versions.some((t) => semver.eq(t.version, tool.version))) {
      throw new ToolRegistryError(`tool ${tool.name}@${tool.version}${where} is registered twice`);
    }
    versions.push(tool);
    versions.sort((a, b) => semver.rcompare(a.version, b.version));
    this.#tools.set(tool.name, versions);
  }

  /** Checks that every declared dependency resolves; throws naming the first that does not. */
  checkDependencies(): void {
    for (const versions of this.#tools.values()) {
      for (const tool of versions) {
        for (const [name, range] of Object.entries(tool.dependencies ?? {})) {
          if (semver.validRange(range) === null) throw new ToolRegistryError(`tool ${tool.name}@${tool.version}: dependency ${name} has invalid range "${range}"`);
          const available = this.versions(name);
          if (!available.some((v) => semver.satisfies(v, range))) {
            throw new ToolRegistryError(
              `tool ${tool.name}@${tool.version} needs ${name}@${range}, but ${available.length ? `only ${available.join(', ')} ${available.length > 1 ? 'are' : 'is'}` : 'none is'} registered`,
            );
          }
        }
      }
    }
  }

  /** The highest version of `name` satisfying `range`; 404 `tool_not_found` otherwise. */
  resolve(name: string, range?: string): ToolDefinition {
    // Bounded before any lookup or parse: semver's range parsing is superlinear in the text.
    // No registered name is longer (NAME), so a longer one is simply not there.
    if (name.length > MAX_TOOL_NAME_CHARS) throw new ServiceError('tool_not_found', `no tool named ${quoteForMessage(name)} (names have at most ${MAX_TOOL_NAME_CHARS} characters)`);
    if (range !== undefined && range.length > MAX_TOOL_VERSION_CHARS) {
      throw new ServiceError('invalid_request', `tool_version must be at most ${MAX_TOOL_VERSION_CHARS} characters, got ${range.length}`);
    }
    const versions = this.#tools.get(name);
    if (!versions || versions.length === 0) {
      throw new ServiceError('tool_not_found', `no tool named ${quoteForMessage(name)}`, { details: { available: this.names() } });
    }
    if (range === undefined) return versions[0] as ToolDefinition;
    if (semver.validRange(range) === null) throw new ServiceError('invalid_request', `tool_version ${quoteForMessage(range)} is not a semver range`);
    const match = versions.find((t) => semver.satisfies(t.version, range));
    if (!match) {
      throw new ServiceError('tool_not_found', `no version of ${quoteForMessage(name)} satisfies ${quoteForMessage(range)}`, {
        details: { available_versions: versions.map((t) => t.version) },
      });
    }
    return match;
  }

  /** True when a tool of that name exists. */
  has(name: string): boolean {
    return this.#tools.has(name);
  }

  /** Versions of a tool, highest first. */
  versions(name: string): string[] {
    return (this.#tools.get(name) ?? []).map((t) => t.version);
  }

  /** Tool names, sorted. */
  names(): string[] {
    return [...this.#tools.keys()].sort();
  }

  /** Latest version of every tool, optionally only those carrying `tag`. */
  list(tag?: string): ToolDefinition[] {
    const out: ToolDefinition[] = [];
    for (const name of this.names()) {
      const latest = (this.#tools.get(name) as ToolDefinition[])[0] as ToolDefinition;
      if (tag === undefined || latest.tags.includes(tag)) out.push(latest);
    }
    return out;
  }
}
