import { describe, expect, it } from 'vitest';
import { KeyedLru } from '../../src/lib/keyedLru.ts';

describe('KeyedLru', () => {
  it('makes a value once per key and drops the least recently used past its bound', () => {
    const lru = new KeyedLru<{ key: string }>(2);
    let made = 0;
    const get = (key: string) => lru.get(key, () => (made++, { key }));
    const a = get('a');
    get('b');
    expect(get('a')).toBe(a); // a is now the most recent
    get('c'); // b, the least recently used, goes
    expect([...lru.entries()].map(([k]) => k)).toEqual(['a', 'c']);
    expect(made).toBe(3);
  });

  it('keeps what may not be evicted, and never drops the value it just made', () => {
    const lru = new KeyedLru<{ busy: boolean }>(1, (v) => !v.busy);
    lru.get('busy', () => ({ busy: true }));
    const fresh = lru.get('new', () => ({ busy: false }));
    // Over the bound, but the only other entry is busy: both stay, and the new one is the caller's.
    expect([...lru.entries()].map(([k]) => k)).toEqual(['busy', 'new']);
    expect(lru.get('new', () => ({ busy: false }))).toBe(fresh);
  });
});
