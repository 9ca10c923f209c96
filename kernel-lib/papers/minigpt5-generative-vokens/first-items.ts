/**
 * The first held-out items of a recorded evaluation, measured again: `heldOutFirst` gives the options under
 * which `evaluateStage` measures the first items as the recorded evaluation did (its split, CFG scale γ, DDIM
 * steps, noise seed of item 0; the arm's negative comes from the arm, as it did), and `firstScores` takes the
 * per-item scores of those items out of a record, the recorded one or the new one alike, so the two compare
 * field by field. tests/shipped/minigpt5-runs.test.ts checks the shipped float16 weights this way:
 *
 *   const rec = readEval(dir);
 *   const now = await evaluateStage(parts, run, tools, heldOutFirst(rec, FIRST));
 *   firstScores(now, FIRST) vs firstScores(rec, FIRST)
 *
 * Item i is drawn from the noise of seed + i whatever the batching, so the first items come out as they did
 * in the whole evaluation; FID (over the whole set), the CFG sweep, the routing counts and the kept images are
 * left out.
 */
import type { EvalOptions } from './evaluate-stage';
import type { EvalRecord } from './eval-file';
import { CONTEXTS, Context } from './claims';
import { SPLITS } from '../../data/emoji';

/** How many of the first held-out items to measure again, per measurement (a part the record lacks is skipped). */
export interface FirstCounts {
  /** Stage 1: scene captions drawn through the vokens (CLIP-I, CLIP-T, objects in place). */
  scenes: number;
  /** Stage 2 with vokens: stories whose last frame is drawn under every context, MiniGPT-5 and two-stage. */
  stories: number;
  /** Stage 2: stories whose last narration is scored (NLL). */
  narration: number;
}

/** The per-item scores of a record's first items (null: a part the record does not have). */
export interface FirstScores {
  scenes: { clipI: number[]; clipT: number[]; scene: number[] } | null;
  contexts: { minigpt5: Record<Context, number[]>; twoStage: Record<Context, number[]>; captions: Record<Context, string[]> } | null;
  narration: { nll: number[]; tokens: number[] } | null;
}

/** How many of a part's first items to take: `want`, or an error when the record has fewer. */
function counted(run: string, part: string, want: number, items: number): number {
  if (!Number.isInteger(want) || want < 0) throw new Error(`minigpt5.heldOutFirst: ${part} must be a whole number ≥ 0, got ${want}`);
  if (want > items) throw new Error(`minigpt5.heldOutFirst: ${run}'s evaluation has ${items} ${part} items, fewer than the first ${want} asked for`);
  return want;
}

/** The parts `n` asks for that the record has, each with its count (checked against the record). */
function parts(rec: EvalRecord, n: FirstCounts): { scenes: number; stories: number; narration: number } {
  return {
    scenes: rec.scenes ? counted(rec.run, 'scenes', n.scenes, rec.scenes.items) : 0,
    stories: rec.contexts ? counted(rec.run, 'stories', n.stories, rec.contexts.items) : 0,
    narration: rec.narration ? counted(rec.run, 'narration', n.narration, rec.narration.items) : 0,
  };
}

/**
 * The evaluateStage options that measure the first items of `rec` again (see the file comment): its split
 * (one for every part, as evaluateStage has it), γ, steps and noise seed; no sweep, routing or kept images.
 */
export function heldOutFirst(rec: EvalRecord, n: FirstCounts): EvalOptions {
  const splits = [...new Set([rec.scenes?.split, rec.contexts?.split, rec.narration?.split, rec.routing?.split].filter((s): s is string => s !== undefined))];
  if (splits.length !== 1) throw new Error(`minigpt5.heldOutFirst: ${rec.run}'s evaluation ${splits.length === 0 ? 'has no held-out part' : `mixes splits (${splits.join(', ')})`}; evaluateStage scores one split`);
  const split = SPLITS.find((s) => s === splits[0]);
  if (split === undefined) throw new Error(`minigpt5.heldOutFirst: ${rec.run}'s evaluation is on split '${splits[0]}', not ${SPLITS.join(', ')}`);
  const k = parts(rec, n);
  return {
    split,
    drawSeed: rec.drawing.seed,
    cfgScale: rec.drawing.cfgScale,
    sizes: { scenes: k.scenes, sweepItems: 0, sweepScales: [], stories: k.stories, narration: k.narration, routingRows: 0, samples: 0, steps: rec.drawing.steps },
  };
}

/** The per-item scores of the first items of `rec` (see the file comment); counts as heldOutFirst checks them. */
export function firstScores(rec: EvalRecord, n: FirstCounts): FirstScores {
  const k = parts(rec, n);
  const c = rec.contexts;
  const each = <T>(f: (x: Context) => T[]) => Object.fromEntries(CONTEXTS.map((x) => [x, f(x).slice(0, k.stories)])) as Record<Context, T[]>;
  return {
    scenes: rec.scenes ? { clipI: rec.scenes.clipI.slice(0, k.scenes), clipT: rec.scenes.clipT.slice(0, k.scenes), scene: rec.scenes.scene.slice(0, k.scenes) } : null,
    contexts: c ? { minigpt5: each((x) => c.minigpt5[x]), twoStage: each((x) => c.twoStage[x]), captions: each((x) => c.captions[x]) } : null,
    narration: rec.narration ? { nll: rec.narration.nll.slice(0, k.narration), tokens: rec.narration.tokens.slice(0, k.narration) } : null,
  };
}
