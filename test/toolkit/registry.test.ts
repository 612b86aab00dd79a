import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ServiceError } from '../../src/errors.ts';
import { defineTool, type ToolDefinition } from '../../src/toolkit/api.ts';
import { loadTools } from '../../src/toolkit/loader.ts';
import { ToolRegistry } from '../../src/toolkit/registry.ts';

const stub = (name: string, version: string, extra: Partial<ToolDefinition> = {}): ToolDefinition =>
  defineTool({ name, version, description: name, input_schema: {}, output_schema: {}, tags: [], execute: async () => ({ output: null, bundle: null }), ...extra });

describe('tool registry', () => {
  it('resolves the highest version satisfying a range', () => {
    const r = new ToolRegistry();
    for (const v of ['1.0.0', '1.2.3', '2.0.0']) r.register(stub('t', v));
    expect(r.resolve('t').version).toBe('2.0.0');
    expect(r.resolve('t', '^1.2').version).toBe('1.2.3');
    expect(r.resolve('t', '~1.0.0').version).toBe('1.0.0');
  });

  it('answers an unsatisfiable range with tool_not_found listing the available versions', () => {
    const r = new ToolRegistry();
    r.register(stub('t', '1.0.0'));
    try {
      r.resolve('t', '^3');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ServiceError);
      expect((error as ServiceError).code).toBe('tool_not_found');
      expect((error as ServiceError).details).toEqual({ available_versions: ['1.0.0'] });
    }
  });

  it('refuses duplicate name@version, non-semver versions and bad names', () => {
    const r = new ToolRegistry();
    r.register(stub('t', '1.0.0'));
    expect(() => r.register(stub('t', '1.0.0'))).toThrow(/registered twice/);
    expect(() => r.register(stub('t', 'one'))).toThrow(/not semver/);
    expect(() => r.register(stub('Bad Name', '1.0.0'))).toThrow(/must match/);
  });

  it('refuses a tool whose dependency range nothing satisfies', () => {
    const r = new ToolRegistry();
    r.register(stub('base', '1.4.0'));
    r.register(stub('composite', '1.0.0', { dependencies: { base: '^2.0.0' } }));
    expect(() => r.checkDependencies()).toThrow(/composite@1.0.0 needs base@\^2.0.0, but only 1.4.0 is registered/);
  });
});

const cleanup: string[] = [];
afterAll(async () => {
  await Promise.all(cleanup.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('loading the tools directory', () => {
  it('ships at least three tools, each with a semver version, including declarative ones', async () => {
    const registry = await loadTools('tools');
    const tools = registry.list();
    expect(tools.length).toBeGreaterThanOrEqual(3);
    for (const t of tools) expect(t.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(registry.names()).toEqual(expect.arrayContaining(['bundle', 'sentiment', 'contact_extractor', 'answer', 'triage', 'panel']));
  });

  it('names the file and field of a broken declarative tool', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tools-'));
    await writeFile(path.join(dir, 'broken.yaml'), 'name: broken\nversion: 1.0.0\ndescription: x\ninstructions: 42\ndefaults: { replicates: 0 }\n');
    const error = await loadTools(dir).then(() => null, (e: Error) => e);
    expect(error?.message).toMatch(/broken\.yaml: invalid tool definition/);
    expect(error?.message).toMatch(/instructions: .*expected string/);
    expect(error?.message).toMatch(/defaults\.replicates: /);
  });

  it('names the file of YAML that does not parse', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tools-'));
    await writeFile(path.join(dir, 'garbled.yml'), 'name: [unclosed\n');
    await expect(loadTools(dir)).rejects.toThrow(/garbled\.yml: not valid YAML/);
  });

  it('refuses a pipeline whose step names a missing tool', async () => {
    // Inside the repo, so the tool module's relative imports resolve as they do from tools/.
    const dir = await mkdtemp(path.join(process.cwd(), '.tmp-tools-'));
    cleanup.push(dir);
    await cp('tools/bundle.ts', path.join(dir, 'bundle.ts'));
    await writeFile(path.join(dir, 'p.yaml'), 'name: p\nversion: 1.0.0\ndescription: x\nkind: pipeline\nsteps: [{ tool: nowhere }]\n');
    await expect(loadTools(dir)).rejects.toThrow(/p@1.0.0 needs nowhere@\*, but none is registered/);
  });
});

describe('the shipped tools folder', () => {
  it('names every tool file after the tool it holds, so a reader finds a tool by its name', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const { parse } = await import('yaml');
    const dir = path.resolve(import.meta.dirname, '../../tools');
    const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f));
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) {
      const spec = parse(await readFile(path.join(dir, file), 'utf8')) as { name: string };
      expect(spec.name, file).toBe(file.replace(/\.ya?ml$/, ''));
    }
  });
});

describe('ToolRegistry bounds on caller input', () => {
  it('refuses long ranges before semver parses them, and echoes at most a few hundred characters', async () => {
    const registry = await loadTools('tools');
    const long = `>=${'1'.repeat(900_000)}`;
    expect(() => registry.resolve('answer', long)).toThrow(/tool_version must be at most 256 characters/);
    const name = `x${'y'.repeat(100_000)}`;
    try {
      registry.resolve(name);
      expect.unreachable();
    } catch (error) {
      expect((error as ServiceError).code).toBe('tool_not_found');
      expect((error as Error).message.length).toBeLessThan(400);
    }
    try {
      registry.resolve('answer', `bad ${'r'.repeat(250)}`);
      expect.unreachable();
    } catch (error) {
      expect((error as ServiceError).code).toBe('invalid_request');
      expect((error as Error).message).toMatch(/… \(254 characters\)" is not a semver range/);
    }
  });
});
