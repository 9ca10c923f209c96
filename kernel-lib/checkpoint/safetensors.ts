/**
 * The safetensors format (https://github.com/huggingface/safetensors):
 *
 *   [8 bytes]  N, little-endian u64: the header length
 *   [N bytes]  UTF-8 JSON object {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}},
 *              beginning with "{" and possibly padded with trailing spaces
 *   [rest]     the byte buffer; offsets are relative to its start, little-endian, row-major
 *
 * Reading treats the file as untrusted and checks every number before using it, following the reference
 * implementation: the header length against the file, each entry's dtype/shape/offsets, each range's
 * size against shape × dtype, and that the ranges tile the byte buffer exactly (sorted by offset, each
 * begins where the previous ended, the last ends at the end of the file: no overlaps, no holes, no
 * trailing bytes). Duplicate names are rejected (the spec forbids them; JSON.parse would silently keep
 * the last). Values are not checked (the spec allows NaN/Inf); the checkpoint layer does that.
 *
 * Writing produces F32 or F16, tensors in the order given, header padded with spaces to a multiple of
 * 8 bytes so the buffer starts 8-aligned. Reading accepts F32, F16 and BF16 and returns float32.
 */
import * as fs from 'fs';
import { HostTensor } from '../model/params';
import { CheckpointError } from './errors';
import { atomicWriteFile } from './files';
import { bfloat16BitsToFloat32, float16Table, float32ToFloat16Bits } from './float16';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';
export type SafetensorsWriteDtype = 'F32' | 'F16';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** The reference implementation refuses headers larger than this (a guard against absurd JSON). */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A tensor read from a file: float32 data plus the dtype it was stored in. */
export interface SafetensorsTensor extends HostTensor {
  dtype: SafetensorsDtype;
}

export interface SafetensorsContents {
  /** In header order. */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string> | null;
}

export interface SafetensorsWriteOptions {
  /** Storage dtype of every tensor (default F32). F16 rounds to nearest even; beyond ±65504 gives ±Inf. */
  dtype?: SafetensorsWriteDtype;
  metadata?: Record<string, string>;
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const isDim = (d: unknown): d is number => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0;

// ---------------------------------------------------------------------------------------------- write

/**
 * Serialises tensors in the order given. `file` only names the target in error messages.
 * Throws CheckpointError for a reserved or repeated name, a bad shape, or data whose length is not
 * the product of the shape.
 */
export function encodeSafetensors(
  tensors: Iterable<[string, HostTensor]>,
  options: SafetensorsWriteOptions = {},
  file = '<safetensors>',
): Uint8Array {
  const dtype = options.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'F16') throw new CheckpointError(file, `cannot write dtype ${JSON.stringify(dtype)} (F32 or F16)`);
  const size = DTYPE_BYTES[dtype];
  const entries = [...tensors];
  const seen = new Set<string>();
  // The header is assembled by hand so the key order is exactly the given order (a JS object would
  // move integer-like names such as "0" to the front).
  const parts: string[] = [];
  if (options.metadata !== undefined) {
    checkMetadata(options.metadata, file);
    parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(options.metadata)}`);
  }
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === METADATA_KEY) throw new CheckpointError(file, `"${METADATA_KEY}" is reserved and cannot name a tensor`, name);
    if (seen.has(name)) throw new CheckpointError(file, `tensor "${name}" is given twice`, name);
    seen.add(name);
    if (!Array.isArray(t.shape) || !t.shape.every(isDim)) {
      throw new CheckpointError(file, `tensor "${name}" has shape ${JSON.stringify(t.shape)}; dims must be non-negative integers`, name);
    }
    if (t.data.length !== numel(t.shape)) {
      throw new CheckpointError(file, `tensor "${name}" has ${t.data.length} values, but shape ${JSON.stringify(t.shape)} needs ${numel(t.shape)}`, name);
    }
    const nbytes = t.data.length * size;
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype, shape: t.shape, data_offsets: [offset, offset + nbytes] })}`);
    offset += nbytes;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const headerLen = json.length + ((8 - (json.length % 8)) % 8); // pad with spaces: the buffer starts 8-aligned
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const [, t] of entries) {
    if (dtype === 'F32') {
      if (LITTLE_ENDIAN_HOST) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
      else for (let i = 0; i < t.data.length; i++) view.setFloat32(pos + 4 * i, t.data[i], true);
    } else {
      for (let i = 0; i < t.data.length; i++) view.setUint16(pos + 2 * i, float32ToFloat16Bits(t.data[i]), true);
    }
    pos += t.data.length * size;
  }
  return out;
}

/** Writes a safetensors file atomically (temp file + rename). */
export function writeSafetensors(file: string, tensors: Iterable<[string, HostTensor]>, options: SafetensorsWriteOptions = {}): void {
  atomicWriteFile(file, encodeSafetensors(tensors, options, file));
}

// ----------------------------------------------------------------------------------------------- read

/** Reads and fully validates a safetensors file; errors name the file (and the tensor). */
export function readSafetensors(file: string): SafetensorsContents {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CheckpointError(file, 'file not found');
    throw new CheckpointError(file, `cannot read file (${(err as Error).message})`);
  }
  return decodeSafetensors(bytes, file);
}

interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Parses and fully validates safetensors bytes. `file` names the source in error messages. */
export function decodeSafetensors(bytes: Uint8Array, file: string): SafetensorsContents {
  const fail = (detail: string, tensor?: string): never => {
    throw new CheckpointError(file, detail, tensor);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(bytes.length - 8)) {
    fail(`header length ${n64} runs past the end of the file (${bytes.length} bytes; the file may be truncated)`);
  }
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(n64);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail(`header is not a JSON object (got ${header === null ? 'null' : Array.isArray(header) ? 'an array' : typeof header})`);
  }
  if (text[0] !== '{') fail('header must begin with "{" (only trailing spaces may pad it)');
  const h = header as Record<string, unknown>;

  const names = topLevelKeys(text);
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) fail(`header names tensor "${name}" twice`, name);
    seen.add(name);
  }

  let metadata: Record<string, string> | null = null;
  if (METADATA_KEY in h) {
    checkMetadata(h[METADATA_KEY], file);
    metadata = h[METADATA_KEY] as Record<string, string>;
  }

  const bufStart = 8 + n;
  const bufLen = bytes.length - bufStart;
  const entries: Entry[] = [];
  for (const name of names) {
    if (name === METADATA_KEY) continue;
    entries.push(parseEntry(name, h[name], bufLen, fail));
  }

  // The ranges must tile [0, bufLen) exactly.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: Entry | null = null;
  for (const e of sorted) {
    if (e.begin < pos && prev !== null) {
      fail(`tensors "${prev.name}" and "${e.name}" overlap (data_offsets [${prev.begin},${prev.end}] and [${e.begin},${e.end}])`, e.name);
    }
    if (e.begin > pos) {
      fail(`bytes [${pos},${e.begin}) of the byte buffer belong to no tensor (a hole before tensor "${e.name}")`, e.name);
    }
    pos = e.end;
    prev = e;
  }
  if (pos !== bufLen) {
    const k = bufLen - pos;
    fail(`${k} trailing byte${k === 1 ? '' : 's'} after the last tensor (the byte buffer is ${bufLen} bytes, the tensors cover ${pos}; they must cover it exactly)`);
  }

  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decodeData(bytes, bufStart + e.begin, numel(e.shape), e.dtype) });
  }
  return { tensors, metadata };
}

function parseEntry(name: string, info: unknown, bufLen: number, fail: (d: string, t?: string) => never): Entry {
  const at = `tensor "${name}"`;
  if (typeof info !== 'object' || info === null || Array.isArray(info)) fail(`${at}: entry is not an object`, name);
  const o = info as Record<string, unknown>;
  for (const key of ['dtype', 'shape', 'data_offsets']) {
    if (!(key in o)) fail(`${at}: missing "${key}"`, name);
  }
  const dtype = o.dtype;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    fail(`${at}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`, name);
  }
  const shape = o.shape;
  if (!Array.isArray(shape) || !shape.every(isDim)) {
    fail(`${at}: shape ${JSON.stringify(shape)} must be a list of non-negative integers`, name);
  }
  const offs = o.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isDim) || offs[0] > offs[1]) {
    fail(`${at}: data_offsets ${JSON.stringify(offs)} must be [begin, end] with integers 0 <= begin <= end`, name);
  }
  const [begin, end] = offs as [number, number];
  if (end > bufLen) {
    fail(`${at}: data_offsets [${begin},${end}] run past the end of the byte buffer (${bufLen} bytes; the file may be truncated)`, name);
  }
  const d = dtype as SafetensorsDtype;
  const s = shape as number[];
  const need = numel(s) * DTYPE_BYTES[d];
  if (end - begin !== need) {
    fail(`${at}: data_offsets [${begin},${end}] hold ${end - begin} bytes, but shape ${JSON.stringify(s)} of ${d} needs ${need}`, name);
  }
  return { name, dtype: d, shape: s, begin, end };
}

function checkMetadata(m: unknown, file: string): void {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) {
    throw new CheckpointError(file, `"${METADATA_KEY}" must be an object mapping strings to strings`);
  }
  for (const [k, v] of Object.entries(m)) {
    if (typeof v !== 'string') {
      throw new CheckpointError(file, `"${METADATA_KEY}" must map strings to strings, but "${k}" is ${JSON.stringify(v)}`);
    }
  }
}

function decodeData(bytes: Uint8Array, abs: number, count: number, dtype: SafetensorsDtype): Float32Array {
  const start = bytes.byteOffset + abs;
  if (dtype === 'F32' && LITTLE_ENDIAN_HOST) {
    return new Float32Array(bytes.buffer.slice(start, start + 4 * count)); // a copy: aligned, and independent of the file buffer
  }
  const view = new DataView(bytes.buffer, start, count * DTYPE_BYTES[dtype]);
  const out = new Float32Array(count);
  if (dtype === 'F32') {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (dtype === 'F16') {
    const table = float16Table();
    for (let i = 0; i < count; i++) out[i] = table[view.getUint16(2 * i, true)];
  } else {
    for (let i = 0; i < count; i++) out[i] = bfloat16BitsToFloat32(view.getUint16(2 * i, true));
  }
  return out;
}

/**
 * The top-level keys of a JSON object text in file order, duplicates included (JSON.parse keeps only the
 * last duplicate and moves integer-like keys first). `text` must already have parsed as an object.
 */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth !== 1) continue;
      let j = i + 1;
      while (j < text.length && (text[j] === ' ' || text[j] === '\t' || text[j] === '\n' || text[j] === '\r')) j++;
      if (text[j] === ':') keys.push(JSON.parse(text.slice(start, i + 1)) as string);
    } else if (c === '{' || c === '[') {
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
    }
  }
  return keys;
}
