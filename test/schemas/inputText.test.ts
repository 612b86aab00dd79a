import { describe, expect, it } from 'vitest';
import { inputText } from '../../src/schemas/inputText.ts';

describe('inputText', () => {
  const messages = [
    { role: 'system' as const, content: 'Be brief.' },
    { role: 'user' as const, content: 'What is 2+2?' },
  ];

  it('is the string input itself', () => {
    expect(inputText('hello')).toBe('hello');
    expect(inputText('hello', { withRoles: true })).toBe('hello');
  });

  it('joins message contents one per line, with roles when asked', () => {
    expect(inputText(messages)).toBe('Be brief.\nWhat is 2+2?');
    expect(inputText(messages, { withRoles: true })).toBe('system: Be brief.\nuser: What is 2+2?');
  });
});
