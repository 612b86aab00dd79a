/**
 * Reads a V8 .cpuprofile (from `node --cpu-prof`) and prints the functions
 * with the most self time, as `file:line`.
 *
 *   node bench/topFunctions.ts <file.cpuprofile | directory> [--top=15] [--ours] [--json] [--from-ms=N] [--to-ms=N]
 *   node bench/topFunctions.ts <profile> --callers=<function name>   (self time of that function by nearest caller in our code)
 *
 * `--ours` keeps only the service's own code (src/, routes/, tools/, and their compiled JavaScript in dist/);
 * `--from-ms`/`--to-ms` keep the samples in that window (ms since the
 * profile started, e.g. to drop start-up); a directory means its newest
 * .cpuprofile. Self time is where the CPU was; total (inclusive) time
 * counts a function once per sample when it is anywhere on the stack.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionCost {
  name: string;
  /** Repo-relative path, `node:…` for Node internals, or `(native)`. */
  location: string;
  ours: boolean;
  /** What the function belongs to: `ours`, an npm package, `node`, `v8`, `native`. */
  owner: string;
  selfMs: number;
  totalMs: number;
  selfPct: number;
  totalPct: number;
}

export interface ProfileSummary {
  file: string;
  durationMs: number;
  /** Sampled time minus `(idle)`. */
  busyMs: number;
  idleMs: number;
  gcMs: number;
  functions: FunctionCost[];
  owners: Array<{ owner: string; selfMs: number; selfPct: number }>;
}

function relative(url: string): string {
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return url;
  let p = url;
  if (p.startsWith('file://')) p = fileURLToPath(p);
  return path.isAbsolute(p) ? path.relative(REPO_ROOT, p) : p;
}

function ownerOf(frame: CallFrame, rel: string): string {
  if (frame.url === '') return frame.functionName.startsWith('(') ? 'v8' : 'native';
  if (rel.includes('internal/deps/undici')) return 'undici (fetch)';
  if (rel.includes('internal/deps/amaro')) return 'amaro (type stripping)';
  if (rel.startsWith('node:')) return 'node';
  const nm = rel.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = rel.slice(nm + 13).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? 'npm');
  }
  if (isOurs(rel)) return 'ours';
  if (rel.startsWith('bench/')) return 'bench';
  return 'other';
}

export function isOurs(location: string): boolean {
  // The service as `npm start` runs it is the compiled JavaScript in dist/ (lines close to, not equal to, the sources').
  return /^(dist\/)?(src|routes|tools)\//.test(location);
}

/** Self and total (inclusive) time per function, busiest first by self time. */
export function analyze(profile: CpuProfile, file = '', window: { fromMs?: number; toMs?: number } = {}): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const keyOf = new Map<number, string>();
  const meta = new Map<string, { name: string; location: string; owner: string }>();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const rel = relative(f.url);
    const location = f.url === '' ? rel : `${rel}:${f.lineNumber + 1}`;
    const name = f.functionName || '(anonymous)';
    const key = `${name}@${location}`;
    keyOf.set(n.id, key);
    if (!meta.has(key)) meta.set(key, { name, location, owner: ownerOf(f, rel) });
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let durationUs = 0;
  let idleUs = 0;
  let gcUs = 0;
  const { samples, timeDeltas } = profile;
  const fromUs = (window.fromMs ?? 0) * 1000;
  const toUs = (window.toMs ?? Number.POSITIVE_INFINITY) * 1000;
  let at = 0;
  for (let i = 0; i < samples.length; i++) {
    at += timeDeltas[i] ?? 0;
    if (at < fromUs || at > toUs) continue;
    // A sample stands for the time until the next one.
    const dt = Math.max(0, timeDeltas[i + 1] ?? 0);
    durationUs += dt;
    const id = samples[i] as number;
    const key = keyOf.get(id) as string;
    const name = meta.get(key)?.name;
    if (name === '(idle)') {
      idleUs += dt;
      continue;
    }
    if (name === '(garbage collector)') gcUs += dt;
    self.set(key, (self.get(key) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = keyOf.get(cur) as string;
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + dt);
    }
  }
  const busyUs = durationUs - idleUs;
  const functions: FunctionCost[] = [...meta.entries()]
    .filter(([k, m]) => (self.get(k) ?? 0) > 0 || ((total.get(k) ?? 0) > 0 && m.name !== '(root)'))
    .map(([k, m]) => ({
      name: m.name,
      location: m.location,
      ours: isOurs(m.location),
      owner: m.owner,
      selfMs: (self.get(k) ?? 0) / 1000,
      totalMs: (total.get(k) ?? 0) / 1000,
      selfPct: ((self.get(k) ?? 0) / busyUs) * 100,
      totalPct: ((total.get(k) ?? 0) / busyUs) * 100,
    }))
    .sort((a, b) => b.selfMs - a.selfMs);
  const ownerTotals = new Map<string, number>();
  for (const f of functions) ownerTotals.set(f.owner, (ownerTotals.get(f.owner) ?? 0) + f.selfMs);
  const owners = [...ownerTotals.entries()]
    .map(([owner, ms]) => ({ owner, selfMs: ms, selfPct: (ms * 1000 * 100) / busyUs }))
    .sort((a, b) => b.selfMs - a.selfMs);
  return { file, durationMs: durationUs / 1000, busyMs: busyUs / 1000, idleMs: idleUs / 1000, gcMs: gcUs / 1000, functions, owners };
}

/**
 * Who is responsible for the time spent in functions named `name` (self
 * time): per nearest caller in our code (src/, routes/, tools/), or `-` when
 * no frame of ours is on the stack.
 */
export function callersInOurCode(profile: CpuProfile, name: string, window: { fromMs?: number; toMs?: number } = {}): Array<{ caller: string; ms: number }> {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${relative(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const out = new Map<string, number>();
  const fromUs = (window.fromMs ?? 0) * 1000;
  const toUs = (window.toMs ?? Number.POSITIVE_INFINITY) * 1000;
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < fromUs || at > toUs) continue;
    const node = byId.get(profile.samples[i] as number);
    if (!node || (node.callFrame.functionName || '(anonymous)') !== name) continue;
    let caller = '-';
    for (let cur = parent.get(node.id); cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur) as ProfileNode;
      if (isOurs(relative(n.callFrame.url))) {
        caller = label(n);
        break;
      }
    }
    out.set(caller, (out.get(caller) ?? 0) + Math.max(0, profile.timeDeltas[i + 1] ?? 0) / 1000);
  }
  return [...out.entries()].map(([caller, ms]) => ({ caller, ms })).sort((a, b) => b.ms - a.ms);
}

export function loadProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

/** The newest .cpuprofile in a directory (or the file itself). */
export function resolveProfile(target: string): string {
  if (!statSync(target).isDirectory()) return target;
  const files = readdirSync(target)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(target, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!files[0]) throw new Error(`no .cpuprofile in ${target}`);
  return files[0];
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const target = args.find((a) => !a.startsWith('--')) ?? path.join(REPO_ROOT, 'bench', 'results', 'profiles');
  const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 15);
  const ours = args.includes('--ours');
  const fromMs = Number(args.find((a) => a.startsWith('--from-ms='))?.slice(10) ?? 0);
  const toMs = Number(args.find((a) => a.startsWith('--to-ms='))?.slice(8) ?? Number.POSITIVE_INFINITY);
  const file = resolveProfile(target);
  const callersOf = args.find((a) => a.startsWith('--callers='))?.slice(10);
  if (callersOf) {
    for (const c of callersInOurCode(loadProfile(file), callersOf, { fromMs, toMs }).slice(0, top)) {
      process.stdout.write(`${pad(c.ms.toFixed(1), 9, true)} ms  ${c.caller}\n`);
    }
    process.exit(0);
  }
  const summary = analyze(loadProfile(file), path.relative(REPO_ROOT, file), { fromMs, toMs });
  const rows = summary.functions.filter((f) => !ours || f.ours).slice(0, top);
  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ ...summary, functions: rows }, null, 2)}\n`);
  } else {
    process.stdout.write(
      `${summary.file}: ${(summary.durationMs / 1000).toFixed(1)} s sampled, busy ${(summary.busyMs / 1000).toFixed(1)} s, GC ${((summary.gcMs / summary.busyMs) * 100).toFixed(1)} % of busy\n\n`,
    );
    process.stdout.write(`${pad('self ms', 9, true)} ${pad('self %', 7, true)} ${pad('total %', 8, true)}  function  location\n`);
    for (const f of rows) {
      process.stdout.write(`${pad(f.selfMs.toFixed(1), 9, true)} ${pad(f.selfPct.toFixed(1), 7, true)} ${pad(f.totalPct.toFixed(1), 8, true)}  ${f.name}  ${f.location}\n`);
    }
    process.stdout.write(`\nself time by owner:\n`);
    for (const o of summary.owners.slice(0, 12)) process.stdout.write(`${pad(o.selfPct.toFixed(1), 7, true)} %  ${o.owner}\n`);
  }
}
