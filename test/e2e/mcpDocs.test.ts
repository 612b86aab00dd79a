import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docExamples, runExample } from '../helpers/docExamples.ts';
import { postJson, startTestService, type TestService } from '../helpers/service.ts';

const examples = docExamples('docs/mcp.md');

describe('docs/mcp.md examples', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(() => svc.close());

  it('has the examples this test runs', () => {
    expect([...examples.keys()].sort()).toEqual(['agent', 'client']);
  });

  it('client: lists the tools, calls sentiment with progress, gets the run record', async () => {
    const { toolNames, answer, run, progress } = (await runExample(examples.get('client') as string, { ORCHESTRATOR_URL: svc.url })) as any;
    expect(toolNames).toContain('sentiment');
    expect(run.status).toBe('succeeded');
    expect(answer).toEqual([{ type: 'text', text: JSON.stringify(run.bundle.summary.consensus) }]);
    expect(progress.some((m: string) => m.startsWith('replicate_done'))).toBe(true);
    const rest = await postJson(`${svc.url}/v1/runs`, { tool: 'sentiment', input: 'Support answered in minutes. Brilliant!', seed: 5 });
    expect(rest.body.bundle.summary.consensus).toEqual(run.bundle.summary.consensus);
  });

  it('agent: the Agents SDK agent calls our sentiment tool during its run', async () => {
    svc.sim.configure({
      answers: {
        kind: 'script',
        turns: [{ tool_call: { name: 'sentiment', arguments: { input: 'The app keeps crashing on login.' } } }, { text: 'The customer is frustrated: login crashes.' }],
      },
    });
    const { finalOutput, toolCalls, toolOutputs } = (await runExample(examples.get('agent') as string, {
      ORCHESTRATOR_URL: svc.url,
      // The agent's own model: the simulator, scripted above.
      OPENAI_BASE_URL: svc.sim.url,
      OPENAI_API_KEY: 'sk-test',
      OPENAI_AGENTS_DISABLE_TRACING: '1',
    })) as any;
    expect(toolCalls).toEqual(['sentiment']);
    expect(finalOutput).toBe('The customer is frustrated: login crashes.');
    expect(JSON.stringify(toolOutputs)).toMatch(/positive|negative|neutral/);
  });
});
