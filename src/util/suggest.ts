// "Did you mean" for misspelt names (config fields, flags): the closest candidate by edit
// distance, comparing names without case, '-' and '_' so that buffer_size finds bufferSize.

function normalise(s: string): string {
  return s.toLowerCase().replace(/[-_]/g, '');
}

/** Levenshtein distance; both strings are short names, so the O(n*m) table is tiny. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The candidate closest to `word`, or null when none is close (at most a third of its letters off). */
export function closestMatch(word: string, candidates: Iterable<string>): string | null {
  const w = normalise(word);
  let best: string | null = null;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(w, normalise(c));
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best !== null && bestD <= Math.max(1, Math.floor(w.length / 3)) ? best : null;
}
