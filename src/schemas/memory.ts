import { z } from 'zod';

/**
 * Keys of a run's memory: `input` and `planner` (written by the service),
 * `partial[.<step>]` and `synthesis[.<step>]` (the replicate engine's latest
 * partial summary and the synthesizer's note, per tool of the run),
 * `step.<label>` (a composite's step result; nested steps `step.<parent>/<label>`),
 * `note.<name>` (whatever a tool writes). See docs/memory.md.
 */
export const MEMORY_KEY = /^(?:input|planner|partial|synthesis|(?:partial|synthesis|step|note)\.[A-Za-z0-9_.:/-]{1,180})$/;

/** What a run's result keeps of its memory when its tool asked for it (`ctx.memory.keep`); absent otherwise. */
export const MemoryReportSchema = z.object({
  /** The summary the tool asked to keep (any JSON value). */
  summary: z.unknown(),
  /** The entries the memory held when the run ended (before it was dropped), with their bytes (key + value, UTF-8). */
  entries: z.array(z.object({ key: z.string(), bytes: z.number().int().min(0) })),
  /** Their total: at most MEMORY_MAX_BYTES. */
  bytes: z.number().int().min(0),
  /** Keys stored in a trimmed form because the whole value was over the bound. */
  trimmed: z.array(z.string()),
  /** Keys whose write was refused (over MEMORY_MAX_BYTES or MEMORY_MAX_ENTRIES). */
  refused: z.array(z.string()),
});

export type MemoryReport = z.infer<typeof MemoryReportSchema>;
