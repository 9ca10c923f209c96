/**
 * The held-out evaluation of a trained stage (heldout.ts measures, eval-file.ts records), as `trainStage` runs
 * it after training (and again, alone, on a trained stage whose eval.json is missing):
 *
 *   stage 1, every arm     Tables 5 and 7: the first `scenes` held-out scene captions drawn through the vokens,
 *                          with the arm's negative (ĥ₀ = mapper(0), or the empty caption for no-CFG); the full
 *                          arm also draws the first `sweepItems` at each CFG scale of `sweepScales`
 *   stage 2 with vokens    Table 6: the last frame of the first `stories` held-out stories under each context,
 *                          MiniGPT-5 and the two-stage baseline
 *   stage 2, every arm     Table 2: the narration NLL of the last frame of the first `narration` stories
 *                          (text + image task, full context), text-only included
 *   every arm with vokens  routing of voken, text and image-code tokens in the first `routingRows` story rows
 *
 * Every arm and seed draws item i from the same decoder noise (seed `drawSeed` + i), so the per-item
 * differences are the training's.
 */
import type { Session } from '../../session';
import type { LatentDiffusion } from '../../diffusion/model';
import type { ClipModel } from '../../eval/clip';
import type { SceneChecker } from '../../eval/scene-checker';
import type { DataStore } from '../../data/store';
import type { Split } from '../../data/emoji';
import { DEFAULT_CFG_SCALE, DEFAULT_STEPS } from '../../diffusion/options';
import { lastFrameItems, storyItem } from '../../data/voken-stories';
import type { Example } from '../../data/example-list';
import type { VokenStoryMeta } from '../../data/voken-stories';
import { checkShape } from '../shape';
import { armSettings, Arm, Stage } from './arms';
import { CONTEXTS, Context } from './claims';
import type { FeatureMapper } from './mapper';
import { storyItems, ImageEncoder, VokenItem } from './items';
import { narrationNll } from './evaluate';
import { contextScores, drawPrompts, HeldScene, HeldStory, routingCounts, sceneScores } from './heldout';
import { EVAL_RECORD, EvalRecord } from './eval-file';
import { mean } from '../summary';

/** How many held-out items each measurement uses, and how images are drawn. */
export interface EvalSizes {
  scenes: number;
  /** The CFG sweep (full arm): its items (the first scenes) and scales. */
  sweepItems: number;
  sweepScales: readonly number[];
  stories: number;
  narration: number;
  routingRows: number;
  /** Images kept in eval.json per measurement (the first items). */
  samples: number;
  /** DDIM steps per image. */
  steps: number;
  /** Images per sampling call. */
  batch: number;
}

/**
 * 200 scenes (FID on fewer is noisy: CLIP features are 128-d), 64 stories × 4 contexts × 2 models, the sweep on
 * 64 scenes at γ 1, 2, 4, 7: about 400 images for a full stage-1 run and 512 for a stage-2 run, a few CPU
 * minutes each at 25 DDIM steps (README "MiniGPT-5").
 */
export const EVAL_SIZES: EvalSizes = { scenes: 200, sweepItems: 64, sweepScales: [1, 2, 4, 7], stories: 64, narration: 200, routingRows: 32, samples: 4, steps: DEFAULT_STEPS, batch: 8 };

/** What the evaluation reads: the data, CLIP, the scene checker, and the VQ-VAE for context images. */
export interface EvalTools {
  store: Pick<DataStore, 'scenes' | 'sceneImage' | 'stories' | 'storyFrameImage'>;
  clip: ClipModel;
  checker: SceneChecker;
  encode: ImageEncoder;
}

export interface EvalOptions {
  sizes?: Partial<EvalSizes>;
  /** Held-out split (default 'test'; the training probes use 'val'). */
  split?: Split;
  /** Decoder noise seed of item 0 (default 0, for every arm and seed). */
  drawSeed?: number;
  /** CFG scale γ of the tables (default the decoder's, 4). */
  cfgScale?: number;
  /** Images drawn so far, of all the evaluation draws. */
  onImage?: (done: number, total: number) => void;
  log?: (s: string) => void;
  signal?: AbortSignal;
}

/** The trained stage: its LM (voken rows, LoRA attached), its mapper (null for text-only), the frozen decoder. */
export interface EvalParts {
  session: Session;
  mapper: FeatureMapper | null;
  ldm: LatentDiffusion;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Coded story items (context images as VQ codes) from examples. */
function coded(examples: readonly Example<VokenStoryMeta>[], encode: ImageEncoder): VokenItem[] {
  return storyItems({ size: examples.length, get: (i) => examples[i] }, encode).items(range(examples.length));
}

/** The last frame of story i (text + image task, full context): Table 2's narration and the routing rows. */
function lastFrames(t: EvalTools, split: Split, n: number): VokenItem[] {
  const stories = t.store.stories(split);
  return coded(range(Math.min(n, stories.length)).map((i) => storyItem(t.store, split, i, stories[i].frames.length - 1, 'text-image', 'image-text')), t.encode);
}

/** Runs the evaluation of one trained stage (see the file comment); returns what eval.json holds. */
export async function evaluateStage(p: EvalParts, run: { name: string; stage: Stage; arm: Arm; seed: number }, t: EvalTools, o: EvalOptions = {}): Promise<EvalRecord> {
  const t0 = Date.now();
  const z = { ...EVAL_SIZES, ...o.sizes };
  const split = o.split ?? 'test';
  const set = armSettings(run.arm, run.stage);
  const log = o.log ?? (() => {});
  const drawing = { cfgScale: o.cfgScale ?? DEFAULT_CFG_SCALE, steps: z.steps, negative: set.negative, seed: o.drawSeed ?? 0 };
  const d = { ...drawing, batch: z.batch, signal: o.signal };
  const withVokens = p.mapper !== null ? { session: p.session, mapper: p.mapper, ldm: p.ldm } : null;
  const scenes = run.stage === 1 ? Math.min(z.scenes, t.store.scenes(split).length) : 0;
  const sweep = run.stage === 1 && run.arm === 'full' ? z.sweepScales.filter((g) => g !== drawing.cfgScale) : [];
  const sweepItems = Math.min(z.sweepItems, scenes);
  const stories = run.stage === 2 && withVokens ? Math.min(z.stories, t.store.stories(split).length) : 0;
  const total = scenes + sweep.length * sweepItems + 2 * CONTEXTS.length * stories;
  let before = 0;
  const progress = (k: number) => o.onImage?.(before + k, total);
  const out: EvalRecord = { run: run.name, stage: run.stage, arm: run.arm, seed: run.seed, drawing, wallTimeS: 0, date: '' };

  if (run.stage === 1) {
    if (!withVokens) throw new Error(`minigpt5.evaluateStage: ${run.name} has no mapper; stage 1 trains one`);
    const specs = t.store.scenes(split);
    const held: HeldScene[] = range(scenes).map((i) => ({ caption: specs[i].caption, image: t.store.sceneImage(split, i), claim: { objects: specs[i].objects, relations: specs[i].relations } }));
    log(`[${run.name}] held-out: drawing ${scenes} ${split} scene captions (γ ${drawing.cfgScale}, ${drawing.steps} steps)`);
    const drawn = await drawPrompts(withVokens, held.map((h) => h.caption), { ...d, onImage: progress });
    before += scenes;
    out.scenes = { split, items: scenes, ...(await sceneScores(t.clip, t.checker, drawn, held, z.samples)) };
    log(`[${run.name}] held-out scenes: CLIP-I ${mean(out.scenes.clipI).toFixed(3)}, CLIP-T ${mean(out.scenes.clipT).toFixed(3)}, objects in place ${mean(out.scenes.scene).toFixed(3)}, FID ${out.scenes.fid.toFixed(3)}`);
    if (run.arm === 'full' && sweepItems > 0 && z.sweepScales.length > 0) {
      const first = held.slice(0, sweepItems);
      const r4 = (xs: Float32Array) => [...xs].map((x) => Number(x.toFixed(4)));
      out.cfgSweep = [];
      for (const scale of [...z.sweepScales].sort((a, b) => a - b)) {
        let imgs = drawn.slice(0, sweepItems);
        if (scale !== drawing.cfgScale) {
          imgs = await drawPrompts(withVokens, first.map((h) => h.caption), { ...d, cfgScale: scale, onImage: progress });
          before += sweepItems;
        }
        out.cfgSweep.push({ scale, items: sweepItems, clipI: r4(t.clip.clipI(imgs, first.map((h) => h.image)).scores), clipT: r4(t.clip.clipT(imgs, first.map((h) => h.caption)).scores) });
      }
    }
  }

  if (run.stage === 2 && withVokens) {
    const specs = t.store.stories(split);
    const items = Object.fromEntries(CONTEXTS.map((c) => [c, coded(lastFrameItems(t.store, { split, context: c, count: stories }), t.encode)])) as Record<Context, VokenItem[]>;
    const held: HeldStory[] = range(stories).map((i) => {
      const last = specs[i].frames.length - 1;
      return { items: Object.fromEntries(CONTEXTS.map((c) => [c, items[c][i]])) as Record<Context, VokenItem>, narration: specs[i].frames[last].narration, image: t.store.storyFrameImage(split, i, last) };
    });
    log(`[${run.name}] held-out: the last frame of ${stories} ${split} stories under ${CONTEXTS.length} contexts, MiniGPT-5 and two-stage`);
    out.contexts = { split, items: stories, ...(await contextScores(withVokens, t.clip, held, { ...d, samples: z.samples, onImage: progress })) };
    log(`[${run.name}] held-out CLIP-I of the last frame: ${CONTEXTS.map((c) => `${c} ${mean(out.contexts!.minigpt5[c]).toFixed(3)} (two-stage ${mean(out.contexts!.twoStage[c]).toFixed(3)})`).join(', ')}`);
  }

  if (run.stage === 2) {
    const items = lastFrames(t, split, z.narration);
    const r = narrationNll(p.session, items);
    out.narration = { split, items: items.length, nll: r.nll.map((x) => Number(x.toFixed(4))), tokens: r.tokens };
    log(`[${run.name}] held-out narration NLL ${mean(r.nll).toFixed(4)} nats per token (${items.length} stories)`);
  }

  if (withVokens && z.routingRows > 0) {
    const rows = lastFrames(t, split, z.routingRows);
    out.routing = { split, rows: rows.length, ...routingCounts(p.session, rows) };
  }
  out.wallTimeS = Number(((Date.now() - t0) / 1000).toFixed(1));
  out.date = new Date().toISOString();
  return checkShape(EVAL_RECORD, JSON.parse(JSON.stringify(out)), `${run.name} eval`);
}
