import { afterEach, beforeEach, vi } from 'vitest';

/**
 * A test that prints to the console is a test whose output nobody reads:
 * the service logs through pino, so console output means a stray debug line
 * or an unhandled warning. Fail the test instead of letting it scroll by.
 */
const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
let printed: string[] = [];

beforeEach(() => {
  printed = [];
  for (const m of methods) {
    vi.spyOn(console, m).mockImplementation((...args: unknown[]) => {
      printed.push(`${m}: ${args.map(String).join(' ')}`);
    });
  }
});

afterEach(() => {
  vi.restoreAllMocks();
  if (printed.length > 0) {
    throw new Error(`test printed to the console:\n${printed.join('\n')}`);
  }
});
