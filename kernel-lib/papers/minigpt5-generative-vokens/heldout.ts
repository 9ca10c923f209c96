/**
 * The held-out measurements of a trained stage, each per item (eval-file.ts gives what they record):
 *
 *   sceneScores    held-out scene captions → images through the vokens → CLIP-I (vs the true scene),
 *                  CLIP-T (vs the caption), objects in place (scene checker), FID of the set (Tables 5, 7)
 *   contextScores  the last frame of held-out stories under each context (Table 6): MiniGPT-5 draws it from
 *                  its voken states after the context and the narration; the two-stage baseline draws the
 *                  narration and what the LM writes after it through the decoder's own caption encoder
 *   routingCounts  top-k picks per layer and expert of voken, text and image-code tokens (beyond the paper)
 *
 * Image i of a set starts from the decoder noise of `seed + i` whatever the batching (diffusion/sample.ts),
 * so every arm and seed draws item i from the same noise.
 */
import type { Session } from '../../session';
import type { Prompt } from '../../tokenizer';
import type { RGBImage } from '../../image/types';
import type { ClipModel } from '../../eval/clip';
import type { SceneChecker, SceneClaim } from '../../eval/scene-checker';
import type { LatentDiffusion } from '../../diffusion/model';
import { clipFid } from '../../eval/fid';
import { rgbPng } from '../../image/png';
import { joinTextParts } from '../../tokenizer/prompt';
import { CONTEXTS, Context } from './claims';
import type { FeatureMapper } from './mapper';
import { drawFromVokens, twoStageCaption } from './generate';
import { vokenStates } from './evaluate';
import { vokenIds } from './vokens';
import type { VokenItem } from './items';
import { vokenRow } from './items';
import type { EvalRecord, RoutingCounts } from './eval-file';

/** How held-out images are drawn. */
export interface DrawSettings {
  cfgScale: number;
  steps: number;
  negative: 'zero-vokens' | 'null';
  /** Noise seed of item 0 (item i: seed + i). */
  seed: number;
  /** Images per sampling call (default 8). */
  batch?: number;
  onImage?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** One image per prompt, drawn from the prompt's voken states (vokens teacher-forced after it). */
export async function drawPrompts(p: { session: Session; mapper: FeatureMapper; ldm: LatentDiffusion }, prompts: readonly Prompt[], d: DrawSettings): Promise<RGBImage[]> {
  const batch = d.batch ?? 8;
  const per = p.mapper.config.numVokens * p.mapper.config.hiddenSize;
  const out: RGBImage[] = [];
  for (let k = 0; k < prompts.length; k += batch) {
    if (d.signal?.aborted) throw new Error('minigpt5: the held-out evaluation was stopped');
    const chunk = prompts.slice(k, k + batch);
    const states = vokenStates(p.session, chunk); // [chunk, n, H]
    const r = await drawFromVokens(p, states.subarray(0, chunk.length * per), { batch: chunk.length, cfgScale: d.cfgScale, steps: d.steps, negative: d.negative, seed: d.seed + k });
    out.push(...r.images);
    d.onImage?.(out.length, prompts.length);
  }
  return out;
}

/** Base64 PNG of a 32×32 image (kept in eval.json for the notebook). */
export async function pngBase64(img: RGBImage): Promise<string> {
  return (await rgbPng(img)).toString('base64');
}

const f4 = (x: number) => Number(x.toFixed(4));

/** Share of a scene's objects the checker finds in their regions. */
export function objectsInPlace(checker: SceneChecker, img: RGBImage, claim: SceneClaim): number {
  const c = checker.check(img, claim);
  return c.objects === 0 ? 0 : c.positionsRight / c.objects;
}

/** A held-out scene: its caption, true image and what the caption claims. */
export interface HeldScene {
  caption: string;
  image: RGBImage;
  claim: SceneClaim;
}

/** Tables 5 and 7's scores of drawn scenes against the true ones (see the file comment); `samples` images kept. */
export async function sceneScores(clip: ClipModel, checker: SceneChecker, drawn: readonly RGBImage[], held: readonly HeldScene[], samples: number): Promise<Omit<NonNullable<EvalRecord['scenes']>, 'split' | 'items'>> {
  if (drawn.length !== held.length) throw new Error(`minigpt5.sceneScores: ${drawn.length} images for ${held.length} scenes`);
  const truth = held.map((h) => h.image);
  return {
    clipI: [...clip.clipI(drawn, truth).scores].map(f4),
    clipT: [...clip.clipT(drawn, held.map((h) => h.caption)).scores].map(f4),
    scene: drawn.map((img, i) => f4(objectsInPlace(checker, img, held[i].claim))),
    fid: f4(clipFid(clip, drawn, truth).distance),
    samples: await Promise.all(drawn.slice(0, samples).map(async (img, i) => ({ item: i, caption: held[i].caption, png: await pngBase64(img) }))),
  };
}

/** A held-out story's last frame under each context: its items (task 'image'), and the true frame. */
export interface HeldStory {
  items: Record<Context, VokenItem>;
  /** The last frame's narration (what the two-stage caption starts with). */
  narration: string;
  image: RGBImage;
}

/**
 * Table 6 for one model: per context and story, CLIP-I of MiniGPT-5's last frame and of the two-stage
 * baseline's; the two-stage captions; the first `samples` stories' images.
 */
export async function contextScores(p: { session: Session; mapper: FeatureMapper; ldm: LatentDiffusion }, clip: ClipModel, stories: readonly HeldStory[], d: DrawSettings & { samples: number }): Promise<Omit<NonNullable<EvalRecord['contexts']>, 'split' | 'items'>> {
  const truth = stories.map((s) => s.image);
  const out = { minigpt5: {}, twoStage: {}, captions: {}, samples: [] } as unknown as Omit<NonNullable<EvalRecord['contexts']>, 'split' | 'items'>;
  const total = 2 * CONTEXTS.length * stories.length;
  let done = 0;
  for (const c of CONTEXTS) {
    const prompts = stories.map((s) => joinTextParts(s.items[c].prompt));
    const ours = await drawPrompts(p, prompts, { ...d, onImage: (k) => d.onImage?.(done + k, total) });
    done += stories.length;
    const captions: string[] = [];
    for (const [i, prompt] of prompts.entries()) {
      if (d.signal?.aborted) throw new Error('minigpt5: the held-out evaluation was stopped');
      const written = await twoStageCaption(p.session, prompt);
      captions.push(`${stories[i].narration} ${written}`.trim());
    }
    const theirs: RGBImage[] = [];
    for (let k = 0; k < captions.length; k += d.batch ?? 8) {
      const r = await p.ldm.sample({ cond: captions.slice(k, k + (d.batch ?? 8)), cfgScale: d.cfgScale, steps: d.steps, seed: d.seed + k });
      theirs.push(...r.images);
      d.onImage?.(done + theirs.length, total);
    }
    done += stories.length;
    out.minigpt5[c] = [...clip.clipI(ours, truth).scores].map(f4);
    out.twoStage[c] = [...clip.clipI(theirs, truth).scores].map(f4);
    out.captions[c] = captions;
    for (let i = 0; i < Math.min(d.samples, stories.length); i++) out.samples.push({ story: i, context: c, minigpt5: await pngBase64(ours[i]), twoStage: await pngBase64(theirs[i]) });
  }
  return out;
}

/** Top-k picks per layer and expert of voken, text and image-code tokens over the rows of `items` (one forward each). */
export function routingCounts(s: Session, items: readonly VokenItem[]): Omit<RoutingCounts, 'split' | 'rows'> {
  const tok = s.tokenizer;
  const { numLayers: L, numExperts: E, topK: k } = s.config;
  const vokens = new Set(vokenIds(tok));
  const zero = () => Array.from({ length: L }, () => new Array<number>(E).fill(0));
  const counts = { voken: zero(), text: zero(), image: zero() };
  const tokens = { voken: 0, text: 0, image: 0 };
  for (const it of items) {
    const ids = vokenRow(tok, it).ids;
    const r = s.model.forwardRows([ids], [], { capture: 'routing', positions: s.positions(ids) }); // routing only: no LM head
    ids.forEach((id, t) => {
      const m = tok.modalityOf(id);
      const group = vokens.has(id) ? 'voken' : m === 'text' || m === 'image' ? m : null;
      if (group === null) return; // <bos>, <eos>, <boi>, <eoi>: none of the three
      tokens[group]++;
      for (let l = 0; l < L; l++) for (let j = 0; j < k; j++) counts[group][l][r.routing[l].experts[t * k + j]]++;
    });
  }
  return { tokens, ...counts };
}
