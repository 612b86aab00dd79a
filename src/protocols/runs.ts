import { RunFollower } from '../runs/eventFeed.ts';
import type { Orchestrator, PreparedRun } from '../runs/orchestrator.ts';
import type { RunEvent } from '../schemas/events.ts';
import type { RunResult } from '../schemas/result.ts';
import type { Store } from '../store/types.ts';

/**
 * Helpers shared by the protocol front doors (MCP, OpenAI-compatible): both
 * start a run exactly as `POST /v1/runs` does (prepare, then launch) and
 * wait for its record, optionally watching its events on the way.
 */

/** How a front door watches and stops one run. */
export interface RunWatch {
  /** Called synchronously for each event of the run, in `seq` order. */
  onEvent?: (event: RunEvent) => void;
  /** Aborting it cancels the run (and so its provider requests). */
  signal?: AbortSignal;
  /** Called once the run exists (its id is known before it starts work). */
  onLaunched?: (runId: string) => void;
}

/**
 * Launches a prepared run and resolves with its final record. Events are
 * followed from before the launch, so none is missed; an abort of `signal`
 * cancels the run through the orchestrator, which aborts every provider
 * request in flight.
 */
export async function runToEnd(orchestrator: Orchestrator, store: Store, prepared: PreparedRun, watch: RunWatch = {}): Promise<RunResult> {
  const { onEvent, signal, onLaunched } = watch;
  let follower: RunFollower | null = null;
  let handle;
  try {
    follower = onEvent ? new RunFollower(store, prepared.id, 0, onEvent) : null;
    handle = await orchestrator.launch(prepared);
  } catch (error) {
    follower?.close();
    // A run that did not launch gives its admission slot back (release is safe to call twice).
    prepared.release();
    throw error;
  }
  onLaunched?.(handle.id);
  const cancel = () => void orchestrator.cancel(handle.id).catch(() => undefined);
  if (signal?.aborted) cancel();
  else signal?.addEventListener('abort', cancel, { once: true });
  try {
    return await handle.done;
  } finally {
    signal?.removeEventListener('abort', cancel);
    follower?.close();
  }
}

/** The answer of a run as text: the output verbatim when it is a string, else its JSON. */
export function outputText(output: unknown): string {
  if (typeof output === 'string') return output;
  if (output === undefined) return 'null';
  return JSON.stringify(output);
}
