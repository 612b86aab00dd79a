import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docExamples, runExample } from '../helpers/docExamples.ts';
import { getJson, startTestService, type TestService } from '../helpers/service.ts';
import { schemaErrors } from '../simulator/helpers.ts';

const examples = docExamples('docs/openai-compatible.md');

describe('docs/openai-compatible.md examples', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(() => svc.close());
  const run = (name: string) => runExample(examples.get(name) as string, { ORCHESTRATOR_URL: svc.url });

  it('has the examples this test runs', () => {
    expect([...examples.keys()].sort()).toEqual(['json-schema', 'plain', 'stream']);
  });

  it('plain: the consensus, summed usage and the run id', async () => {
    const { answer, usage, runId, bundle } = (await run('plain')) as any;
    const record = (await getJson(`${svc.url}/v1/runs/${runId}`)).body;
    expect(answer).toBe(record.output);
    expect(usage.total_tokens).toBe(record.usage.total_tokens);
    expect(bundle.replicates).toHaveLength(5);
  });

  it('stream: a sentiment label assembled from the chunks', async () => {
    const { label } = await run('stream');
    expect(['positive', 'negative', 'neutral']).toContain(label);
  });

  it('json-schema: JSON that satisfies the schema', async () => {
    const { place, schema } = (await run('json-schema')) as any;
    expect(schemaErrors(schema, place)).toBeNull();
  });
});
