/**
 * RFC 6901 JSON Pointers name the paths of disagreements and agreement
 * shares, so clients can locate a field with any standard JSON Pointer tool.
 */

/** Appends one object key (escaped: `~` → `~0`, `/` → `~1`) to a pointer; `''` is the root. */
export function appendPointer(pointer: string, key: string): string {
  return `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
}
