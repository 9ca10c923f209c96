/**
 * Full mode's training: every wanted run not finished in a runs folder is trained (or resumed, or its
 * held-out evaluation finished) by `trainStage`, as `npm run train:minigpt5 -- --stage S --arm A --seed K`
 * would: the same output directory (`<runsDir>/<run>`), the same run directory (`runDirOf(run)`,
 * .cache/runs/<run> for the project's), stage 1 before the stage 2 that starts from it. Finished runs are left
 * as they are, so a notebook run after the training commands (or after an interruption) trains only what is left.
 */
import * as path from 'node:path';
import { runName } from './recipe';
import { placeRuns, RunPlace } from './run-places';
import { trainStage, RecipeOptions } from './shipped';
import type { StageEvent } from './stage';
import { TrainMissingCommon, trainUnfinished } from '../run-places';

export interface TrainMissingOptions extends TrainMissingCommon<RunPlace, StageEvent> {
  /** The shipped parts and recipe settings every run shares (base LM, decoder, VQ-VAE, data, steps, eval sizes, …). */
  recipe: Omit<RecipeOptions, 'stage' | 'arm' | 'seed' | 'outDir' | 'runDir' | 'stage1Dir' | 'onProgress' | 'log' | 'signal'>;
}

/** Trains the runs among `places` that are not finished (see the file comment); returns the places afterwards. */
export async function trainMissing(places: readonly RunPlace[], runsDir: string, o: TrainMissingOptions): Promise<RunPlace[]> {
  const train = (p: RunPlace) =>
    trainStage({
      ...o.recipe,
      stage: p.stage,
      arm: p.arm,
      seed: p.seed,
      outDir: p.dir,
      runDir: o.runDirOf(p.name),
      ...(p.stage === 2 && p.arm !== 'text-only' ? { stage1Dir: path.join(runsDir, runName(1, p.arm, p.seed)) } : {}),
      onProgress: o.onProgress,
      log: o.log,
      signal: o.signal,
    });
  await trainUnfinished(places, o, train, (p) => p.stage === 1);
  return placeRuns(runsDir, places, o.runDirOf);
}
