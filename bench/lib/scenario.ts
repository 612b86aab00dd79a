import type { MachineInfo } from './machine.ts';

/** What every scenario gets from the driver. */
export interface ScenarioContext {
  quick: boolean;
  log(message: string): void;
  /** bench/results */
  resultsDir: string;
}

/** One target from the brief, checked against a measured figure. */
export interface TargetCheck {
  target: string;
  measured: string;
  /** null when the measurement cannot decide (e.g. below clock resolution). */
  met: boolean | null;
  note?: string;
}

export interface Scenario<R = any> {
  id: number;
  key: string;
  title: string;
  run(ctx: ScenarioContext): Promise<R>;
  /** Markdown for this scenario's generated section (below its heading). */
  render(result: R, meta: RunMeta): string;
  targets(result: R): TargetCheck[];
}

/** Where and how a stored result was produced. */
export interface RunMeta {
  date: string;
  command: string;
  quick: boolean;
  durationS: number;
  machine: MachineInfo;
  /** Average cores used by processes other than the bench and its children during the scenario. */
  foreignCores?: number;
}

/** bench/results/<id>-<key>.json */
export interface StoredResult<R = any> {
  scenario: { id: number; key: string; title: string };
  meta: RunMeta;
  result: R;
}
