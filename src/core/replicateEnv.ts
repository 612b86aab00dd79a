import type { Logger } from 'pino';
import type { Replicate } from '../schemas/bundle.ts';
import type { EmittedEvent } from '../schemas/events.ts';
import type { RunModels } from '../tools/api.ts';
import type { RunAccount } from './runAccount.ts';
import type { SchemaValidator } from './validator.ts';

/**
 * What the replicate engine needs from its run. Its own module so the
 * replicate runner and the synthesizer, which both take it, do not import
 * each other (that was an import cycle).
 */
export interface ReplicateEnv {
  signal: AbortSignal;
  models: RunModels;
  emit: (event: EmittedEvent) => void;
  validator: SchemaValidator;
  maxConcurrency: number;
  account: RunAccount;
  log: Logger;
  /** Replicates a previous executor of the run finished (a take-over): counted as done, not run or announced again. */
  kept?: readonly Replicate[];
}
