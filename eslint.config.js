// ESLint flat config: typescript-eslint's recommended rules (syntax only, no
// type information, so the whole repo lints in seconds) plus the layering of
// ../shared/STYLE.md as import boundaries:
//
//   routes/ ─┐                      tools/ ── only src/tools/api.ts and zod
//            ▼
//   src/app.ts, src/server.ts (wiring; the only src files that see routes/)
//            ▼
//   services: the run logic of src/core (CORE_SERVICES), src/tools/**
//            ▼
//   adapters: src/providers/**, src/reliability/** (never the services)
//            ▼
//   lib: src/errors.ts, src/config.ts, src/schemas/**, src/store/**,
//        src/observability/**, the other (library) modules of src/core
//            ▼
//   src/bundle/** (pure: only itself and src/schemas, no packages)
//
// None of these layers imports fastify (HTTP plumbing lives in routes/,
// src/app.ts, src/http.ts and other top-level src files), and there is no
// import cycle anywhere (type-only imports included).
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import { noImportCycle } from './eslint/noImportCycle.js';

/**
 * The run logic in src/core. Its other modules (semaphore, trace, clock,
 * redaction, validator, …) are libraries by nature, and lower layers may use
 * them: providers reach into src/core for the semaphore, the trace context
 * and redaction today. Issue 11's restructure moves those to src/lib/ and the
 * run logic to folders of its own, after which this list goes away. A new
 * run-logic module in src/core belongs here.
 */
const CORE_SERVICES = [
  'orchestrator', 'replicateRunner', 'replicateEnv', 'synthesizer', 'resolveRequest', 'rulePlanner', 'planner',
  'budgetCheck', 'runAccount', 'eventFeed', 'runQueue', 'takeover', 'runMemory', 'handoffCall', 'panelPlan', 'callKeyring',
].map((name) => `./src/core/${name}.ts`);

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
    target: ['./src/providers', './src/reliability'],
    from: CORE_SERVICES,
    message: 'providers/ and reliability/ are adapters below the services: they never import the run logic in src/core/.',
  },
  {
    target: ['./src/errors.ts', './src/config.ts', './src/schemas', './src/store', './src/observability'],
    from: ['./src/core', './src/providers', './src/reliability', './src/tools'],
    except: ['./semaphore.ts', './trace.ts', './clock.ts', './redaction.ts'].map((f) => `../core/${f.slice(2)}`),
    message: 'Library modules (errors, config, schemas, store, observability) never import services or adapters.',
  },
  {
    target: `./src/core/!(${CORE_SERVICES.map((f) => f.slice('./src/core/'.length, -3)).join('|')}).ts`,
    from: [...CORE_SERVICES, './src/providers', './src/reliability', './src/tools'],
    message: 'The library modules of src/core never import the run logic, the adapters or the tool platform.',
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

const NO_FASTIFY = {
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
    rules: { 'import-x/no-restricted-paths': ['error', { zones }] },
  },
  {
    files: ['src/{core,tools,providers,reliability,store,schemas,observability}/**/*.ts', 'src/config.ts', 'src/errors.ts'],
    rules: { 'no-restricted-imports': ['error', NO_FASTIFY] },
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
    // Browser scripts served by the service (public/): browser globals.
    files: ['public/**/*.js'],
    languageOptions: { sourceType: 'module', globals: globals.browser },
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
