/** Typed access to the parts of autocannon the benchmarks use (it ships no types). */
import { createRequire } from 'node:module';

export interface AutocannonOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  connections?: number;
  pipelining?: number;
  /** Seconds. */
  duration?: number;
  /** Stop after this many requests instead of after `duration`. */
  amount?: number;
  /** Seconds per request before it counts as a timeout. */
  timeout?: number;
}

interface Histo {
  average: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p97_5: number;
  p99: number;
  total?: number;
  sent?: number;
}

export interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  latency: Histo;
  requests: Histo;
  throughput: Histo;
}

const require = createRequire(import.meta.url);
const autocannon = require('autocannon') as (opts: AutocannonOptions) => PromiseLike<AutocannonResult>;

export async function cannon(options: AutocannonOptions): Promise<AutocannonResult> {
  return await autocannon({ pipelining: 1, timeout: 30, ...options });
}
