import { readFileSync } from 'node:fs';
import os from 'node:os';

/** Where a benchmark ran. */
export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryBytes: number;
  node: string;
  platform: string;
  kernel: string;
}

export function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpuModel = m[1].trim();
  } catch {
    /* not Linux */
  }
  return {
    nproc: os.availableParallelism(),
    cpuModel,
    memoryBytes: os.totalmem(),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
  };
}

/** The command line as a human would type it to reproduce this run. */
export function commandLine(argv: readonly string[] = process.argv.slice(2)): string {
  const args = argv.join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return args ? `npm run bench -- ${args}` : 'npm run bench';
  return `node bench/run.ts${args ? ` ${args}` : ''}`;
}

/** CPU counters used to tell whether anything else ran on the machine during a scenario (Linux). */
export interface CpuSnapshot {
  at: number;
  /** Busy CPU time of the whole machine, ms. */
  systemBusyMs: number;
  /** This process plus its terminated (reaped) children, ms. */
  oursMs: number;
}

const TICK_MS = 10; // USER_HZ = 100

export function cpuSnapshot(): CpuSnapshot | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
    const self = readFileSync('/proc/self/stat', 'utf8');
    const f = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number);
    const ours = (f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0);
    return { at: performance.now(), systemBusyMs: (user + nice + system + irq + softirq + steal) * TICK_MS, oursMs: ours * TICK_MS };
  } catch {
    return null;
  }
}

/**
 * Average number of cores used by processes other than the bench and its
 * children between two snapshots (children must have exited by `b`).
 */
export function foreignCores(a: CpuSnapshot | null, b: CpuSnapshot | null): number | undefined {
  if (!a || !b || b.at <= a.at) return undefined;
  const foreign = b.systemBusyMs - a.systemBusyMs - (b.oursMs - a.oursMs);
  return Math.max(0, Math.round((foreign / (b.at - a.at)) * 100) / 100);
}
