/** Shared by the checkpoint tests: temp dirs, and hand-assembled safetensors bytes for corruption cases. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointError } from '../../kernel-lib/checkpoint/errors';

/** A fresh empty directory under os.tmpdir(); remove it with `fs.rmSync(dir, { recursive: true })`. */
export function makeTempDir(tag = 'ckpt'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `switchboard-${tag}-`));
}

/** 8-byte little-endian length + header text (as is, no padding) + buffer. */
export function assemble(headerText: string, buffer: Uint8Array = new Uint8Array(0)): Uint8Array {
  const header = Buffer.from(headerText, 'utf8');
  const out = new Uint8Array(8 + header.length + buffer.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(buffer, 8 + header.length);
  return out;
}

/** Splits safetensors bytes into (header object, buffer). No validation: for tests that corrupt files. */
export function disassemble(bytes: Uint8Array): { header: Record<string, any>; buffer: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
  return { header, buffer: bytes.slice(8 + n) };
}

/** Rewrites a safetensors file's header in place (the byte buffer is kept as it is). */
export function rewriteHeader(file: string, mutate: (header: Record<string, any>) => void): void {
  const { header, buffer } = disassemble(fs.readFileSync(file));
  mutate(header);
  fs.writeFileSync(file, assemble(JSON.stringify(header), buffer));
}

/** Little-endian bytes of float32 values. */
export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

/** Same bits? (NaN payloads and -0 included.) */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

/** The CheckpointError `fn` throws (fails the test when it throws something else or nothing). */
export function thrown(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}
