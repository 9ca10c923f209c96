/** Test helper: Debian's python3 with torch (installed by `npm test`'s set-up), or a reason to skip. */
import { spawnSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

let cached: string | null | undefined;
/** null when torch is importable, else why not. */
export function torchMissing(): string | null {
  if (cached === undefined) {
    const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
    cached = r.status === 0 ? null : `${PYTHON} cannot import torch (${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)}); run npm test (it installs python3-torch)`;
  }
  return cached;
}

export function decodeF32(t: { data: string; shape: number[] }): Float32Array {
  const buf = Buffer.from(t.data, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}
