// Replay snapshots on disk: `<name>.json` (the header) and `<name>.bin` (the blobs, concatenated in
// header order). Written and read in pieces straight from/into the buffer's arrays: no copy of a
// multi-gigabyte buffer is ever made. Durability (fsync) and atomicity come from the checkpoint
// writer (src/checkpoint), which fsyncs every file of a checkpoint before publishing it.
import { open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { checkHeader, type ReplayHeader, type ReplaySnapshot } from './snapshot-format.js';

const IO_PIECE = 64 * 1024 * 1024;

export async function writeReplaySnapshot(dir: string, name: string, snap: ReplaySnapshot): Promise<void> {
  await writeFile(path.join(dir, `${name}.json`), `${JSON.stringify(snap.header)}\n`);
  const fh = await open(path.join(dir, `${name}.bin`), 'w');
  try {
    for (const blob of snap.blobs) {
      for (let off = 0; off < blob.byteLength; ) {
        const len = Math.min(IO_PIECE, blob.byteLength - off);
        const { bytesWritten } = await fh.write(blob, off, len);
        off += bytesWritten;
      }
    }
  } finally {
    await fh.close();
  }
}

export async function readReplayHeader(dir: string, name: string): Promise<ReplayHeader> {
  const file = path.join(dir, `${name}.json`);
  let header: ReplayHeader;
  try {
    header = JSON.parse(await readFile(file, 'utf8')) as ReplayHeader;
  } catch (e) {
    throw new Error(`cannot read replay header ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  checkHeader(header);
  return header;
}

/** Reads `<name>.bin` into the given views (sizes from the header, already checked against them). */
export async function readReplayBlobsInto(dir: string, name: string, targets: Uint8Array[]): Promise<void> {
  const file = path.join(dir, `${name}.bin`);
  const fh = await open(file, 'r');
  try {
    const expected = targets.reduce((a, t) => a + t.byteLength, 0);
    const { size } = await fh.stat();
    if (size !== expected) throw new Error(`replay data ${file} has ${size} bytes, the header says ${expected}`);
    let pos = 0;
    for (const t of targets) {
      for (let off = 0; off < t.byteLength; ) {
        const len = Math.min(IO_PIECE, t.byteLength - off);
        const { bytesRead } = await fh.read(t, off, len, pos);
        if (bytesRead === 0) throw new Error(`replay data ${file} ended early`);
        off += bytesRead;
        pos += bytesRead;
      }
    }
  } finally {
    await fh.close();
  }
}
