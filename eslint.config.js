// ESLint flat config: typescript-eslint's recommended rules (syntax only, no
// type information, so the whole repo lints in seconds) plus the layering of
// ../shared/STYLE.md as import boundaries:
//
//   routes/ ─┐                      tools/ ── only src/tools/api.ts and zod
//            ▼
//   src/app.ts, src/server.ts (wiring; the only src files that see routes/)
//            ▼
//   services: src/core/**, src/tools/**            (never fastify)
//            ▼
//   adapters: src/providers/**, src/reliability/** (never the services)
//            ▼
//   lib: src/errors.ts, src/config.ts, src/schemas/**, src/store/**,
//        src/observability/**, the lib-like modules of src/core (below)
//            ▼
//   src/bundle/** (pure: only itself and src/schemas, no packages)
//
// and no import cycle anywhere (type-only imports included).
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import { noImportCycle } from './eslint/noImportCycle.js';

/**
 * Modules that live in src/core today but are libraries by nature (no run
 * logic): lower layers may use them. Issue 11's restructure moves them to
 * src/lib/, after which this list goes away.
 */
const CORE_LIB = ['./semaphore.ts', './trace.ts', './clock.ts', './redaction.ts', './validator.ts'];

const TOP_LEVEL = ['./routes', './tools', './src/app.ts', './src/server.ts'];

/** import-x/no-restricted-paths zones; paths are relative to the repo root. */
const zones = [
  {
    target: ['./src/!(app|server).ts', './src/*/**'],
    from: TOP_LEVEL,
    message: 'src/ sits below routes/ and tools/: only src/app.ts wires routes, and tools are loaded at run time by src/tools/loader.ts.',
  },
  {
    target: './routes',
    from: ['./tools', './src/app.ts', './src/server.ts'],
    message: 'routes/ only translate HTTP: they call services, never the wiring or the tool files.',
  },
  {
    target: './tools',
    from: './src',
    except: ['./tools/api.ts'],
    message: 'tools/ import only the tool-definition API (src/tools/api.ts) and zod.',
  },
  {
    target: './tools',
    from: './routes',
    message: 'tools/ import only the tool-definition API (src/tools/api.ts) and zod.',
  },
  {
    target: ['./src/providers', './src/reliability'],
    from: ['./src/tools'],
    message: 'providers/ and reliability/ are adapters below the services: they never import src/tools/.',
  },
  {
    // Exceptions (issue 11): providers use the semaphore, the trace context and
    // redaction from src/core; those modules move to src/lib/ in the restructure.
    target: ['./src/providers', './src/reliability'],
    from: './src/core',
    except: CORE_LIB,
    message: 'providers/ and reliability/ are adapters below the services: they never import the run logic in src/core/.',
  },
  {
    target: ['./src/errors.ts', './src/config.ts', './src/schemas', './src/store', './src/observability', ...CORE_LIB.map((f) => `./src/core/${f.slice(2)}`)],
    from: ['./src/core', './src/providers', './src/reliability', './src/tools'],
    except: CORE_LIB.map((f) => `../core/${f.slice(2)}`),
    message: 'Library modules (errors, config, schemas, store, observability, the lib part of core) never import services or adapters.',
  },
  {
    target: './src/bundle',
    from: './src',
    except: ['./bundle', './schemas'],
    message: 'src/bundle is pure: it imports only itself and src/schemas.',
  },
  {
    target: './src/providers/simulator',
    from: './src',
    except: ['./providers/simulator'],
    message: 'The simulator is a program of its own: it imports nothing from the service.',
  },
];

const FASTIFY_ONLY_IN_WIRING = {
  paths: [
    { name: 'fastify', message: 'The core never imports fastify (STYLE.md): HTTP belongs in routes/ and src/app.ts.' },
  ],
  patterns: [{ group: ['@fastify/*'], message: 'The core never imports fastify (STYLE.md): HTTP belongs in routes/ and src/app.ts.' }],
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'bench/results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js'],
    plugins: { 'import-x': importX, local: { rules: { 'no-import-cycle': noImportCycle } } },
    languageOptions: { ecmaVersion: 2024, sourceType: 'module' },
    settings: { 'import-x/resolver-next': [createNodeResolver()] },
    rules: {
      'local/no-import-cycle': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['src/**/*.ts', 'routes/**/*.ts', 'tools/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': ['error', { zones }],
      'no-restricted-imports': ['error', FASTIFY_ONLY_IN_WIRING],
    },
  },
  {
    files: ['src/app.ts', 'src/http.ts', 'routes/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Pure: no package and no node module (I/O) at all; zod arrives through src/schemas.
    files: ['src/bundle/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(?!\\.\\.?/)', message: 'src/bundle is pure: no packages or node modules (no I/O).' }] }],
    },
  },
  {
    files: ['tools/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(?!zod$|\\.\\.?/)', message: 'tools/ import only the tool-definition API (src/tools/api.ts) and zod.' }] }],
    },
  },
  {
    // Tests and benchmarks: boundaries do not apply, and loose typing of parsed
    // JSON is fine there.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      'no-useless-assignment': 'off',
      'no-useless-escape': 'off',
    },
  },
);
