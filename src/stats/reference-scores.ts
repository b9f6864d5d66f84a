// Which normalisation an env's scores get in A/B summaries: Atari games their human-normalised score
// (atari-scores.ts), MinAtar games their reference-normalised score (minatar-scores.ts), others none.
import { humanNormalized, referenceScores } from './atari-scores.js';
import { minatarGame, minatarNormalized, minatarScores } from './minatar-scores.js';

export type NormalizationKind = 'human' | 'minatar';

/** The kind of normalised score an env has, or null where it has none. */
export function normalizationOf(env: string): NormalizationKind | null {
  if (minatarGame(env) !== null) return minatarScores(env)?.reference != null ? 'minatar' : null;
  return referenceScores(env) !== null ? 'human' : null;
}

/** The env's normalised score (human-normalised for Atari, reference-normalised for MinAtar), or null. */
export function normalizedScore(env: string, score: number): number | null {
  return minatarGame(env) !== null ? minatarNormalized(env, score) : humanNormalized(env, score);
}
