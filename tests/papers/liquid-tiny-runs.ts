/**
 * Tiny but real Liquid runs for the shipping and notebook tests: the recipe itself (pretrainSize,
 * trainContinuation) with the project's tokenizer, VQ-VAE, CLIP and scene checker, on a small data build,
 * each size shrunk to a few thousand weights (different per size, so sizes order by parameters as the
 * ladder's do) and the plan's budget shrunk to 2,496 text tokens (1–4 steps a run), scored at 2 evaluation
 * points on a few held-out items. The runs land in `<root>/liquid/` as `npm run train:liquid` lays them out
 * in .cache/liquid/, so `shipRuns` and notebook 03 read them as they read the real ones.
 */
import * as path from 'path';
import { liquid } from '../../kernel-lib';
import type { SizePresetName } from '../../kernel-lib/model/config';
import type { DataStore } from '../../kernel-lib/data/store';
import { VQVAE } from '../../kernel-lib/image/model';
import { ClipModel } from '../../kernel-lib/eval/clip';
import { SceneChecker } from '../../kernel-lib/eval/scene-checker';
import { checkpointDir } from '../../kernel-lib/paths';
import { quiet } from '../data/helpers';

/** The plan of the tiny runs: the real arms and seeds, 2,496 text tokens per text-matched arm (text 1 step, mixed 3, the 40M arms 4). */
export const tinyPlan = (): liquid.LiquidPlan => liquid.liquidPlan({ textTokens: 2496 });

/** Each size shrunk: hidden 16 / 24 / 32 / 40, 4 experts top-2; the larger two have 2 layers. */
const WIDTH: Record<SizePresetName, [number, number]> = { 'moe-h64': [16, 1], 'moe-h96': [24, 1], 'moe-h128': [32, 2], 'moe-h192': [40, 2] };
export const tinySize = (size: SizePresetName) => {
  const [H, L] = WIDTH[size];
  return { hiddenSize: H, intermediateSize: H / 2, numLayers: L, numHeads: 2, numKvHeads: 1, numExperts: 4, topK: 2, maxPositions: 256 };
};

/** Few held-out items of each kind (at least 2 where a paired comparison needs them). */
export const TINY_HELD_OUT: Partial<liquid.HeldOutSizes> = { brownWindows: 4, brownSeqLen: 32, t2iItems: 4, i2tItems: 4, questions: 4, drawn: 2, routingRows: 4 };

/** The project's image tools with tiny sizes; text checkpoints (moe-h128's too) in `<root>/liquid/text-<size>`. */
export function tinyProjectTools(store: DataStore, root: string): liquid.LiquidTools {
  const vq = VQVAE.load(checkpointDir('vqvae-emoji'));
  const clip = ClipModel.load(checkpointDir('clip-emoji'));
  const checker = SceneChecker.fromStore(store);
  return {
    store,
    codec: liquid.vqCodec(vq),
    clip,
    checker,
    textDir: (size) => path.join(root, liquid.RUNS_FOLDER, `text-${size}`),
    brown: { maxDocs: 3 },
    configFor: tinySize,
    heldOutSizes: TINY_HELD_OUT,
    dispose: () => {
      vq.dispose();
      clip.dispose();
      checker.dispose();
    },
  };
}

/** Trains a size's text checkpoint (2 steps), moe-h128's too (it ships as text-moe-small for real). */
export async function tinyText(tools: liquid.LiquidTools, root: string, size: SizePresetName): Promise<void> {
  const arm = { ...(tinyPlan().pretrain.find((p) => p.size === size) as liquid.PretrainArm), shipped: undefined };
  await liquid.pretrainSize(arm, tools, { outDir: tools.textDir(size), runDir: path.join(root, 'runs', `liquid-text-${size}`), steps: 2, evalTokens: 256, log: quiet });
}

/** Trains one continuation run of the tiny plan (evaluated at 2 points); `stopAfter` aborts it after that step (an unfinished run). */
export async function tinyRun(tools: liquid.LiquidTools, root: string, arm: string, seed = 0, o: { stopAfter?: number } = {}): Promise<string> {
  const found = liquid.findArm(arm, tinyPlan());
  if (found.kind !== 'continue') throw new Error(`${arm} is not a continuation arm`);
  const name = liquid.runName(arm, seed);
  const outDir = path.join(root, liquid.RUNS_FOLDER, name);
  const stop = new AbortController();
  await liquid.trainContinuation(found.arm, tools, {
    seed, outDir, runDir: path.join(root, 'runs', `liquid-${name}`), evalPoints: 2, checkpointEvery: 100, log: quiet, signal: stop.signal,
    onProgress: (e) => {
      if (o.stopAfter !== undefined && e.step >= o.stopAfter) stop.abort();
    },
  });
  return outDir;
}

/**
 * The notebook test's set: moe-h64 and moe-h96 with their text, mixed and generation-only runs, experiment 4's
 * five arms at seed 0, and moe-h64-mixed at seed 1 stopped after its first evaluation checkpoint (unfinished);
 * moe-h128 and moe-h192 and the other seed-1 runs are left untrained, so the notebook's missing-run paths run too.
 */
export async function tinyNotebookRuns(store: DataStore, root: string, log: (s: string) => void = quiet): Promise<string> {
  const tools = tinyProjectTools(store, root);
  try {
    for (const size of ['moe-h64', 'moe-h96'] as const) {
      await tinyText(tools, root, size);
      for (const kind of ['text', 'mixed', 'gen']) {
        await tinyRun(tools, root, `${size}-${kind}`);
        log(`trained ${size}-${kind}`);
      }
    }
    for (const kind of ['add-t2i', 'add-i2t', 'matched', 'add-text']) {
      await tinyRun(tools, root, `moe-h64-${kind}`);
      log(`trained moe-h64-${kind}`);
    }
    await tinyRun(tools, root, 'moe-h64-mixed', 1, { stopAfter: 2 });
  } finally {
    tools.dispose();
  }
  return path.join(root, liquid.RUNS_FOLDER);
}
