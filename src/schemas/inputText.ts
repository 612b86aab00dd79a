import type { RunInput } from './request.ts';

/**
 * A run's input as plain text: the string itself, or the messages' contents
 * one per line. `withRoles` prefixes each message with its role
 * (`user: …`), for prompts that quote the conversation to a model.
 */
export function inputText(input: RunInput, options: { withRoles?: boolean } = {}): string {
  if (typeof input === 'string') return input;
  return input.map((m) => (options.withRoles ? `${m.role}: ${m.content}` : m.content)).join('\n');
}
