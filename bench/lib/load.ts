/** Closed-loop load from the bench process: `count` runs, `concurrency` at a time. */

export interface LoadOutcome {
  ok: number;
  failed: number;
  wallMs: number;
  failures: string[];
}

export async function postRun(origin: string, body: unknown): Promise<{ status: number; run: any; bytes: number }> {
  const res = await fetch(`${origin}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  let run: any = null;
  try {
    run = JSON.parse(text);
  } catch {
    run = { raw: text.slice(0, 200) };
  }
  return { status: res.status, run, bytes: Buffer.byteLength(text) };
}

export async function runMany(origin: string, body: unknown, count: number, concurrency: number): Promise<LoadOutcome> {
  let next = 0;
  const out: LoadOutcome = { ok: 0, failed: 0, wallMs: 0, failures: [] };
  const t0 = performance.now();
  const worker = async () => {
    while (next < count) {
      next++;
      try {
        const { status, run } = await postRun(origin, body);
        if (status === 200 && run?.status === 'succeeded') out.ok++;
        else {
          out.failed++;
          if (out.failures.length < 5) out.failures.push(`${status} ${JSON.stringify(run?.error ?? run).slice(0, 200)}`);
        }
      } catch (error) {
        out.failed++;
        if (out.failures.length < 5) out.failures.push(String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  out.wallMs = performance.now() - t0;
  return out;
}
