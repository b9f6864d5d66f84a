// Per-game reference scores of the five MinAtar games, for normalised scores as Atari's human-normalised
// ones: (score - random) / (reference - random). MinAtar has no human scores.
//
// random: the mean raw return of 1,000 episodes of uniformly random play, measured with this project's
//   env server and MinAtar's defaults as `--env minatar/<game>` uses them (minatar 1.0.15, sticky actions
//   0.1, difficulty ramping on, minimal action set), seed 12345:
//     python-bridge/.venv/bin/python -m coordrl_bridge.tools random-scores --episodes 1000 --seed 12345
//   (docs/minatar.md has the standard errors).
// reference: the MinAtar paper's DQN at 5M frames (Young & Tian 2019, arXiv:1903.03176): the mean over its
//   30 runs of the moving average of training returns over 100 episodes, at 4.9-5M frames. Published only
//   as a figure, so these are readings off it: the learning-curve figure of kenjyoung/MinAtar's README
//   (img/learning_curves.gif at commit 4241f24685622cfb52f843cab9bbcf385a53484a, 3038x1629 px, last changed
//   in 87c2bc8 "to be consistent with most recent paper"), located by pixel colour against the axis ticks;
//   read to about +-0.3 (asterix, breakout, seaquest) and +-1 (freeway, space_invaders), the curve's own
//   wiggle over its last 100k frames included. Those runs used
//   all six actions (the README says so); seaquest's predate MinAtar 1.0.11's oxygen fix. docs/minatar.md
//   has the readings along the curves, the method and the caveats.

export const MINATAR_GAMES = ['asterix', 'breakout', 'freeway', 'seaquest', 'space_invaders'] as const;
export type MinAtarGame = (typeof MINATAR_GAMES)[number];

const REFERENCE: Record<MinAtarGame, { random: number; reference: number | null }> = {
  asterix: { random: 0.494, reference: 16.9 },
  breakout: { random: 0.38, reference: 10.0 },
  freeway: { random: 0.381, reference: 50.2 },
  seaquest: { random: 0.086, reference: 20.2 },
  space_invaders: { random: 4.014, reference: 43.6 },
};

/** `minatar/breakout`, `MinAtar/Breakout-v1`, `breakout-minatar`, `MinAtar/SpaceInvaders-v1` -> game; else null. */
export function minatarGame(env: string): MinAtarGame | null {
  const s = env.trim();
  const m = /^minatar\/(.+?)(?:-v\d+)?$/i.exec(s) ?? /^(.+?)-minatar$/i.exec(s);
  if (!m) return null;
  const key = m[1].toLowerCase().replace(/[^a-z0-9]/g, '');
  return MINATAR_GAMES.find((g) => g.replace(/_/g, '') === key) ?? null;
}

/** Random-policy and reference scores of a MinAtar game (reference null where unknown); null for other envs. */
export function minatarScores(env: string): { random: number; reference: number | null } | null {
  const g = minatarGame(env);
  return g ? REFERENCE[g] : null;
}

/** (score - random) / (reference - random), or null for non-MinAtar envs and games without a reference. */
export function minatarNormalized(env: string, score: number): number | null {
  const r = minatarScores(env);
  return r && r.reference !== null ? (score - r.random) / (r.reference - r.random) : null;
}
