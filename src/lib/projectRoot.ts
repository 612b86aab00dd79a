import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(import.meta.url);

/**
 * Whether this process runs the JavaScript `npm run build` emitted
 * (`dist/src/lib/projectRoot.js`, what `npm start` and the image run) rather
 * than the TypeScript sources under Node's type stripping (`npm run dev`, the
 * tests).
 */
export const RUNNING_COMPILED = HERE.endsWith('.js');

/**
 * The repository root (in the image, /app): where package.json, openapi.yaml,
 * public/, config/ and tools/ are, whether this module runs from
 * `src/lib/projectRoot.ts` or from `dist/src/lib/projectRoot.js`.
 */
export const PROJECT_ROOT = path.resolve(path.dirname(HERE), '..', '..', ...(RUNNING_COMPILED ? ['..'] : []));

/** Where `npm run build` writes the JavaScript of src/, routes/ and tools/ (tsconfig.build.json's outDir). */
export const BUILD_DIR = path.join(PROJECT_ROOT, 'dist');
