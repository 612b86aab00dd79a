import type { HandoffRequest } from '../providers/handoffRun.ts';
import type { ResolvedRequest } from '../toolkit/api.ts';
import type { ReplicateEnv } from './replicateEnv.ts';

/** Characters per token of a lower bound on a turn's prompt (as budgetCheck's refusals count). */
const CHARS_PER_TOKEN_LOWER_BOUND = 6;

/**
 * What replicate `index` of a handoff tool passes to its model call: the
 * tool's agents, a `handoff` event per transfer (its `source` the
 * replicate), every turn charged to the run as it is answered (so a
 * conversation that crosses the budget is stopped like any other call), and
 * no turn begun that the budget cannot cover. Nothing for other tools.
 */
export function handoffCall(env: ReplicateEnv, request: ResolvedRequest, index: number): { handoffs?: HandoffRequest } {
  const plan = request.handoffs;
  if (!plan) return {};
  const source = `replicate:${index}`;
  return {
    handoffs: {
      plan,
      // Named by the provider and model that hold the conversation: a panel's or a fallback's, not only the agent's default.
      onHandoff: ({ from, to, turn, provider, model }) => env.emit({ type: 'handoff', source, provider, model, from, to, turn }),
      beforeTurn: (_turn, chars) => {
        const refused = env.account.refuseTurn(Math.ceil(chars / CHARS_PER_TOKEN_LOWER_BOUND) + 1);
        if (refused) throw refused;
      },
      onTurn: (spend) => env.account.charge(spend.provider, spend.model, spend.usage, spend.cost_usd),
    },
  };
}
