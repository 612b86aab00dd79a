import { z } from 'zod';

/** A text part of a message's content. */
const TextPart = z.object({ type: z.literal('text'), text: z.string() });
/** One message of a chat completion request. */
const ChatMessage = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(TextPart)]).nullable().optional(),
  name: z.string().optional(),
});

/**
 * The `POST /v1/chat/completions` fields this front door reads. Other
 * OpenAI fields clients commonly send (`user`, `store`, `logprobs`...) are
 * ignored; those that would change the answer and cannot be honoured
 * (`tools`, `n` > 1) are refused.
 */
export const ChatCompletionRequestSchema = z.object({
  model: z.string().min(1),
  messages: z.array(ChatMessage).min(1, 'messages must hold at least one message'),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  n: z.literal(1, 'only n = 1 is supported (the replicates are the consensus)').nullable().optional(),
  response_format: z
    .discriminatedUnion('type', [
      z.object({ type: z.literal('text') }),
      z.object({ type: z.literal('json_object') }),
      z.object({
        type: z.literal('json_schema'),
        json_schema: z.object({ name: z.string().min(1), schema: z.record(z.string(), z.unknown()).optional(), strict: z.boolean().nullable().optional() }),
      }),
    ])
    .nullable()
    .optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  // An empty list asks for nothing; clients that always send the field still work.
  tools: z.array(z.unknown()).max(0, 'tools are not supported: the service answers with its own tools (see /v1/tools)').nullable().optional(),
  functions: z.array(z.unknown()).max(0, 'functions are not supported').nullable().optional(),
});
/** A chat completion request as the OpenAI-compatible front door reads it. */
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;
