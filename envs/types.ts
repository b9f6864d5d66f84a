// Public types of the environment client. A VecEnv steps `numEnvs` environments at once; all
// arrays are batched along the first axis (env index), observations flattened row-major.

export type ObsArray = Uint8Array | Float32Array;
export type ObsDType = 'uint8' | 'float32';
/** NHWC: (N, H, W, C), what TensorFlow convolutions take. NCHW: ale-py's (N, C, H, W). flat: vectors. */
export type ObsLayout = 'NHWC' | 'NCHW' | 'flat';

export interface ObservationSpace {
  /** Shape of one env's observation, e.g. [84, 84, 4] for Atari in NHWC, [4] for CartPole. */
  readonly shape: readonly number[];
  readonly dtype: ObsDType;
  readonly layout: ObsLayout;
  /** Elements per env: the product of `shape`. */
  readonly size: number;
  /**
   * Frames stacked along the channel axis, when the env says (MinAtar: 1, its channels are objects,
   * not frames); undefined for Atari, where the stack is the smaller image axis.
   */
  readonly frameStack?: number;
}

export interface ActionSpace {
  /** Discrete actions 0..n-1. */
  readonly n: number;
  /** ALE action names for Atari ('NOOP', 'FIRE', ...), '0'..'n-1' otherwise. */
  readonly meanings: readonly string[];
}

/** A whole game (episode) that ended, with its raw score: not clipped, not per life. */
export interface EpisodeInfo {
  /** Env slot in this VecEnv. */
  env: number;
  /** Sum of the raw rewards of the episode (the game score for Atari). */
  score: number;
  /** Agent steps in the episode. */
  length: number;
  /** Ended by the time limit rather than by the game. */
  truncated: boolean;
  /** Atari: lives the game showed on the step before it ended. */
  lives?: number;
}

export interface ResetResult {
  obs: ObsArray;
  /** Atari: lives per env; null for other envs. */
  lives: Int32Array | null;
}

/**
 * One step of every env. Autoreset is same-step: where `terminated` or `truncated` is 1, `obs`
 * already holds the first observation of the next episode and `finalObs` the last one of the
 * ended episode. Every step is a real transition, except for the slots listed in `cutEpisodes`.
 */
export interface StepResult {
  obs: ObsArray;
  /** Raw rewards (game score changes), float32. */
  rewards: Float32Array;
  /** 1 where the episode ended by the game (or by a life loss with the `lifeLossInfo` option). */
  terminated: Uint8Array;
  /** 1 where the episode hit the time limit, or was cut by a server restart. */
  truncated: Uint8Array;
  /** Atari: lives per env after this step; null for other envs. */
  lives: Int32Array | null;
  /** Last observation of each env that ended an episode at this step (views, do not keep). */
  finalObs: Map<number, ObsArray>;
  /** Whole games that ended at this step. */
  episodes: EpisodeInfo[];
  /** True when an env server was restarted during this step. */
  restarted: boolean;
  /**
   * Env slots whose episode was cut by a server restart: their `obs` is a fresh reset observation,
   * reward 0 and truncated 1, and the step is NOT a real transition (drop it from replay/returns).
   */
  cutEpisodes: number[];
  /** Milliseconds the env server spent in the env step itself (its `step_us`; summed over groups). */
  envMs?: number;
}

/** Who hosts an env: ale-py (Atari), the optional `minatar` package, or Gymnasium. */
export type EnvKind = 'atari' | 'gym' | 'minatar';

export interface VecEnv {
  readonly numEnvs: number;
  readonly observationSpace: ObservationSpace;
  readonly actionSpace: ActionSpace;
  /** Resolved environment: ROM id ('pong') or Gymnasium id ('CartPole-v1'). */
  readonly envId: string;
  readonly kind: EnvKind;
  /** Server restarts that affected this VecEnv so far. */
  readonly restarts: number;
  /** Resets every env; env slot k gets seed + k (random seeds when seed is undefined). */
  reset(seed?: number): Promise<ResetResult>;
  /** stepAsync + stepWait. */
  step(actions: Int32Array): Promise<StepResult>;
  /** Sends the actions (copied at once) and returns; the envs step while the caller works. */
  stepAsync(actions: Int32Array): void;
  /** Waits for the step started by stepAsync. */
  stepWait(): Promise<StepResult>;
  close(): Promise<void>;
}

/** Every AtariVectorEnv option of ale-py the bridge exposes (defaults as ALE/*-v5 where it has one). */
export interface AtariOptions {
  /** Sticky actions; default 0.25 like ALE/*-v5. */
  repeatActionProbability?: number;
  /** All 18 actions instead of the game's minimal set; default false. */
  fullActionSpace?: boolean;
  /** ale-py: reset the game on every life loss; default false. */
  episodicLife?: boolean;
  /** terminated=1 on each life loss while the game goes on; episodes still report whole games. */
  lifeLossInfo?: boolean;
  /** Time limit in frames (truncated=1); default 108000 (30 minutes). */
  maxNumFramesPerEpisode?: number;
  /** Up to this many no-ops after a reset; default 30. */
  noopMax?: number;
  /** Press FIRE after reset where the game needs it; default true. */
  useFireReset?: boolean;
  /** Play FIRE instead of the agent's action on the step after a lost life, in games with FIRE
   * (SB3's FireResetEnv under EpisodicLifeEnv); default false. */
  fireOnLifeLoss?: boolean;
  /** Default 4. */
  frameskip?: number;
  /** Max-pool the last two frames of a skip; default true. */
  maxpool?: boolean;
  /** Frames stacked; default 4. */
  stackNum?: number;
  imgHeight?: number;
  imgWidth?: number;
  grayscale?: boolean;
  /** ALE worker threads per env group (default: CPU cores / env groups on this machine, >= 1). */
  numThreads?: number;
}

/** MinAtar options (the server's defaults are MinAtar's own). */
export interface MinAtarOptions {
  /** Repeat the previous action with this probability; default 0.1. */
  stickyActionProb?: number;
  /** Games speed up as they go on; default true. */
  difficultyRamping?: boolean;
  /** All 6 actions instead of the game's minimal set (MinAtar/*-v1); default false. */
  fullActionSpace?: boolean;
  /** Time limit in steps (truncated=1); default 108000. */
  maxEpisodeSteps?: number;
}

/** An env group's counters as its server measures them (cumulative since the group was made). */
export interface ServerStepStats {
  /** Step requests served. */
  steps: number;
  /** Seconds inside the env group's step (the environments, autoreset, episode bookkeeping). */
  stepSeconds: number;
  /** Seconds handling requests of any op, from received to reply packed (decode, checks, step, encode). */
  serveSeconds: number;
}

/** CURVE keys of a client (Z85 strings, 40 characters). */
export interface CurveClientKeys {
  serverPublicKey: string;
  publicKey: string;
  secretKey: string;
}
