import { defineTool } from '../src/toolkit/api.ts';

/**
 * The bundle tool: N replicates of one sub-agent in parallel, each output
 * validated against `agent.output_schema`, returned as an Evidence Bundle
 * with consensus, disagreements, pairwise distances and statistics.
 */
export const tool = defineTool({
  name: 'bundle',
  version: '1.0.0',
  description:
    'Runs `replicates` independent sub-agents on the same input and returns every answer with their consensus, disagreements, pairwise distances and statistics (an Evidence Bundle).',
  input_schema: {
    type: 'object',
    required: ['input'],
    properties: {
      input: { description: 'The task: a string or a list of chat messages.' },
      agent: { type: 'object', description: 'instructions, model and output_schema of the sub-agents.' },
      replicates: { type: 'integer', minimum: 1 },
    },
  },
  output_schema: { description: 'The consensus of the replicates; its shape is agent.output_schema when given, else text.' },
  tags: ['bundle', 'consensus', 'general'],
  defaults: { replicates: 3 },
  execute: (ctx) => ctx.replicate(),
});
