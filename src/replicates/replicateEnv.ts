import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { Tracing } from '../observability/tracing.ts';
import type { Replicate } from '../schemas/bundle.ts';
import type { EmittedEvent } from '../schemas/events.ts';
import type { RunModels, ToolMemory } from '../toolkit/api.ts';
import type { RunAccount } from '../requests/runAccount.ts';
import type { SchemaValidator } from '../lib/validator.ts';

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
  /** Spans of the run; `span` (the tool's) is the parent of the replicate and synthesis spans. */
  tracing: Tracing;
  span: Span;
  /** Set only when content goes on spans (OTEL_CAPTURE_CONTENT): the value, redacted, as text. */
  spanContent?: ((value: unknown) => string) | undefined;
  /** Replicates a previous executor of the run finished (a take-over): counted as done, not run or announced again. */
  kept?: readonly Replicate[];
  /** The run's memory as the tool sees it: partial summaries and the synthesizer's note are recorded there. */
  memory?: ToolMemory;
}
