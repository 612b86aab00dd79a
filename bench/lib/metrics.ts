/** Reads the service's own Prometheus endpoint (no new surface needed). */
import { request } from './load.ts';

export type MetricSamples = Map<string, number>;

export async function scrape(origin: string): Promise<MetricSamples> {
  const { text } = await request(`${origin}/metrics`, { keepAlive: false });
  const out: MetricSamples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** Sum of every sample of `name` whose labels pass `filter`. */
export function sumMetric(samples: MetricSamples, name: string, filter: (labels: string) => boolean = () => true): number {
  let total = 0;
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    const metric = brace < 0 ? key : key.slice(0, brace);
    if (metric !== name) continue;
    if (filter(brace < 0 ? '' : key.slice(brace))) total += value;
  }
  return total;
}

/** Finished runs by outcome since the service started. */
export function runCounts(samples: MetricSamples): { succeeded: number; other: number } {
  const succeeded = sumMetric(samples, 'orchestrator_runs_total', (l) => l.includes('status="succeeded"'));
  const all = sumMetric(samples, 'orchestrator_runs_total');
  return { succeeded, other: all - succeeded };
}
