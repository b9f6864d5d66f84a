// The shared atomic writer (src/util/atomic-write.ts): a failed write leaves the old file and no
// temporary file behind. The failures are real ones: ENOSPC from /dev/full (the temporary file is
// made a link to it), and a rename the filesystem refuses (the target is a directory).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArms } from '../src/experiments/arms.js';
import { createExperiment, FINAL_FILE } from '../src/experiments/manifest.js';
import { writeReport } from '../src/report/index.js';
import { atomicTempPath, writeFileAtomic, writeJsonAtomic } from '../src/util/atomic-write.js';

function tmp(): string {
  return mkdtempSync(path.join(tmpdir(), 'coordrl-atomic-'));
}

/** Makes the next atomic write of `file` in this process hit a full disk (ENOSPC) mid-write. */
function diskFullFor(file: string): void {
  symlinkSync('/dev/full', atomicTempPath(file));
}

describe('writeJsonAtomic', () => {
  it('writes indented JSON with a final newline, creating the directory, and leaves nothing else', () => {
    const dir = tmp();
    const file = path.join(dir, 'a', 'b.json');
    writeJsonAtomic(file, { x: 1 });
    writeJsonAtomic(file, { x: 2, y: [1] });
    expect(readFileSync(file, 'utf8')).toBe('{\n  "x": 2,\n  "y": [\n    1\n  ]\n}\n');
    expect(readdirSync(path.dirname(file))).toEqual(['b.json']);
  });

  it('on a full disk (ENOSPC) rethrows, keeps the old file and removes its temporary file', () => {
    const dir = tmp();
    const file = path.join(dir, 'summary.json');
    writeFileSync(file, 'old\n');
    diskFullFor(file);
    expect(() => writeJsonAtomic(file, { big: 'x'.repeat(100_000) })).toThrow(
      expect.objectContaining({ code: 'ENOSPC' }),
    );
    expect(readFileSync(file, 'utf8')).toBe('old\n');
    expect(readdirSync(dir)).toEqual(['summary.json']);
    expect(existsSync('/dev/full')).toBe(true); // the link went, not what it pointed to
  });

  it('when the rename fails rethrows and removes its temporary file', () => {
    const dir = tmp();
    const file = path.join(dir, 'final.json');
    mkdirSync(path.join(file, 'inside'), { recursive: true }); // a directory where the file should go
    expect(() => writeFileAtomic(file, 'new\n')).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    expect(readdirSync(dir)).toEqual(['final.json']);
  });
});

describe('coordrl report on a full disk', () => {
  it('fails with ENOSPC and leaves no summary.json.tmp-PID in the experiment', async () => {
    const dir = path.join(tmp(), 'exp');
    const m = createExperiment(dir, {
      algo: 'a2c',
      envs: ['pong'],
      arms: parseArms('conv,coordconv', undefined),
      seeds: [1],
      evalEpisodes: 1,
      base: { frames: 4000 },
    });
    for (const run of m.runs) {
      mkdirSync(path.join(dir, run.dir), { recursive: true });
      const final = { coordrl: 'test', createdAt: '', source: 'eval', score: -20, checkpointStep: 1, eval: null };
      writeFileSync(path.join(dir, run.dir, FINAL_FILE), JSON.stringify({ ...final, trainScore: null }));
    }
    const before = readdirSync(dir).sort();
    diskFullFor(path.join(dir, 'summary.json'));
    await expect(
      writeReport(dir, { reps: 50, png: false, versions: { coordrl: 'test', node: 'test' } }),
    ).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});
