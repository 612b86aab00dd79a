import type { RunRequest } from '../schemas/request.ts';
import type { PlannerDecision } from '../schemas/result.ts';

/** A planner's choice: which tool (and optionally version range and options), and why. */
export interface PlannerChoice extends PlannerDecision {
  options?: Record<string, unknown>;
}

/** Picks a tool for a request that names none. */
export interface Planner {
  choose(request: RunRequest): PlannerChoice;
}

/** The planner of last resort: always the default tool. */
export class DefaultToolPlanner implements Planner {
  readonly #tool: string;

  constructor(tool = 'bundle') {
    this.#tool = tool;
  }

  choose(): PlannerChoice {
    return { tool: this.#tool, rule: null, reason: `no tool named; using the default tool "${this.#tool}"` };
  }
}
