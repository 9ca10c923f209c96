/**
 * Durable, atomic writes of files and whole directories. A file is written under a temporary name,
 * flushed to disk, then renamed over the target, so readers (and a crash) see either the old file or the
 * complete new one. A directory is written whole into a temporary sibling and renamed into place
 * (writeDirAtomic); every checkpoint save and every run-directory snapshot goes through it.
 *
 * Test hook: with SWITCHBOARD_TEST_KILL_AT=n in the environment, the process SIGKILLs itself at the n-th
 * kill point (1-based; a kill point sits between any two steps that change the disk: after a file is
 * opened, after it is written and flushed, after each rename and each removal). tests/train/run-dir-kill
 * uses it to show that a kill at any instant leaves a resumable run directory. Unset, it costs a counter.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';

const KILL_AT = Number(process.env.SWITCHBOARD_TEST_KILL_AT ?? 0);
let killPoints = 0;

/** Marks a point where a crash may happen; see the file comment. */
export function killPoint(): void {
  killPoints++;
  if (KILL_AT > 0 && killPoints === KILL_AT) process.kill(process.pid, 'SIGKILL');
}

/** Kill points passed so far in this process (the kill test sizes its sweep with it). */
export function killPointsPassed(): number {
  return killPoints;
}

/** Writes `data` to `file` and flushes it to disk before returning. */
export function writeFileSynced(file: string, data: Uint8Array | string): void {
  const fd = fs.openSync(file, 'w');
  try {
    killPoint(); // an empty file exists: what a crash in the middle of a write leaves
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  killPoint();
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

/** Flushes every file and directory under `dir` (content written by someone else's writer). */
function fsyncTree(dir: string): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) fsyncTree(p);
    else if (e.isFile()) {
      const fd = fs.openSync(p, 'r');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
  fsyncDir(dir);
}

/** A fresh name beside `target` for a temporary file or directory (same file system, so rename is atomic). */
export function siblingTempName(target: string, tag: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** True for names siblingTempName makes (`.<name>.tmp-*`, `.<name>.old-*`): leftovers of an interrupted write. */
export function isTempName(name: string): boolean {
  return /^\..+\.(tmp|old)-\d+-[0-9a-f]{8}$/.test(name);
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
  killPoint();
}

/**
 * What goes into a directory, by relative path (`a/b.json` makes the subdirectory): the bytes of a file,
 * or a function that writes a whole subdirectory at the path it is given (e.g. a model checkpoint saved
 * by its own writer inside a run snapshot). Everything a function writes is flushed before the rename.
 */
export type DirEntry = Uint8Array | string | ((dir: string) => void);
export type DirContent = ReadonlyMap<string, DirEntry>;

export interface WriteDirOptions {
  /** Called with the existing target before anything is written; throw to refuse replacing it. */
  checkExisting?: (target: string) => void;
  /** The error to throw when writing file `name` failed (default: the file system's own). */
  writeError?: (name: string, err: Error, replacing: boolean) => Error;
  /** Carry over top-level files of the existing directory that `content` does not write (notes, metrics). */
  keepOthers?: boolean;
}

/**
 * Writes `content` as directory `dir`, atomically: everything is written and flushed into a temporary
 * sibling, then renamed into place. An existing `dir` is moved aside only once the new one is complete,
 * put back if the new one cannot be renamed in, and deleted only after the new one is durable, so a
 * failure at any point leaves the old directory as it was. (A crash in the instant between the two
 * renames leaves the old directory as `.<name>.old-*` and the new one as `.<name>.tmp-*` beside it,
 * nothing lost; the run directory never replaces a directory, so it never meets that instant.)
 */
export function writeDirAtomic(dir: string, content: DirContent, options: WriteDirOptions = {}): void {
  const target = path.resolve(dir);
  const existing = fs.existsSync(target);
  if (existing) options.checkExisting?.(dir);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = siblingTempName(target, 'tmp');
  try {
    fs.mkdirSync(tmp);
    killPoint();
    let wroteDirs = false;
    for (const [name, data] of content) {
      const at = path.join(tmp, name);
      if (name.includes('/')) fs.mkdirSync(path.dirname(at), { recursive: true });
      try {
        if (typeof data === 'function') {
          data(at);
          wroteDirs = true;
        } else writeFileSynced(at, data);
      } catch (err) {
        throw options.writeError ? options.writeError(name, err as Error, existing) : err;
      }
    }
    if (existing && options.keepOthers && fs.statSync(target).isDirectory()) {
      for (const e of fs.readdirSync(target, { withFileTypes: true })) {
        if (e.isFile() && !content.has(e.name)) writeFileSynced(path.join(tmp, e.name), fs.readFileSync(path.join(target, e.name)));
      }
    }
    if (wroteDirs) fsyncTree(tmp);
    else fsyncDir(tmp);
    if (!existing) {
      fs.renameSync(tmp, target);
      fsyncDir(path.dirname(target));
      killPoint();
      return;
    }
    const old = siblingTempName(target, 'old');
    fs.renameSync(target, old);
    killPoint();
    try {
      fs.renameSync(tmp, target);
    } catch (err) {
      fs.renameSync(old, target); // put the previous directory back
      throw err;
    }
    fsyncDir(path.dirname(target)); // the new directory is durable before the old one goes
    killPoint();
    try {
      fs.rmSync(old, { recursive: true, force: true });
    } catch {
      // The write succeeded; a leftover `.<name>.old-*` directory is only clutter.
    }
    killPoint();
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
