import { spawn } from 'node:child_process';

/** Variables that would point a fresh service at a provider or an exporter instead of its defaults. */
const PROVIDER_AND_OTEL = (k: string) => k.startsWith('OTEL_') || k === 'OPENAI_API_KEY' || k === 'OPENAI_BASE_URL' || k === 'PROVIDERS_FILE';

/**
 * Runs `script` (an ES module, from the repository root) in a fresh Node
 * process, for checks this test process cannot make itself (what a start-up
 * loads: the test file's own imports have loaded it already), and answers
 * the JSON it writes to stdout. The environment is this process's, without
 * provider and OTel variables.
 */
export function runFreshScript<T>(script: string): Promise<T> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !PROVIDER_AND_OTEL(k)) env[k] = v;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`script exited with ${code}: ${err}`));
      else resolve(JSON.parse(out) as T);
    });
    child.once('error', reject);
  });
}
