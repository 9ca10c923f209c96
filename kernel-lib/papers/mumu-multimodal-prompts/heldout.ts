/**
 * The held-out prompts every MUMU run is scored on (evaluate.ts's scores, one per prompt, the same prompts in
 * the same order for every arm and seed, so runs pair prompt by prompt):
 *
 *   same-source    the first `sameSource` scenes of the test split as multimodal prompts, crops cut from the
 *                  scene itself (data/mumu-prompts.ts), never augmented
 *   other-source   per set of data/mumu-sources.ts (a full-size emoji, a colour-shifted emoji, crops from two
 *                  different scenes), the first `otherSource` prompts of the test split (Finding 2, §7)
 *
 * The prompts' own draws (generic words) are seeded by `dataSeed` (default 0, as the training data), and every
 * crop is area-resized to the VQ-VAE's input before it is coded (shipped.ts vqCropEncoder).
 */
import type { DataStore } from '../../data/store';
import type { Example } from '../../data/example-list';
import type { Split } from '../../data/emoji';
import { mumuPrompts, MumuMeta } from '../../data/mumu-prompts';
import { harmonisationPrompts } from '../../data/mumu-sources';
import { OTHER_SOURCES, OtherSource } from './claims';

/** The split held-out prompts come from (val is the training probes'). */
export const HELD_OUT_SPLIT: Split = 'test';

/** Prompts per set (README "MUMU": 100 same-source and 3 × 50 other-source, about 3 min a run). */
export const HELD_OUT = { sameSource: 100, otherSource: 50 } as const;

export interface HeldOutSizes {
  sameSource: number;
  otherSource: number;
}

/** How held-out prompts are drawn: DDIM steps, CFG scale against the null conditioning, prompt i from the noise of seed + i. */
export const DRAW = { cfgScale: 4, steps: 25, seed: 0 } as const;
export interface DrawSettings {
  cfgScale: number;
  steps: number;
  seed: number;
}

export interface HeldOutSets {
  split: Split;
  sameSource: Array<Example<MumuMeta>>;
  otherSource: Record<OtherSource, Array<Example<MumuMeta>>>;
}

/** Checks held-out sizes (positive integers; at least 2, which a paired comparison needs). */
export function checkHeldOutSizes(s: HeldOutSizes): HeldOutSizes {
  for (const k of ['sameSource', 'otherSource'] as const) {
    if (!(Number.isInteger(s[k]) && s[k] >= 2)) throw new Error(`mumu: held-out ${k} must be an integer ≥ 2 (a paired comparison needs 2 prompts), got ${JSON.stringify(s[k])}`);
  }
  return s;
}

/** The held-out prompts (see the file comment); more than the split holds is refused. */
export function heldOutSets(store: DataStore, sizes: HeldOutSizes = HELD_OUT, dataSeed = 0): HeldOutSets {
  checkHeldOutSizes(sizes);
  const first = <M>(list: { size: number; get(i: number): Example<M> }, n: number, what: string) => {
    if (n > list.size) throw new Error(`mumu: ${n} held-out ${what} prompts asked for, the ${HELD_OUT_SPLIT} split has ${list.size} scenes`);
    return Array.from({ length: n }, (_, i) => list.get(i));
  };
  const o = { split: HELD_OUT_SPLIT, seed: dataSeed, augment: false as const };
  return {
    split: HELD_OUT_SPLIT,
    sameSource: first(mumuPrompts(store, o), sizes.sameSource, 'same-source'),
    otherSource: Object.fromEntries(OTHER_SOURCES.map((k) => [k, first(harmonisationPrompts(store, k, o), sizes.otherSource, k)])) as HeldOutSets['otherSource'],
  };
}
