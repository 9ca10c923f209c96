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
import { TrainMissingCommon, trainUnfinished } from '../run-places';

export interface TrainMissingOptions extends TrainMissingCommon<RunPlace, TrainEvent> {
  plan?: LiquidPlan;
  /** Snapshot and evaluation spacing (default the plan's; tests shrink them). */
  checkpointEvery?: number;
  evalPoints?: number;
}

/** Trains the runs among `places` that are not finished (see the file comment); returns the places afterwards. */
export async function trainMissing(places: readonly RunPlace[], runsDir: string, tools: LiquidTools, o: TrainMissingOptions): Promise<RunPlace[]> {
  const plan = o.plan ?? liquidPlan();
  const train = async (p: RunPlace) => {
    const runPlaces = { outDir: p.dir, runDir: o.runDirOf(p.name), onProgress: o.onProgress, signal: o.signal, log: o.log };
    const found = findArm(p.arm, plan);
    if (found.kind === 'pretrain') await pretrainSize(found.arm, tools, runPlaces);
    else await trainContinuation(found.arm, tools, { ...runPlaces, seed: p.seed, checkpointEvery: o.checkpointEvery, evalPoints: o.evalPoints });
  };
  // text checkpoints first: the continuations of a size start from its text checkpoint
  await trainUnfinished(places, o, train, (p) => p.kind === 'pretrain');
  return placeRuns(runsDir, places);
}
