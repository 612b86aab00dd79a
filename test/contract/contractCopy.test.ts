import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * docs/contract.md is the repository's copy of the shared contract (the
 * steering side's CONTRACT.md, kept beside the repository): the contract
 * tests read the copy so a clone alone runs them all. That the copy still
 * equals its source is checked by .ci/run, where the source is present.
 */
const COPY = path.join(path.resolve(import.meta.dirname, '../..'), 'docs', 'contract.md');

describe('docs/contract.md', () => {
  it('starts with the note that names its source, then the contract', () => {
    const text = readFileSync(COPY, 'utf8');
    expect(text.startsWith('<!--')).toBe(true);
    expect(text.slice(0, text.indexOf('-->'))).toContain('CONTRACT.md');
    expect(text.replace(/^<!--[\s\S]*?-->\n\n/, '')).toMatch(/^# HTTP contract/);
  });
});
