/**
 * What the paper folders' run-places.ts and train-missing.ts share (Liquid, MiniGPT-5, MUMU): a wanted run
 * placed under a runs folder (its directory, its state, what is missing and the command that finishes it),
 * the checks every trained run's output directory must pass, and full mode's loop over the runs not finished.
 * Each paper adds its own checks (evaluation files, scores) and its own order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { METRICS_FILE } from './recipe-metrics';

/** finished; missing (nothing of it there); unfinished (started, not trained to the end or not evaluated). */
export type RunState = 'finished' | 'missing' | 'unfinished';

/** A wanted run `W` under a runs folder. */
export type Placed<W> = W & {
  dir: string;
  state: RunState;
  /** What is missing (null when finished). */
  problem: string | null;
  /** The command that trains (or resumes, or finishes evaluating) it. */
  command: string;
};

/**
 * The checks every paper's trained run shares, in order: `dir` exists, holds metrics.json (written when
 * training ends), which `read` accepts, names run `name` and says it stopped 'done'. Returns the metrics when
 * all hold; otherwise what is missing in words, with `again`, the command that trains, resumes or finishes it.
 */
export function checkTrainedRun<M extends { name: string; stopped: string }>(dir: string, name: string, again: string, read: (dir: string) => M): { problem: string } | { problem: null; metrics: M } {
  if (!fs.existsSync(dir)) return { problem: `${name} is not trained: ${dir} does not exist (${again})` };
  if (!fs.existsSync(path.join(dir, METRICS_FILE))) {
    return { problem: `${name} is not finished: ${dir} has no ${METRICS_FILE} (written when training ends); if it is still training, wait; if it was interrupted, run ${again} again to resume it` };
  }
  let m: M;
  try {
    m = read(dir);
  } catch (e) {
    return { problem: `${name}: ${(e as Error).message}` };
  }
  if (m.name !== name) return { problem: `${dir} holds ${m.name}, not ${name}` };
  if (m.stopped !== 'done') return { problem: `${name} stopped early (${m.stopped}); resume it with ${again}` };
  return { problem: null, metrics: m };
}

/** The metrics of the finished run `name` in `dir` (checkTrainedRun's checks all hold), or null. */
export function finishedRunMetrics<M extends { name: string; stopped: string }>(dir: string, name: string, read: (dir: string) => M): M | null {
  const t = checkTrainedRun(dir, name, '', read);
  return t.problem === null ? t.metrics : null;
}

/** What every paper's trainMissing takes besides its own settings (`P` its RunPlace, `E` its progress event). */
export interface TrainMissingCommon<P, E> {
  /** The run directory of a run (its resumable snapshots). */
  runDirOf: (run: string) => string;
  /** Called before each run is trained (its place, its index among those to train, their count). */
  onRun?: (p: P, index: number, total: number) => void;
  onProgress?: (e: E) => void;
  log?: (s: string) => void;
  signal?: AbortSignal;
}

/**
 * Full mode's loop: `train` on each run among `places` that is not finished, those `first` picks (runs others
 * start from) before the rest, each group in place order; stops before the next run once `o.signal` aborts.
 */
export async function trainUnfinished<P extends { state: RunState }>(places: readonly P[], o: Pick<TrainMissingCommon<P, unknown>, 'onRun' | 'signal'>, train: (p: P) => Promise<unknown>, first: (p: P) => boolean = () => true): Promise<void> {
  const open = places.filter((p) => p.state !== 'finished');
  const todo = [...open.filter(first), ...open.filter((p) => !first(p))];
  for (const [i, p] of todo.entries()) {
    if (o.signal?.aborted) break;
    o.onRun?.(p, i, todo.length);
    await train(p);
  }
}
