/**
 * Full mode's training: every run of the plan not finished in a runs folder is trained (or resumed, or its
 * evaluation finished) by the recipe, as `npm run train:liquid -- --arm NAME --seed K` would: the same output
 * directory (`<runsDir>/<run>`), the same run directory (`runDirOf(run)`, .cache/runs/liquid-<run> for the
 * project's), text checkpoints before the continuations that start from them. Runs already finished are
 * left as they are, so a notebook run after `train:liquid` (or after an interruption) trains only what is left.
 */
import type { TrainEvent } from '../../train/trainer';
import { findArm, liquidPlan, LiquidPlan } from './plan';
import { pretrainSize, trainContinuation } from './recipe';
import { placeRuns, RunPlace } from './run-places';
import type { LiquidTools } from './tools';

export interface TrainMissingOptions {
  /** The run directory of a run (its resumable snapshots). */
  runDirOf: (run: string) => string;
  plan?: LiquidPlan;
  /** Called before each run is trained (its place, its index among those to train, their count). */
  onRun?: (p: RunPlace, index: number, total: number) => void;
  onProgress?: (e: TrainEvent) => void;
  log?: (s: string) => void;
  signal?: AbortSignal;
  /** Snapshot and evaluation spacing (default the plan's; tests shrink them). */
  checkpointEvery?: number;
  evalPoints?: number;
}

/** Trains the runs among `places` that are not finished (see the file comment); returns the places afterwards. */
export async function trainMissing(places: readonly RunPlace[], runsDir: string, tools: LiquidTools, o: TrainMissingOptions): Promise<RunPlace[]> {
  const plan = o.plan ?? liquidPlan();
  // text checkpoints first: the continuations of a size start from its text checkpoint
  const todo = [...places.filter((p) => p.state !== 'finished' && p.kind === 'pretrain'), ...places.filter((p) => p.state !== 'finished' && p.kind === 'continue')];
  for (const [i, p] of todo.entries()) {
    if (o.signal?.aborted) break;
    o.onRun?.(p, i, todo.length);
    const places = { outDir: p.dir, runDir: o.runDirOf(p.name), onProgress: o.onProgress, signal: o.signal, log: o.log };
    const found = findArm(p.arm, plan);
    if (found.kind === 'pretrain') await pretrainSize(found.arm, tools, places);
    else await trainContinuation(found.arm, tools, { ...places, seed: p.seed, checkpointEvery: o.checkpointEvery, evalPoints: o.evalPoints });
  }
  return placeRuns(runsDir, places);
}
