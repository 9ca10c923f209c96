/**
 * What a finished stage's held-out evaluation records (`eval.json` in its output directory, written after
 * metrics.json by `trainStage`; heldout-eval.ts): per held-out item, in the same item order for every arm
 * and seed, so notebook 04 pairs arms item by item (papers/paired.ts). One shape gives the type and the
 * check of a file read back.
 *
 *   scenes     stage 1: held-out scene captions drawn through the vokens (Tables 5 and 7): CLIP-I against
 *              the true scene, CLIP-T against the caption, the scene checker's share of objects in place,
 *              FID of the whole set against the true scenes, and the first few images (PNG, base64)
 *   cfgSweep   stage 1, the full arm: CLIP-I and CLIP-T of the first items at each CFG scale γ
 *   contexts   stage 2 with vokens: the last frame of held-out stories under each context (Table 6), drawn by
 *              MiniGPT-5 and by the two-stage baseline (its captions kept), CLIP-I against the true frame
 *   narration  stage 2: held-out narration NLL (Table 2), nats per token
 *   routing    runs with vokens: top-k picks per layer and expert of voken, text and image-code tokens in
 *              held-out story rows (beyond the paper)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { arr, checkShape, Infer, int, keyed, num, obj, oneOf, opt, str } from '../shape';
import { readJsonOf } from '../recipe-metrics';
import { ARM_NAMES } from './arms';
import { CONTEXTS } from './claims';

export const EVAL_FILE = 'eval.json';

/** A drawn image kept for the notebook: 32×32 RGB as a base64 PNG. */
const PNG = str;
const COUNTS = arr(arr(int)); // [layer][expert]

export const EVAL_RECORD = obj({
  run: str,
  stage: int,
  arm: oneOf(...ARM_NAMES),
  seed: int,
  /** How images were drawn: CFG scale γ, DDIM steps, the negative conditioning, the noise seed of item 0 (item i: + i). */
  drawing: obj({ cfgScale: num, steps: int, negative: oneOf('zero-vokens', 'null'), seed: int }),
  scenes: opt(obj({
    split: str,
    items: int,
    clipI: arr(num),
    clipT: arr(num),
    scene: arr(num),
    fid: num,
    samples: arr(obj({ item: int, caption: str, png: PNG })),
  })),
  cfgSweep: opt(arr(obj({ scale: num, items: int, clipI: arr(num), clipT: arr(num) }))),
  contexts: opt(obj({
    split: str,
    items: int,
    /** Per context, per story: CLIP-I of the drawn last frame against the true one. */
    minigpt5: keyed(CONTEXTS, arr(num)),
    twoStage: keyed(CONTEXTS, arr(num)),
    /** What the two-stage baseline drew from: the last narration and what the LM wrote after it. */
    captions: keyed(CONTEXTS, arr(str)),
    /** The first stories' last frames under every context, for the story strips. */
    samples: arr(obj({ story: int, context: oneOf(...CONTEXTS), minigpt5: PNG, twoStage: PNG })),
  })),
  narration: opt(obj({ split: str, items: int, nll: arr(num), tokens: arr(int) })),
  routing: opt(obj({ split: str, rows: int, tokens: obj({ voken: int, text: int, image: int }), voken: COUNTS, text: COUNTS, image: COUNTS })),
  wallTimeS: num,
  date: str,
});

export type EvalRecord = Infer<typeof EVAL_RECORD>;
export type RoutingCounts = NonNullable<EvalRecord['routing']>;

/** Reads and checks a stage's eval.json (the file, or the stage's output directory). */
export function readEval(fileOrDir: string): EvalRecord {
  const file = fs.existsSync(fileOrDir) && fs.statSync(fileOrDir).isDirectory() ? path.join(fileOrDir, EVAL_FILE) : fileOrDir;
  return checkShape(EVAL_RECORD, readJsonOf(file, 'minigpt5.readEval'), file);
}
