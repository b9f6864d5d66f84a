// Protocol version 1 (python-bridge/PROTOCOL.md): one MessagePack header frame per request; replies
// are a header frame followed by raw array frames (observations) described in `header.frames`.
import { Packr, Unpackr } from 'msgpackr';
import type { ObsArray, ObsDType } from './types.js';

export const PROTOCOL_VERSION = 1;

// Plain maps only: records/structures are msgpackr extensions Python cannot read.
const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export function encodeHeader(header: Record<string, unknown>): Buffer {
  return packr.pack(header);
}

export interface FrameDesc {
  name: string;
  dtype: string;
  shape: number[];
  indices?: number[];
}

export interface EpisodeWire {
  index: number;
  return: number;
  length: number;
  truncated: boolean;
  lives?: number;
}

export interface ReplyHeader {
  v: number;
  id: number | null;
  ok: boolean;
  op?: string;
  error?: { code: string; message: string; [k: string]: unknown };
  frames?: FrameDesc[];
  [k: string]: unknown;
}

export interface Reply {
  header: ReplyHeader;
  frames: Buffer[];
}

export function decodeHeader(buf: Buffer): ReplyHeader {
  const h = unpackr.unpack(buf) as unknown;
  if (h === null || typeof h !== 'object' || Array.isArray(h)) throw new Error('reply header is not a map');
  return h as ReplyHeader;
}

/** Copies a (possibly misaligned) binary field into a fresh, aligned typed array. */
export function f32(bin: unknown, n: number, field: string): Float32Array {
  return new Float32Array(copyBytes(asBytes(bin, n * 4, field)).buffer);
}

export function i32(bin: unknown, n: number, field: string): Int32Array {
  return new Int32Array(copyBytes(asBytes(bin, n * 4, field)).buffer);
}

export function u8(bin: unknown, n: number, field: string): Uint8Array {
  return copyBytes(asBytes(bin, n, field));
}

/** A copy in a fresh ArrayBuffer (Buffer#slice would return a view into a shared pool). */
function copyBytes(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.byteLength);
  out.set(src);
  return out;
}

function asBytes(bin: unknown, bytes: number, field: string): Uint8Array {
  if (!(bin instanceof Uint8Array)) throw new Error(`reply field '${field}' is not binary`);
  if (bin.byteLength !== bytes)
    throw new Error(`reply field '${field}' has ${bin.byteLength} bytes, expected ${bytes}`);
  return bin;
}

/** A typed array over a received frame: no copy for uint8, nor for float32 when aligned. */
export function frameArray(frame: Buffer, desc: FrameDesc, expectDtype: ObsDType): ObsArray {
  if (desc.dtype !== expectDtype)
    throw new Error(`frame '${desc.name}' has dtype ${desc.dtype}, expected ${expectDtype}`);
  const n = desc.shape.reduce((a, b) => a * b, 1);
  if (expectDtype === 'uint8') {
    if (frame.byteLength !== n) throw new Error(`frame '${desc.name}' has ${frame.byteLength} bytes, expected ${n}`);
    return new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
  }
  if (frame.byteLength !== n * 4)
    throw new Error(`frame '${desc.name}' has ${frame.byteLength} bytes, expected ${n * 4}`);
  if (frame.byteOffset % 4 === 0) return new Float32Array(frame.buffer, frame.byteOffset, n);
  return new Float32Array(copyBytes(frame).buffer); // misaligned: copy
}
