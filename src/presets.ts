// Defaults per env family, applied under the config file and the flags (both still override them):
// the settings a user would expect for that family when saying nothing. Each algorithm's own
// defaults per family are in its entry (src/algorithms/<name>.ts, `presets`); this file adds what
// the family itself sets for every algorithm. Atari's defaults are the schemas' own.
import { isAtari, isMinAtar } from './config.js';

/** A preset: a partial run configuration, validated with the rest of the configuration. */
export type Preset = Readonly<Record<string, unknown>>;

/** The families of environments that get presets of their own. */
export type EnvFamily = 'atari' | 'minatar' | 'gymnasium';

export function envFamily(env: string): EnvFamily {
  if (isMinAtar(env)) return 'minatar';
  return isAtari(env) ? 'atari' : 'gymnasium';
}

/** MinAtar's own environment defaults (sticky actions 0.1, not ALE/*-v5's 0.25); --arch auto picks its network. */
const MINATAR_COMMON: Preset = { stickyActions: 0.1 };

const FAMILY_PRESETS: Record<EnvFamily, Preset> = { atari: {}, minatar: MINATAR_COMMON, gymnasium: {} };

/** The family's settings, then the algorithm's for that family (`algorithmPresets`: its entry's). */
export function presetFor(algorithmPresets: Partial<Record<EnvFamily, Preset>>, env: string): Preset {
  const family = envFamily(env);
  return { ...FAMILY_PRESETS[family], ...algorithmPresets[family] };
}
