import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  checkpointName,
  checkpointsDir,
  describeSkipped,
  findBestCheckpoint,
  listCheckpoints,
  loadLatestGood,
  saveCheckpoint,
  verifyCheckpoint,
} from '../src/checkpoint/index.js';
import { UserFacingError } from '../src/util/cli-errors.js';

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

let runDir: string;
beforeEach(async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ckpt-'));
  roots.push(root);
  runDir = path.join(root, 'runs', 'test');
});

/** A writer producing a few files (one in a subdirectory) whose content depends on `step`. */
function writer(step: number) {
  return async (dir: string) => {
    await writeFile(path.join(dir, 'state.json'), JSON.stringify({ step }));
    await mkdir(path.join(dir, 'online'));
    await writeFile(path.join(dir, 'online', 'weights.bin'), Buffer.alloc(10_000 + step, step & 0xff));
  };
}

async function visibleEntries(): Promise<string[]> {
  return (await readdir(checkpointsDir(runDir))).sort();
}

describe('saveCheckpoint', () => {
  it('writes a complete checkpoint with a manifest of sizes and sha256, renamed into place', async () => {
    const r = await saveCheckpoint(runDir, 1234, writer(1234), { meta: { algo: 'dqn' } });
    expect(r.name).toBe('step-000001234');
    expect(r.dir).toBe(path.join(runDir, 'checkpoints', 'step-000001234'));
    const manifest = JSON.parse(await readFile(path.join(r.dir, 'manifest.json'), 'utf8'));
    expect(manifest.format).toBe('coordrl-checkpoint');
    expect(manifest.formatVersion).toBe(1);
    expect(manifest.step).toBe(1234);
    expect(manifest.meta).toEqual({ algo: 'dqn' });
    expect(Object.keys(manifest.files).sort()).toEqual(['online/weights.bin', 'state.json']);
    expect(manifest.files['online/weights.bin'].size).toBe(11_234);
    expect(manifest.files['state.json'].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Number.isNaN(Date.parse(manifest.createdAt))).toBe(false);
    expect(await visibleEntries()).toEqual(['step-000001234']); // no temp dir left
    expect((await verifyCheckpoint(r.dir)).status).toBe('ok');
  });

  it('a crash mid-save (writer throws) leaves no new checkpoint and the old ones intact', async () => {
    await saveCheckpoint(runDir, 10, writer(10));
    const failing = async (dir: string) => {
      await writeFile(path.join(dir, 'state.json'), 'half');
      throw new Error('simulated crash');
    };
    const err = await saveCheckpoint(runDir, 20, failing).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err).toBeInstanceOf(UserFacingError);
    expect(err.message).toMatch(/step-000000020.*simulated crash.*previous checkpoints are untouched/);
    expect(await visibleEntries()).toEqual(['step-000000010']);
    const latest = await loadLatestGood(runDir);
    expect(latest.checkpoint?.step).toBe(10);
    expect(latest.skipped).toEqual([]);
  });

  it('disk full while writing: a real ENOSPC (/dev/full) gives a clear error, previous checkpoint intact', async () => {
    await saveCheckpoint(runDir, 10, writer(10));
    const diskFull = async (dir: string) => {
      await writeFile(path.join(dir, 'state.json'), '{}');
      // every write to /dev/full fails with ENOSPC, as on a full disk
      await writeFile('/dev/full', Buffer.alloc(1 << 16));
    };
    const err = await saveCheckpoint(runDir, 20, diskFull).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/disk full \(ENOSPC\)/);
    expect(await visibleEntries()).toEqual(['step-000000010']);
    expect((await loadLatestGood(runDir)).checkpoint?.step).toBe(10);
  });

  it('a failure after the writer (unsupported entry) also leaves nothing behind', async () => {
    await saveCheckpoint(runDir, 10, writer(10));
    const withLink = async (dir: string) => {
      await writeFile(path.join(dir, 'a.bin'), 'x');
      await symlink('/etc/hostname', path.join(dir, 'link'));
    };
    await expect(saveCheckpoint(runDir, 20, withLink)).rejects.toThrow(/not a regular file/);
    const manifestWriter = async (dir: string) => writeFile(path.join(dir, 'manifest.json'), '{}');
    await expect(saveCheckpoint(runDir, 30, manifestWriter)).rejects.toThrow(/must not write manifest.json/);
    expect(await visibleEntries()).toEqual(['step-000000010']);
  });

  it('cleans temp dirs of crashed processes and ignores them when listing', async () => {
    const ck = checkpointsDir(runDir);
    await mkdir(ck, { recursive: true });
    const stale = path.join(ck, '.tmp-step-000000005-p999999999-deadbeef'); // no such pid
    await mkdir(stale);
    await writeFile(path.join(stale, 'state.json'), 'partial');
    expect(await listCheckpoints(runDir)).toEqual([]);
    expect((await loadLatestGood(runDir)).checkpoint).toBeNull();
    await saveCheckpoint(runDir, 10, writer(10));
    expect(await visibleEntries()).toEqual(['step-000000010']);
  });

  it('overwrites a checkpoint of the same step, or refuses with overwrite: false', async () => {
    await saveCheckpoint(runDir, 10, writer(10));
    const r = await saveCheckpoint(runDir, 10, async (d) => writeFile(path.join(d, 'state.json'), 'second'));
    expect(await readFile(path.join(r.dir, 'state.json'), 'utf8')).toBe('second');
    await expect(saveCheckpoint(runDir, 10, writer(10), { overwrite: false })).rejects.toThrow(/already exists/);
    expect(await visibleEntries()).toEqual(['step-000000010']);
  });

  it('keeps the last K (default 3) and the best-scored one; maintains a best symlink', async () => {
    const scores = [1, 9, 3, 4, 2, 5];
    const results = [];
    for (let i = 0; i < scores.length; i++) {
      results.push(await saveCheckpoint(runDir, (i + 1) * 100, writer(i), { score: scores[i] }));
    }
    expect(await visibleEntries()).toEqual([
      'best',
      'step-000000200',
      'step-000000400',
      'step-000000500',
      'step-000000600',
    ]);
    expect(await readlink(path.join(checkpointsDir(runDir), 'best'))).toBe('step-000000200');
    expect(results[5].best).toBe('step-000000200');
    expect(results[5].pruned).toEqual(['step-000000300']);
    expect((await findBestCheckpoint(runDir))?.step).toBe(200);
    expect((await findBestCheckpoint(runDir, false))?.step).toBe(500);
    // keepLast 1 without keepBest
    await saveCheckpoint(runDir, 700, writer(7), { keepLast: 1, keepBest: false });
    expect(await visibleEntries()).toEqual(['step-000000700']);
  });

  it('keepLast 0 keeps everything', async () => {
    for (let i = 1; i <= 5; i++) await saveCheckpoint(runDir, i, writer(i), { keepLast: 0 });
    expect((await listCheckpoints(runDir)).map((c) => c.step)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('verification and fallback', () => {
  async function threeCheckpoints() {
    for (const s of [100, 200, 300]) await saveCheckpoint(runDir, s, writer(s));
    return (s: number) => path.join(checkpointsDir(runDir), checkpointName(s));
  }

  it('a corrupted file is detected by checksum, with fallback to the older checkpoint', async () => {
    const dirOf = await threeCheckpoints();
    const f = path.join(dirOf(300), 'online', 'weights.bin');
    const buf = await readFile(f);
    buf[5000] ^= 0xff; // same size, one flipped byte
    await writeFile(f, buf);
    const list = await listCheckpoints(runDir);
    expect(list.map((c) => c.status)).toEqual(['ok', 'ok', 'corrupt: online/weights.bin checksum mismatch']);
    // quick verification (sizes only) does not see it
    expect((await listCheckpoints(runDir, { verify: 'quick' }))[2].status).toBe('ok');
    const r = await loadLatestGood(runDir);
    expect(r.checkpoint?.step).toBe(200);
    expect(r.skipped).toEqual([{ name: 'step-000000300', status: 'corrupt: online/weights.bin checksum mismatch' }]);
    expect(describeSkipped(r.skipped)[0]).toMatch(/skipped checkpoint step-000000300: corrupt: .*checksum/);
  });

  it('a truncated file and a missing file are detected', async () => {
    const dirOf = await threeCheckpoints();
    await truncate(path.join(dirOf(300), 'online', 'weights.bin'), 100);
    await rm(path.join(dirOf(200), 'state.json'));
    const r = await loadLatestGood(runDir);
    expect(r.checkpoint?.step).toBe(100);
    expect(r.skipped.map((s) => s.status)).toEqual([
      'corrupt: online/weights.bin is truncated (100 of 10300 bytes)',
      'corrupt: state.json is missing',
    ]);
  });

  it('a missing or broken manifest (half-copied directory) is corrupt', async () => {
    const dirOf = await threeCheckpoints();
    await rm(path.join(dirOf(300), 'manifest.json'));
    await writeFile(path.join(dirOf(200), 'manifest.json'), '{"format": "coordrl-chec');
    const list = await listCheckpoints(runDir);
    expect(list.map((c) => c.status)).toEqual([
      'ok',
      'corrupt: manifest.json is not valid JSON',
      'corrupt: missing manifest.json',
    ]);
    expect((await loadLatestGood(runDir)).checkpoint?.step).toBe(100);
  });

  it('an incompatible format version is reported clearly', async () => {
    const dirOf = await threeCheckpoints();
    const mf = path.join(dirOf(300), 'manifest.json');
    const m = JSON.parse(await readFile(mf, 'utf8'));
    m.formatVersion = 2;
    await writeFile(mf, JSON.stringify(m));
    const list = await listCheckpoints(runDir);
    expect(list[2].status).toBe('incompatible version');
    expect(list[2].reason).toBe('checkpoint format version 2; this coordrl reads version 1');
    const r = await loadLatestGood(runDir);
    expect(r.checkpoint?.step).toBe(200);
    expect(describeSkipped(r.skipped)).toEqual([
      'skipped checkpoint step-000000300: incompatible version (checkpoint format version 2; this coordrl reads version 1)',
    ]);
  });

  it('a loader that fails also falls back, and its value is returned for the good one', async () => {
    await threeCheckpoints();
    const r = await loadLatestGood(runDir, async (dir, manifest) => {
      if (manifest.step === 300) throw new Error('model.json: unknown layer CoordConv');
      return JSON.parse(await readFile(path.join(dir, 'state.json'), 'utf8')).step as number;
    });
    expect(r.value).toBe(200);
    expect(r.skipped).toEqual([
      { name: 'step-000000300', status: 'load failed', reason: 'model.json: unknown layer CoordConv' },
    ]);
  });

  it('no checkpoints at all', async () => {
    expect(await listCheckpoints(runDir)).toEqual([]);
    expect(await loadLatestGood(runDir)).toEqual({ checkpoint: null, value: undefined, skipped: [] });
  });
});

describe('a reader while the trainer saves and prunes', () => {
  it('never throws and never reports a checkpoint being pruned as corrupt', async () => {
    let saving = true;
    const seen: string[] = [];
    const reader = (async () => {
      let reads = 0;
      while (saving || reads < 5) {
        for (const c of await listCheckpoints(runDir, { verify: 'full' })) seen.push(c.status);
        reads++;
      }
      return reads;
    })();
    for (let step = 1; step <= 60; step++)
      await saveCheckpoint(runDir, step * 100, writer(step), { keepLast: 1, keepBest: false });
    saving = false;
    expect(await reader).toBeGreaterThan(5);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((s) => s !== 'ok')).toEqual([]);
  });
});
