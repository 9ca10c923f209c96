/**
 * Tiny but real MiniGPT-5 runs for the shipping and notebook tests, before the trained decoder ldm-emoji ships:
 * a stand-in decoder (the `tiny` diffusion preset on the shipped VQ-VAE and tokenizer, its weights randomised so
 * it reads its conditioning, saved with a real decoder's layout: config.json, model.safetensors, tokenizer.json,
 * vqvae/), then the recipe itself (`trainStage`: the shipped mm-moe-small, VQ-VAE, CLIP and scene checker on the
 * project's data) for 2 steps of 2 items, a 1 + 1-layer mapper, and a held-out evaluation on a few items drawn in
 * 2 DDIM steps. The runs land in `<root>/minigpt5/` as `npm run train:minigpt5` lays them out in .cache/minigpt5/,
 * so `shipRuns`, `placeRuns` and notebook 04 read them as they read the real ones.
 */
import * as path from 'path';
import { minigpt5 } from '../../kernel-lib';
import type { DataStore } from '../../kernel-lib/data/store';
import { checkpointDir } from '../../kernel-lib/paths';
import { standInDecoder } from '../diffusion/helpers';
import { quiet } from '../data/helpers';

/** The stand-in decoder (tests/diffusion/helpers.ts), where the MiniGPT-5 tests import it from. */
export { standInDecoder };

/** The tiny runs' recipe settings (every run of a set uses the same, as the real ones do). */
export const TINY = {
  steps: 2,
  batchSize: 2,
  probeItems: 2,
  mapper: { encoderLayers: 1, decoderLayers: 1, heads: 2 },
  eval: { sizes: { scenes: 4, sweepItems: 2, sweepScales: [1, 4], stories: 2, narration: 3, routingRows: 2, samples: 2, steps: 2, batch: 4 } },
};

/** The recipe options of the tiny runs, without the run itself. */
export function tinyRecipe(store: DataStore, ldmDir: string): minigpt5.TrainMissingOptions['recipe'] {
  return { ...TINY, store, ldmDir, baseDir: checkpointDir('mm-moe-small'), vqvaeDir: checkpointDir('vqvae-emoji') };
}

/** Trains (and evaluates) one tiny run into `<root>/minigpt5/<run>`; `stopAfter` aborts it after that step (an unfinished run). */
export async function tinyRun(store: DataStore, root: string, ldmDir: string, stage: minigpt5.Stage, arm: minigpt5.Arm, seed = 0, o: { stopAfter?: number } = {}): Promise<string> {
  const name = minigpt5.runName(stage, arm, seed);
  const runs = path.join(root, minigpt5.RUNS_FOLDER);
  const stop = new AbortController();
  await minigpt5.trainStage({
    ...tinyRecipe(store, ldmDir),
    stage, arm, seed,
    outDir: path.join(runs, name),
    runDir: path.join(root, 'runs', name),
    ...(stage === 2 && arm !== 'text-only' ? { stage1Dir: path.join(runs, minigpt5.runName(1, arm, seed)) } : {}),
    checkpointEvery: o.stopAfter ?? 100, // an interrupted run keeps its snapshot, as a real one interrupted after its first snapshot
    log: quiet,
    signal: stop.signal,
    onProgress: (e) => {
      if (o.stopAfter !== undefined && e.step >= o.stopAfter) stop.abort();
    },
  });
  return path.join(runs, name);
}

/**
 * The notebook test's set: stage 1 of the six Table 5 and 7 arms and stage 2 of full and text-only at seed 0, and
 * stage 1 of full at seed 1 stopped after its first step (unfinished); every other seed is left untrained, so the
 * notebook's missing-run paths run too. Returns the runs folder.
 */
export async function tinyNotebookRuns(store: DataStore, root: string, ldmDir: string, log: (s: string) => void = quiet): Promise<string> {
  for (const arm of minigpt5.STAGE1_ARMS) {
    await tinyRun(store, root, ldmDir, 1, arm);
    log(`trained s1-${arm}`);
  }
  for (const arm of minigpt5.STAGE2_ARMS) {
    await tinyRun(store, root, ldmDir, 2, arm);
    log(`trained s2-${arm}`);
  }
  await tinyRun(store, root, ldmDir, 1, 'full', 1, { stopAfter: 1 });
  return path.join(root, minigpt5.RUNS_FOLDER);
}
