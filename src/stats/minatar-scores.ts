// Per-game reference scores of the five MinAtar games, for normalised scores as Atari's human-normalised
// ones: (score - random) / (reference - random). MinAtar has no human scores.
//
// random: the mean raw return of 1,000 episodes of uniformly random play, measured with this project's
//   env server and MinAtar's defaults as `--env minatar/<game>` uses them (minatar 1.0.15, sticky actions
//   0.1, difficulty ramping on, minimal action set), seed 12345:
//     python-bridge/.venv/bin/python -m coordrl_bridge.tools random-scores --episodes 1000 --seed 12345
//   (docs/minatar.md has the standard errors).
// reference: the MinAtar paper's DQN at 5M frames (Young & Tian 2019, arXiv:1903.03176) is the intended
//   reference. Its numbers are only published as learning-curve figures, which could not be read where
//   this table was written, so they are not filled in yet (null): until they are, normalisation is
//   unavailable for MinAtar and A/B summaries use raw scores, saying so. See docs/minatar.md.

export const MINATAR_GAMES = ['asterix', 'breakout', 'freeway', 'seaquest', 'space_invaders'] as const;
export type MinAtarGame = (typeof MINATAR_GAMES)[number];

const REFERENCE: Record<MinAtarGame, { random: number; reference: number | null }> = {
  asterix: { random: 0.494, reference: null },
  breakout: { random: 0.38, reference: null },
  freeway: { random: 0.381, reference: null },
  seaquest: { random: 0.086, reference: null },
  space_invaders: { random: 4.014, reference: null },
};

/** `minatar/breakout`, `MinAtar/Breakout-v1`, `breakout-minatar`, `MinAtar/SpaceInvaders-v1` -> game; else null. */
export function minatarGame(env: string): MinAtarGame | null {
  const s = env.trim();
  const m = /^minatar\/(.+?)(?:-v\d+)?$/i.exec(s) ?? /^(.+?)-minatar$/i.exec(s);
  if (!m) return null;
  const key = m[1].toLowerCase().replace(/[^a-z0-9]/g, '');
  return MINATAR_GAMES.find((g) => g.replace(/_/g, '') === key) ?? null;
}

/** Random-policy and reference scores of a MinAtar game (reference null until known); null for other envs. */
export function minatarScores(env: string): { random: number; reference: number | null } | null {
  const g = minatarGame(env);
  return g ? REFERENCE[g] : null;
}

/** (score - random) / (reference - random), or null for non-MinAtar envs and games without a reference. */
export function minatarNormalized(env: string, score: number): number | null {
  const r = minatarScores(env);
  return r && r.reference !== null ? (score - r.random) / (r.reference - r.random) : null;
}
