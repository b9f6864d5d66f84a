// Random and human reference scores of the Atari 57 games (the standard table used by DQN,
// Rainbow, Agent57 and rliable), for human-normalised scores: (score - random) / (human - random).

const REFERENCE: Record<string, [random: number, human: number]> = {
  alien: [227.8, 7127.7],
  amidar: [5.8, 1719.5],
  assault: [222.4, 742.0],
  asterix: [210.0, 8503.3],
  asteroids: [719.1, 47388.7],
  atlantis: [12850.0, 29028.1],
  bank_heist: [14.2, 753.1],
  battle_zone: [2360.0, 37187.5],
  beam_rider: [363.9, 16926.5],
  berzerk: [123.7, 2630.4],
  bowling: [23.1, 160.7],
  boxing: [0.1, 12.1],
  breakout: [1.7, 30.5],
  centipede: [2090.9, 12017.0],
  chopper_command: [811.0, 7387.8],
  crazy_climber: [10780.5, 35829.4],
  defender: [2874.5, 18688.9],
  demon_attack: [152.1, 1971.0],
  double_dunk: [-18.6, -16.4],
  enduro: [0.0, 860.5],
  fishing_derby: [-91.7, -38.7],
  freeway: [0.0, 29.6],
  frostbite: [65.2, 4334.7],
  gopher: [257.6, 2412.5],
  gravitar: [173.0, 3351.4],
  hero: [1027.0, 30826.4],
  ice_hockey: [-11.2, 0.9],
  jamesbond: [29.0, 302.8],
  kangaroo: [52.0, 3035.0],
  krull: [1598.0, 2665.5],
  kung_fu_master: [258.5, 22736.3],
  montezuma_revenge: [0.0, 4753.3],
  ms_pacman: [307.3, 6951.6],
  name_this_game: [2292.3, 8049.0],
  phoenix: [761.4, 7242.6],
  pitfall: [-229.4, 6463.7],
  pong: [-20.7, 14.6],
  private_eye: [24.9, 69571.3],
  qbert: [163.9, 13455.0],
  riverraid: [1338.5, 17118.0],
  road_runner: [11.5, 7845.0],
  robotank: [2.2, 11.9],
  seaquest: [68.4, 42054.7],
  skiing: [-17098.1, -4336.9],
  solaris: [1236.3, 12326.7],
  space_invaders: [148.0, 1668.7],
  star_gunner: [664.0, 10250.0],
  surround: [-10.0, 6.5],
  tennis: [-23.8, -8.3],
  time_pilot: [3568.0, 5229.2],
  tutankham: [11.4, 167.6],
  up_n_down: [533.4, 11693.2],
  venture: [0.0, 1187.5],
  video_pinball: [16256.9, 17667.9],
  wizard_of_wor: [563.5, 4756.5],
  yars_revenge: [3092.9, 54576.9],
  zaxxon: [32.5, 9173.3],
};

/** `pong`, `Pong`, `ALE/Pong-v5`, `PongNoFrameskip-v4`, `MsPacman`, `ms_pacman` -> table key. */
export function atariKey(env: string): string {
  const base = env.replace(/^ALE\//, '').replace(/(NoFrameskip)?-v\d+$/, '');
  const snake = base.includes('_') ? base.toLowerCase() : base.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  if (snake in REFERENCE) return snake;
  const squashed = snake.replace(/_/g, '');
  return Object.keys(REFERENCE).find((k) => k.replace(/_/g, '') === squashed) ?? snake;
}

export function referenceScores(env: string): { random: number; human: number } | null {
  const r = REFERENCE[atariKey(env)];
  return r ? { random: r[0], human: r[1] } : null;
}

/** Human-normalised score, or null for games (and non-Atari envs) without reference scores. */
export function humanNormalized(env: string, score: number): number | null {
  const r = referenceScores(env);
  return r ? (score - r.random) / (r.human - r.random) : null;
}
