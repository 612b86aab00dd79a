import { describe, expect, it } from 'vitest';

describe('runtime', () => {
  it('runs on Node 24 (the npm `node` dev dependency), not the machine\'s older Node', () => {
    expect(process.versions.node.split('.')[0]).toBe('24');
  });
});
