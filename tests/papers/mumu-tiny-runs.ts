/**
 * Tiny but real MUMU runs for the shipping and notebook tests, before the real decoder (ldm-emoji) and runs
 * exist: a stand-in decoder — the `tiny` diffusion preset on the shipped VQ-VAE and text tokenizer, every
 * weight random (the adaLN-Zero start would draw the same image whatever the prompt) — saved as
 * `<root>/ldm-emoji/` with the layout LatentDiffusion.save gives the real one; then the recipe itself
 * (mumu.trainRun: train, then score) with the shipped mm-moe-small, vqvae-emoji, clip-emoji and scene checker,
 * each run 2 steps of 2 prompts, scored on 6 same-source and 2 × 3 other-source held-out
 * prompts drawn in 2 DDIM steps. The runs land in `<root>/mumu/` as `npm run train:mumu` lays them out in
 * .cache/mumu/, so shipRuns and notebook 05 read them as they read the real ones.
 */
import * as path from 'path';
import { mumu } from '../../kernel-lib';
import type { DataStore } from '../../kernel-lib/data/store';
import { standInDecoder } from '../diffusion/helpers';
import { quiet } from '../data/helpers';

/** Held-out prompts per set and draw steps of the tiny runs. */
export const TINY_SIZES: mumu.HeldOutSizes = { sameSource: 6, otherSource: 2 };
export const TINY_DRAW = { steps: 2 };
/** The recipe shrunk: 2 steps of 2 prompts, snapshots every step, 2 probe prompts. */
export const TINY_RECIPE = { steps: 2, batchSize: 2, checkpointEvery: 1, probeItems: 2 };

/** Saves the stand-in decoder (tests/diffusion/helpers.ts standInDecoder) to `<root>/ldm-emoji`; returns its directory. */
export function tinyDecoder(root: string, seed = 1): string {
  return standInDecoder(path.join(root, 'ldm-emoji'), seed);
}

/** The project's tools (mumu.openTools) on the stand-in decoder, with the tiny held-out sizes and draws. */
export async function tinyTools(store: DataStore, ldmDir: string): Promise<mumu.MumuTools> {
  return { ...(await mumu.openTools({ ldmDir, store })), sizes: TINY_SIZES, draw: TINY_DRAW };
}

export interface TinyRunOptions {
  /** Abort training after this step (an unfinished run: snapshots, no metrics.json). */
  stopAfter?: number;
  /** Train but do not score (a run trained but not scored: metrics.json, no eval-heldout.json). */
  unscored?: boolean;
}

/** Trains (and scores) one run of the tiny set into `<root>/mumu/<run>`; returns its output directory. */
export async function tinyRun(tools: mumu.MumuTools, root: string, w: { arm: mumu.Arm; tokensPerCrop: mumu.TokensPerCrop | null; seed: number }, o: TinyRunOptions = {}): Promise<string> {
  const name = mumu.runName(w.arm, w.tokensPerCrop, w.seed);
  const outDir = path.join(root, mumu.RUNS_FOLDER, name);
  const runDir = path.join(root, 'runs', name);
  const stop = new AbortController();
  const onProgress = (e: mumu.MumuEvent) => {
    if (o.stopAfter !== undefined && e.step >= o.stopAfter) stop.abort();
  };
  if (o.unscored) {
    await mumu.trainMumu({ ...w, tokensPerCrop: w.tokensPerCrop ?? undefined, ...TINY_RECIPE, baseDir: tools.baseDir, ldmDir: tools.ldmDir, vqvaeDir: tools.vqvaeDir, store: tools.store, outDir, runDir, log: quiet });
  } else {
    await mumu.trainRun(w, tools, { ...TINY_RECIPE, outDir, runDir, log: quiet, onProgress, signal: stop.signal });
  }
  return outDir;
}

/**
 * The notebook test's set: seed 0 of every run set the notebook reads (mumu at 1, 4, 16, 64 tokens, no-augment,
 * caption-only, decoder-full); every other seed untrained, so the notebook's missing-run paths run too (the
 * shipping test covers unfinished and unscored runs). Returns the runs folder.
 */
export async function tinyNotebookRuns(tools: mumu.MumuTools, root: string, log: (s: string) => void = quiet): Promise<string> {
  for (const s of mumu.RUN_SETS) {
    await tinyRun(tools, root, { ...s, seed: 0 });
    log(`trained and scored ${mumu.runName(s.arm, s.tokensPerCrop, 0)}`);
  }
  return path.join(root, mumu.RUNS_FOLDER);
}
