/**
 * Notebook 05's live pieces (tensor work stays here: tslab hides a cell's errors):
 *
 *   outlinedScene    a scene with its objects' boxes outlined (Fig. 3: where the crops are cut)
 *   promptCrops      a prompt's crops, area-resized to one side (as the VQ-VAE codes them), for showing
 *   promptTokens     the interleaved prompt as the LM reads it at a tokens-per-crop setting, one row per token;
 *   layoutLine       … and as one line, each crop's run of codes or slots collapsed
 *   promptTrace      the frozen LM's routing of a prompt with every crop as its 64 codes (the heatmap)
 *   liveDraw         one prompt drawn by a trained run, the image forming step by step (x̂₀ at each DDIM step)
 *   drawByRuns       the same prompts drawn by several trained runs (the tokens-per-crop and harmonisation grids)
 *   userPrompt       a prompt of the user's own words and crops (emoji by name, or any image), coded
 *   liveRuns         the live runs (LIVE_RUNS) among the places whose weights are there
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { RGBImage } from '../../image/types';
import type { Box } from '../../data/layout';
import type { DataStore } from '../../data/store';
import type { Session, RoutingTrace } from '../../session';
import type { MultimodalTokenizer } from '../../tokenizer';
import { liveDiffusion, LiveDiffusionResult } from '../../display/live-diffusion';
import type { DisplayTarget } from '../../display/env';
import { resizeArea } from '../../image/rgb';
import type { Example } from '../../data/example-list';
import type { MumuMeta } from '../../data/mumu-prompts';
import { DRAW, DrawSettings } from './heldout';
import { conditionItems, DrawParts, drawItems } from './evaluate';
import { loadMumu } from './shipped';
import { CropEncoder, MumuItem, promptRow } from './items';
import { readRunMetrics } from './run-metrics';
import type { RunPlace } from './run-places';
import { LIVE_RUNS } from './ship';

/** Outline colours of the boxes, in crop order. */
export const BOX_COLORS: ReadonlyArray<readonly [number, number, number]> = [[230, 25, 75], [0, 130, 200], [60, 180, 75], [245, 130, 48]];

/** A copy of `image` with each box outlined (one pixel, colour k for box k). */
export function outlinedScene(image: RGBImage, boxes: readonly Box[]): RGBImage {
  const out: RGBImage = { ...image, pixels: image.pixels.slice() };
  const set = (x: number, y: number, c: readonly number[]) => {
    if (x < 0 || y < 0 || x >= image.width || y >= image.height) return;
    out.pixels.set(c, (y * image.width + x) * 3);
  };
  boxes.forEach((b, k) => {
    const c = BOX_COLORS[k % BOX_COLORS.length];
    for (let x = b.x; x < b.x + b.w; x++) (set(x, b.y, c), set(x, b.y + b.h - 1, c));
    for (let y = b.y; y < b.y + b.h; y++) (set(b.x, y, c), set(b.x + b.w - 1, y, c));
  });
  return out;
}

/** A prompt's crops in crop order, each area-resized to side × side (32: what the VQ-VAE codes). */
export function promptCrops(ex: Example<MumuMeta>, side = 32): RGBImage[] {
  return ex.meta.crops.map((c) => {
    const p = ex.parts[c.part];
    if (!p || !('image' in p)) throw new Error(`mumu.promptCrops: ${ex.id}: crop of object ${c.object} points at part ${c.part}, which is not an image`);
    return p.image.height === side && p.image.width === side ? p.image : resizeArea(p.image, side, side);
  });
}

/** One token of a prompt as the LM reads it. */
export interface PromptToken {
  position: number;
  piece: string;
  kind: 'text' | 'special' | 'crop code' | 'pooled slot';
  /** Which crop (0-based) a code or slot belongs to; null for text and specials. */
  crop: number | null;
}

/** The prompt's tokens at `tokensPerCrop` (all codes: the tokenizer's layout; fewer: <img> slots the pooling fills). */
export function promptTokens(tok: MultimodalTokenizer, item: MumuItem, tokensPerCrop: number): PromptToken[] {
  const row = promptRow(tok, item.prompt, tokensPerCrop);
  let crop = -1;
  return row.ids.map((id, position) => {
    if (id === tok.boi) crop++;
    const m = tok.modalityOf(id);
    const kind: PromptToken['kind'] = m === 'image' ? 'crop code' : id === tok.img ? 'pooled slot' : m === 'text' ? 'text' : 'special';
    return { position, piece: tok.pieceOf(id), kind, crop: kind === 'crop code' || kind === 'pooled slot' ? crop : null };
  });
}

/** The tokens as one line: words as they are, each crop's codes or slots as "[crop k: N codes]" / "[crop k: N pooled]". */
export function layoutLine(tokens: readonly PromptToken[]): string {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.crop === null) {
      out.push(t.kind === 'special' ? ` ${t.piece} ` : t.piece);
      continue;
    }
    let n = 0;
    while (i + n < tokens.length && tokens[i + n].crop === t.crop && tokens[i + n].kind === t.kind) n++;
    out.push(`[crop ${t.crop + 1}: ${n} ${t.kind === 'crop code' ? 'codes' : 'pooled'}]`);
    i += n - 1;
  }
  return out.join('').replace(/\s+/g, ' ').trim();
}

/** The LM's routing of a prompt with every crop as all its codes (what the 64-token arms read). */
export function promptTrace(session: Session, item: MumuItem): RoutingTrace {
  const { height, width } = session.tokenizer.imageGrid;
  return session.trace({ ids: promptRow(session.tokenizer, item.prompt, height * width).ids });
}

/** One prompt drawn by a trained run, live: x̂₀ after each DDIM step replaces the last (display/live-diffusion.ts). */
export async function liveDraw(run: DrawParts, item: MumuItem, o: Partial<DrawSettings> & { display?: DisplayTarget; caption?: string } = {}): Promise<LiveDiffusionResult> {
  const cond = conditionItems(run, [item]);
  try {
    return await liveDiffusion(run.ldm, { cond, cfgScale: o.cfgScale ?? DRAW.cfgScale, steps: o.steps ?? DRAW.steps, seed: o.seed ?? DRAW.seed, captions: [o.caption ?? item.caption], display: o.display });
  } finally {
    tf.dispose([cond.seq, cond.mask]);
  }
}

/**
 * The same items drawn by each run (its output directory; loaded onto the decoder in turn and freed), item i
 * from the noise of seed + i for every run, so columns differ only by the run. Returns the images per run;
 * `onProgress(runsDone, runs)` after each run (a notebook's progress bar).
 */
export async function drawByRuns(dirs: readonly string[], items: readonly MumuItem[], o: { baseDir: string; ldmDir: string; onProgress?: (done: number, total: number) => void } & Partial<DrawSettings>): Promise<RGBImage[][]> {
  const out: RGBImage[][] = [];
  for (const dir of dirs) {
    const run = await loadMumu(dir, { baseDir: o.baseDir, ldmDir: o.ldmDir });
    try {
      out.push(await drawItems(run, items, { cfgScale: o.cfgScale ?? DRAW.cfgScale, steps: o.steps ?? DRAW.steps, seed: o.seed ?? DRAW.seed }));
    } finally {
      run.dispose();
    }
    o.onProgress?.(out.length, dirs.length);
    await new Promise<void>((r) => setImmediate(r)); // the bar's redraw goes out before the next run's work
  }
  return out;
}

/** A part of a user's prompt: words, an emoji of the data set by name ("tiger face"), or any image (a crop). */
export type UserPart = string | { emoji: string } | { image: RGBImage };

/** The user's prompt coded as held-out items are (`encode`: vqCropEncoder); its target is a blank 32×32 canvas. */
export function userPrompt(store: DataStore, parts: readonly UserPart[], encode: CropEncoder): MumuItem & { crops: RGBImage[] } {
  if (parts.length === 0) throw new Error('mumu.userPrompt: give at least one part');
  const crops: RGBImage[] = [];
  const shape: Array<{ text: string } | { crop: number }> = parts.map((p, i) => {
    if (typeof p === 'string') return { text: p };
    if ('emoji' in p) {
      const e = store.emoji.find((x) => x.name === p.emoji);
      if (!e) throw new Error(`mumu.userPrompt: part ${i}: no emoji is named '${p.emoji}' (names as in store.emoji, e.g. '${store.emoji[0].name}')`);
      crops.push(store.emojiImage(e.index));
    } else if ('image' in p) crops.push(p.image);
    else throw new Error(`mumu.userPrompt: part ${i} must be words, {emoji: name} or {image}`);
    return { crop: crops.length - 1 };
  });
  const codes = crops.length > 0 ? encode(crops) : [];
  const prompt = shape.map((s) => ('text' in s ? { text: s.text } : { image: codes[s.crop] }));
  const caption = shape.map((s) => ('text' in s ? s.text : '')).join('');
  return { id: 'user', prompt, caption, target: { height: 32, width: 32, pixels: new Uint8Array(32 * 32 * 3).fill(255) }, crops };
}

/** The live runs among `places` that are finished and have their weights (in LIVE_RUNS order). */
export function liveRuns(places: readonly RunPlace[]): RunPlace[] {
  return LIVE_RUNS.flatMap((name) => {
    const p = places.find((x) => x.name === name && x.state === 'finished');
    if (!p) return [];
    const m = readRunMetrics(p.dir);
    const dirs = [m.files.connector, m.files.decoderLoRA].filter((x): x is string => typeof x === 'string');
    return dirs.length > 0 && dirs.every((d) => fs.existsSync(path.join(p.dir, d))) ? [p] : [];
  });
}
