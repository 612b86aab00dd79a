import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * docs/contract.md is the repository's copy of ../shared/CONTRACT.md (the
 * source, kept beside the repository): the contract tests read the copy so a
 * clone runs them all. Where the shared folder is present, the copy must be
 * the source exactly, after its leading note. In a clone without it there is
 * nothing to compare, so the test is not registered (rather than skipped).
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const SOURCE = path.resolve(ROOT, '../shared/CONTRACT.md');
const COPY = path.join(ROOT, 'docs', 'contract.md');

/** The copy without its leading `<!-- … -->` note. */
function contractCopyBody(text: string): string {
  return text.replace(/^<!--[\s\S]*?-->\n\n/, '');
}

describe('docs/contract.md', () => {
  it('starts with the note that names its source', () => {
    const text = readFileSync(COPY, 'utf8');
    expect(text.startsWith('<!--')).toBe(true);
    expect(text.slice(0, text.indexOf('-->'))).toContain('../shared/CONTRACT.md');
    expect(contractCopyBody(text)).toMatch(/^# HTTP contract/);
  });

  if (existsSync(SOURCE)) {
    it('is ../shared/CONTRACT.md exactly (copy the source again when this fails)', () => {
      expect(contractCopyBody(readFileSync(COPY, 'utf8'))).toBe(readFileSync(SOURCE, 'utf8'));
    });
  }
});
