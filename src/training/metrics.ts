// Metrics of a run: one JSON object per line in metrics.jsonl and TensorBoard event files
// (through tfjs-node's summary writer when the native backend is loaded). TensorBoard gets the
// grouped tags Stable-Baselines3 and CleanRL users know (rollout/ep_rew_mean, train/value_loss,
// charts/episodic_return per episode, ...) against agent steps, SB3's `num_timesteps` and
// CleanRL's `global_step` (steps summed over envs; frames = steps x frame skip, in time/frames).
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { nativeModule } from '../backend.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export interface MetricsRecord {
  step: number;
  frames: number;
  time: number;
  [key: string]: number;
}

export interface SummaryWriter {
  scalar(name: string, value: number, step: number): void;
  flush(): void;
}
interface NodeApi {
  node?: { summaryFileWriter(logdir: string, maxQueue?: number, flushMillis?: number): SummaryWriter };
}

/** Records per run (at least) for a default log interval, so that short runs have a curve too. */
export const DEFAULT_LOG_POINTS = 50;
/** The default log interval never exceeds this many agent steps (long runs keep their detail). */
export const MAX_DEFAULT_LOG_EVERY = 10_000;

/** Default `--log-every`: about DEFAULT_LOG_POINTS records per run, at most every 10,000 steps. */
export function defaultLogEvery(budgetSteps: number): number {
  return Math.max(1, Math.min(MAX_DEFAULT_LOG_EVERY, Math.floor(budgetSteps / DEFAULT_LOG_POINTS)));
}

/** metrics.jsonl field -> TensorBoard tag (SB3's names where SB3 has the quantity). */
export const TENSORBOARD_TAGS: Record<string, string> = {
  score: 'rollout/ep_rew_mean',
  episodeLength: 'rollout/ep_len_mean',
  epsilon: 'rollout/exploration_rate',
  episodes: 'rollout/episodes',
  sps: 'time/fps',
  time: 'time/time_elapsed',
  frames: 'time/frames',
  updates: 'train/n_updates',
  loss: 'train/loss',
  policyLoss: 'train/policy_loss',
  valueLoss: 'train/value_loss',
  entropy: 'train/entropy',
  learningRate: 'train/learning_rate',
  gradNorm: 'train/grad_norm',
  meanQ: 'train/mean_q',
  cutEpisodes: 'env/cut_episodes',
  envRestarts: 'env/restarts',
};

/** The TensorBoard tag of a metrics field: the table above, else train/<snake_case name>. */
export function tensorboardTag(field: string): string {
  return TENSORBOARD_TAGS[field] ?? `train/${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
}

export class MetricsLogger {
  readonly file: string;
  private readonly tb: SummaryWriter | null;
  private lastFlush = Date.now();

  /**
   * `resumeStep`: continue a run; lines past that step (written after the checkpoint we resume
   * from) are dropped so that the curve has neither gaps nor duplicate steps.
   */
  constructor(runDir: string, opts: { resumeStep?: number; tensorboard?: boolean; writer?: SummaryWriter } = {}) {
    this.file = path.join(runDir, 'metrics.jsonl');
    if (opts.resumeStep !== undefined) truncateAfter(this.file, opts.resumeStep);
    const api = nativeModule() as NodeApi | null;
    this.tb =
      opts.tensorboard === false
        ? null
        : (opts.writer ??
          (api?.node?.summaryFileWriter
            ? api.node.summaryFileWriter(path.join(runDir, 'tensorboard'), 10_000, 60_000)
            : null));
  }

  get hasTensorboard(): boolean {
    return this.tb !== null;
  }

  log(record: MetricsRecord): void {
    appendFileSync(this.file, `${JSON.stringify(record)}\n`);
    if (this.tb) {
      for (const [k, v] of Object.entries(record)) {
        if (k !== 'step' && Number.isFinite(v)) this.tb.scalar(tensorboardTag(k), v, record.step);
      }
      if (Date.now() - this.lastFlush > 30_000) this.flush();
    }
  }

  /** One finished episode (raw game score), as CleanRL's charts/episodic_return: TensorBoard only. */
  episode(score: number, length: number, step: number): void {
    if (!this.tb) return;
    if (Number.isFinite(score)) this.tb.scalar('charts/episodic_return', score, step);
    if (Number.isFinite(length)) this.tb.scalar('charts/episodic_length', length, step);
  }

  flush(): void {
    this.tb?.flush();
    this.lastFlush = Date.now();
  }
}

/** Rewrites metrics.jsonl without the records past `step` (atomically, src/util/atomic-write.ts). */
export function truncateAfter(file: string, step: number): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => {
      if (!line.trim()) return false;
      try {
        return (JSON.parse(line) as MetricsRecord).step <= step;
      } catch {
        return false; // a line cut by a crash
      }
    });
  writeFileAtomic(file, kept.length ? `${kept.join('\n')}\n` : '');
}

export function readMetrics(file: string): MetricsRecord[] {
  if (!existsSync(file)) return [];
  const out: MetricsRecord[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as MetricsRecord);
    } catch {
      // skip a partial last line
    }
  }
  return out;
}
