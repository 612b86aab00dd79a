// ESLint flat config: typescript-eslint's recommended rules (syntax only, no
// type information, so the whole repo lints in seconds) plus the layering of
// ../shared/STYLE.md as import boundaries:
//
//   routes/ ─┐ (HTTP only, routes/http.ts)   tools/ ── only src/toolkit/api.ts and zod
//            ▼
//   src/app.ts, src/server.ts (wiring; the only src files that see routes/)
//            ▼
//   services: src/runs/** (the top: nothing else in src imports it),
//             src/replicates/**, src/planning/**, src/requests/**, src/toolkit/**
//            ▼
//   adapters: src/providers/**, src/reliability/** (never the services)
//            ▼
//   lib: src/lib/**, src/errors.ts, src/config.ts, src/schemas/**, src/store/**,
//        src/observability/**
//            ▼
//   src/bundle/** (pure: only itself and src/schemas, no packages)
//
// None of these layers imports fastify (HTTP plumbing lives in routes/,
// src/app.ts and other top-level src files), and there is no import cycle
// anywhere (type-only imports included).
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import { noImportCycle } from './eslint/noImportCycle.js';

/** The run logic, one folder a concept. */
const SERVICES = ['./src/runs', './src/replicates', './src/planning', './src/requests', './src/toolkit'];
const ADAPTERS = ['./src/providers', './src/reliability'];
const LIB = ['./src/lib', './src/errors.ts', './src/config.ts', './src/configFields.ts', './src/schemas', './src/store', './src/observability'];

const TOP_LEVEL = ['./routes', './tools', './src/app.ts', './src/server.ts'];

/** import-x/no-restricted-paths zones; paths are relative to the repo root. */
const zones = [
  {
    target: ['./src/!(app|server).ts', './src/*/**'],
    from: TOP_LEVEL,
    message: 'src/ sits below routes/ and tools/: only src/app.ts wires routes, and tools are loaded at run time by src/toolkit/loader.ts.',
  },
  {
    target: './routes',
    from: ['./tools', './src/app.ts', './src/server.ts'],
    message: 'routes/ only translate HTTP: they call services, never the wiring or the tool files.',
  },
  {
    target: './tools',
    from: './src',
    except: ['./toolkit/api.ts'],
    message: 'tools/ import only the tool-definition API (src/toolkit/api.ts) and zod.',
  },
  {
    target: './tools',
    from: './routes',
    message: 'tools/ import only the tool-definition API (src/toolkit/api.ts) and zod.',
  },
  {
    target: SERVICES.filter((s) => s !== './src/runs'),
    from: './src/runs',
    message: 'src/runs is the top service (submission and the run lifecycle): the other services never import it.',
  },
  {
    target: ADAPTERS,
    from: SERVICES,
    message: 'providers/ and reliability/ are adapters below the services: they never import the run logic.',
  },
  {
    target: LIB,
    from: [...SERVICES, ...ADAPTERS],
    message: 'Library modules (src/lib, errors, config, schemas, store, observability) never import services or adapters.',
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
    { name: 'fastify', message: 'The services and libraries never import fastify (STYLE.md): HTTP belongs in routes/ and src/app.ts.' },
  ],
  patterns: [{ group: ['@fastify/*'], message: 'The services and libraries never import fastify (STYLE.md): HTTP belongs in routes/ and src/app.ts.' }],
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'bench/results/**', 'coverage/**'] },
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
    files: ['src/{runs,replicates,planning,requests,toolkit,lib,providers,reliability,store,schemas,observability}/**/*.ts', 'src/config.ts', 'src/configFields.ts', 'src/errors.ts'],
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
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(?!zod$|\\.\\.?/)', message: 'tools/ import only the tool-definition API (src/toolkit/api.ts) and zod.' }] }],
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
