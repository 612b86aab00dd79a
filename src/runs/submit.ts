import type { TraceContext } from '../lib/trace.ts';
import type { RunRequest } from '../schemas/request.ts';
import type { RunResult } from '../schemas/result.ts';
import type { Store } from '../store/types.ts';
import { claimRun, releaseClaim } from './idempotentRuns.ts';
import type { Orchestrator } from './orchestrator.ts';
import type { RunHandle } from './runTypes.ts';

/** What submitting a run needs besides the submission. */
export interface SubmitDeps {
  orchestrator: Orchestrator;
  store: Store;
  idempotencyTtlMs: number;
  now: () => number;
}

/** One `POST /v1/runs`, as parsed by its route. */
export interface Submission {
  body: RunRequest;
  /** The body as sent: the idempotency fingerprint is taken of it. */
  rawBody: unknown;
  tenant: string;
  trace: TraceContext;
  /** The checked Idempotency-Key header, when one was sent. */
  idempotencyKey?: string | undefined;
  /**
   * Called once the run's id is fixed and just before it launches (a stream
   * starts following it here, so `run_started` is on the wire before the tool
   * begins). Answers what to undo if the launch fails.
   */
  beforeLaunch?: (runId: string) => () => void;
  /** The caller answers with the final record (not a stream, not in the background): see `RunHandle.answer`. */
  answerAtEnd?: boolean;
}

/** The answer of a submission: the earlier run of the same idempotency key, or the run just started. */
export type SubmitAnswer = { kind: 'replay'; result: RunResult } | { kind: 'started'; handle: RunHandle };

/**
 * Submits a run: admission and planning (`prepare`), the idempotency claim,
 * then the launch. Every slot and claim taken is given back on each way out
 * that does not start the run; a ServiceError is the caller's HTTP error.
 */
export async function submitRun(deps: SubmitDeps, submission: Submission): Promise<SubmitAnswer> {
  const { orchestrator, store } = deps;
  const prepared = orchestrator.prepare(submission.body, { trace: submission.trace, tenant: submission.tenant });
  let claimKey: string | undefined;
  try {
    if (submission.idempotencyKey !== undefined) {
      const claim = await claimRun(store, {
        tenant: submission.tenant,
        key: submission.idempotencyKey,
        body: submission.rawBody,
        runId: prepared.id,
        ttlMs: deps.idempotencyTtlMs,
        now: deps.now(),
      });
      if (claim.decision.kind === 'replay') {
        prepared.release();
        return { kind: 'replay', result: claim.decision.result };
      }
      claimKey = claim.key;
    }
  } catch (error) {
    prepared.release();
    throw error;
  }
  const undo = submission.beforeLaunch?.(prepared.id);
  try {
    return { kind: 'started', handle: await orchestrator.launch(prepared, { idempotencyKey: claimKey, answerAtEnd: submission.answerAtEnd }) };
  } catch (error) {
    undo?.();
    if (claimKey) await releaseClaim(store, claimKey);
    throw error;
  }
}
