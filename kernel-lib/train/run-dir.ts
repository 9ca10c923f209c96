/**
 * The resumable run directory every trainer uses (LM, VQ-VAE, CLIP, …):
 *
 *   <runDir>/step-000040/          a complete snapshot: whatever the trainer saves (weights, checkpoint/,
 *                                  optimizer.safetensors, EMA state, …), written by writeDirAtomic
 *   <runDir>/trainer_state.json    {"format": "switchboard-run", "version": 2, "step", "snapshot": "step-000040",
 *                                   "options": {...}, ...the trainer's record (history, optimizer step, …)}
 *
 * A save writes the snapshot whole into a temporary sibling, flushed, renamed to `step-N`; then the state
 * file (atomically) naming it; only then are older snapshots removed. So a kill at any instant leaves
 * the state file naming a complete snapshot: before the state file's rename, the previous one (still
 * there); after it, the new one. A resume removes what an interrupted save left behind (`.*.tmp-*`,
 * `.*.old-*`, snapshots the state file does not name).
 *
 * The options a run was started with are stored, and a resume checks them both ways: a key with another
 * value, or present on one side only, is refused, naming the key. To keep existing run directories
 * resumable when a trainer gains an option, leave the key out of the fingerprint while the option has
 * its old default (undefined values are dropped), as the LM trainer does with `adapters`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { atomicWriteFile, DirContent, isTempName, killPoint, writeDirAtomic } from '../checkpoint/files';

export const RUN_STATE_FILE = 'trainer_state.json';
export const RUN_FORMAT = 'switchboard-run';
export const RUN_FORMAT_VERSION = 2;
const SNAPSHOT = /^step-\d+$/;
const RESERVED = ['format', 'version', 'step', 'snapshot', 'options'];

export function snapshotName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/** Where a run resumes: the step, the snapshot directory holding it, and the trainer's record. */
export interface ResumePoint<R> {
  step: number;
  snapshot: string;
  record: R;
}

/** Throws unless `now` equals the options a run was started with (`saved`), key by key, both ways. */
export function checkRunOptions(file: string, saved: Record<string, unknown>, now: Record<string, unknown>): void {
  const a = JSON.parse(JSON.stringify(saved)) as Record<string, unknown>;
  const b = JSON.parse(JSON.stringify(now)) as Record<string, unknown>;
  for (const k of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) {
      throw new Error(`${file}: this run was started with ${k} = ${JSON.stringify(a[k])}, now ${JSON.stringify(b[k])}; use a new runDir or the same options`);
    }
  }
}

export class RunDir {
  readonly stateFile: string;
  /** The snapshot the state file names (null before the first save of a fresh run). */
  private named: string | null = null;

  /** `options`: the run's fingerprint, stored with every save and checked on resume. */
  constructor(readonly dir: string, readonly options: Record<string, unknown>) {
    this.stateFile = path.join(dir, RUN_STATE_FILE);
  }

  /**
   * The point to resume from, or null for a fresh run. Checks the options before touching anything, then
   * removes leftovers of an interrupted save.
   */
  resume<R extends object>(): ResumePoint<R> | null {
    if (!fs.existsSync(this.stateFile)) {
      if (fs.existsSync(path.join(this.dir, 'state.json'))) {
        throw new Error(`${this.dir}: holds a run in the layout before the shared run directory (state.json); resume it with the version that started it, or use a new runDir`);
      }
      this.clean(null);
      return null;
    }
    const raw = JSON.parse(fs.readFileSync(this.stateFile, 'utf8')) as Record<string, unknown>;
    if (raw.format !== RUN_FORMAT) {
      throw new Error(`${this.stateFile}: a run directory in an older layout (checkpoint/ beside trainer_state.json, no step-N snapshots); resume it with the version that started it, or use a new runDir`);
    }
    if (raw.version !== RUN_FORMAT_VERSION) throw new Error(`${this.stateFile}: "version" is ${JSON.stringify(raw.version)}; this code reads version ${RUN_FORMAT_VERSION}`);
    checkRunOptions(this.stateFile, raw.options as Record<string, unknown>, this.options);
    const name = raw.snapshot as string;
    const snapshot = path.join(this.dir, name);
    if (typeof name !== 'string' || !SNAPSHOT.test(name) || !fs.existsSync(snapshot)) {
      throw new Error(`${this.stateFile}: names snapshot ${JSON.stringify(name)}, which is not in ${this.dir}`);
    }
    this.clean(name);
    this.named = name;
    const { format: _f, version: _v, step, snapshot: _s, options: _o, ...record } = raw;
    return { step: step as number, snapshot, record: record as R };
  }

  /**
   * Saves step `step`: `content` as snapshot `step-N`, then the state file naming it with `record`
   * (plain JSON: history, optimizer step, …), then removes older snapshots.
   */
  save(step: number, content: DirContent, record: object): void {
    const clash = Object.keys(record).find((k) => RESERVED.includes(k));
    if (clash) throw new Error(`RunDir.save: the record may not have a key '${clash}' (the state file's own)`);
    const name = snapshotName(step);
    const target = path.join(this.dir, name);
    fs.mkdirSync(this.dir, { recursive: true });
    // The named snapshot is never replaced: its weights are those of its step (a save of the same step
    // again, e.g. when a resumed run is stopped at once, only updates the record).
    if (name !== this.named) {
      if (fs.existsSync(target)) fs.rmSync(target, { recursive: true, force: true }); // a leftover nothing names
      writeDirAtomic(target, content);
    }
    const state = { format: RUN_FORMAT, version: RUN_FORMAT_VERSION, step, snapshot: name, options: this.options, ...record };
    atomicWriteFile(this.stateFile, `${JSON.stringify(state, null, 1)}\n`);
    this.named = name;
    this.clean(name);
  }

  /** Removes snapshots other than `keep` and temporaries of interrupted writes; nothing else. */
  private clean(keep: string | null): void {
    if (!fs.existsSync(this.dir)) return;
    for (const f of fs.readdirSync(this.dir)) {
      if ((SNAPSHOT.test(f) && f !== keep) || isTempName(f)) {
        fs.rmSync(path.join(this.dir, f), { recursive: true, force: true });
        killPoint();
      }
    }
  }
}
