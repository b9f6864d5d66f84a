// Lists in messages and help.

/** "a", "a and b", "a, b and c" (or with "or"). */
export function listWords(items: readonly string[], word: 'and' | 'or'): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} ${word} ${items.at(-1)}`;
}
