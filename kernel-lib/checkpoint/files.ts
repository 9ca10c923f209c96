/**
 * Durable, atomic file writes. A file is written under a temporary name, flushed to disk, then renamed
 * over the target, so readers (and a crash) see either the old file or the complete new one.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';

/** Writes `data` to `file` and flushes it to disk before returning. */
export function writeFileSynced(file: string, data: Uint8Array | string): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flushes a directory entry (a rename or a new file) to disk; a no-op where the platform can't. */
export function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return; // e.g. Windows cannot open a directory
  }
  try {
    fs.fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on directories; the rename itself is still atomic
  } finally {
    fs.closeSync(fd);
  }
}

/** A fresh name beside `target` for a temporary file or directory (same file system, so rename is atomic). */
export function siblingTempName(target: string, tag: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Replaces `file` with `data` atomically: the old content stays until the new one is complete on disk. */
export function atomicWriteFile(file: string, data: Uint8Array | string): void {
  const tmp = siblingTempName(file, 'tmp');
  try {
    writeFileSynced(tmp, data);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(path.dirname(file));
}
