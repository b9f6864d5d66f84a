// Metrics of a run: one JSON object per line in metrics.jsonl and TensorBoard event files
// (through tfjs-node's summary writer when the native backend is loaded).
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { nativeModule } from '../backend.js';

export interface MetricsRecord {
  step: number;
  frames: number;
  time: number;
  [key: string]: number;
}

interface SummaryWriter {
  scalar(name: string, value: number, step: number): void;
  flush(): void;
}
interface NodeApi {
  node?: { summaryFileWriter(logdir: string, maxQueue?: number, flushMillis?: number): SummaryWriter };
}

export class MetricsLogger {
  readonly file: string;
  private readonly tb: SummaryWriter | null;
  private lastFlush = Date.now();

  /**
   * `resumeStep`: continue a run; lines past that step (written after the checkpoint we resume
   * from) are dropped so that the curve has neither gaps nor duplicate steps.
   */
  constructor(runDir: string, opts: { resumeStep?: number; tensorboard?: boolean } = {}) {
    this.file = path.join(runDir, 'metrics.jsonl');
    if (opts.resumeStep !== undefined) truncateAfter(this.file, opts.resumeStep);
    const api = nativeModule() as NodeApi | null;
    this.tb =
      opts.tensorboard !== false && api?.node?.summaryFileWriter
        ? api.node.summaryFileWriter(path.join(runDir, 'tensorboard'), 10_000, 60_000)
        : null;
  }

  get hasTensorboard(): boolean {
    return this.tb !== null;
  }

  log(record: MetricsRecord): void {
    appendFileSync(this.file, `${JSON.stringify(record)}\n`);
    if (this.tb) {
      for (const [k, v] of Object.entries(record)) {
        if (k !== 'step' && Number.isFinite(v)) this.tb.scalar(k, v, record.frames);
      }
      if (Date.now() - this.lastFlush > 30_000) this.flush();
    }
  }

  flush(): void {
    this.tb?.flush();
    this.lastFlush = Date.now();
  }
}

/** Rewrites metrics.jsonl without the records past `step` (atomically: temp file + rename). */
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
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, kept.length ? `${kept.join('\n')}\n` : '');
  renameSync(tmp, file);
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
