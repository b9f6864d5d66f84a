// The replay snapshot format, shared by the buffers (replay-base.ts) and the files
// (snapshot-io.ts): a JSON header (kind, config, ring state, blob sizes) and binary blobs.
// Version 1 since the first release: checkpoints written before must still load.

/** Which buffer a snapshot is of: the frame replay or the vector replay. */
export type ReplayKind = 'frame' | 'vector';

export const REPLAY_FORMAT = 'coordrl-replay';
export const REPLAY_FORMAT_VERSION = 1;

export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export interface ReplayHeader {
  format: typeof REPLAY_FORMAT;
  version: number;
  kind: ReplayKind;
  littleEndian: boolean;
  config: Record<string, unknown>;
  state: { head: number[]; filled: number[]; cur: number[]; validCount: number };
  blobs: { name: string; byteLength: number }[];
}

/** A buffer's full state: a JSON header and binary blobs (views into the buffer, not copies). */
export interface ReplaySnapshot {
  header: ReplayHeader;
  blobs: Uint8Array[];
}

export function checkHeader(header: ReplayHeader, kind?: ReplayKind): void {
  if (header?.format !== REPLAY_FORMAT) throw new Error(`not a replay buffer header (format ${header?.format})`);
  if (header.version !== REPLAY_FORMAT_VERSION) {
    throw new Error(
      `replay buffer format version ${header.version} is not supported (this build reads ${REPLAY_FORMAT_VERSION})`,
    );
  }
  if (kind && header.kind !== kind)
    throw new Error(`replay header is for a ${header.kind} buffer, not a ${kind} buffer`);
  if (header.littleEndian !== LITTLE_ENDIAN)
    throw new Error('replay buffer was saved on a machine of other endianness');
}
