/**
 * Notebook 04's live pieces. `liveInterleaved` watches an interleaved generation in one output area: the token
 * stream with each token's routing (the LiveView of liveDecode: text, then [IMG1] sampled and [IMG2]… forced),
 * and beside it the image forming as the decoder denoises from the vokens' states (x̂₀ after each step), then
 * the finished images. Redraws are throttled; the final frame is always drawn, so the saved notebook keeps it.
 * Without a notebook it prints the text and one line per image.
 *
 * `pngImage` turns an image kept in eval.json back into pixels; `storyStrip` lays out one held-out story from a
 * stage-2 run's eval.json (its true frames, then the last frame as MiniGPT-5 and the two-stage baseline drew it
 * under each context); `storyPrompt` is a held-out story's context, for generating its last frame live.
 */
import type { Prompt } from '../../tokenizer';
import type { RGBImage } from '../../image/types';
import type { Step, StopReason } from '../../decode/generate';
import { readPng } from '../../image/png';
import { resolveMaxNewTokens } from '../../session';
import { resolveDisplay, DisplayTarget } from '../../display/env';
import { LiveView } from '../../display/live-view';
import { CodePaletteRenderer } from '../../display/patch-renderer';
import { imageGridPng } from '../../display/image';
import { escapeHtml, pngDataUri } from '../../display/html';
import type { PromptPart } from '../../tokenizer';
import { joinTextParts } from '../../tokenizer/prompt';
import { storyItem } from '../../data/voken-stories';
import type { Split } from '../../data/emoji';
import type { DataStore } from '../../data/store';
import { generateInterleaved, InterleavedOptions, VokenParts } from './generate';
import { ImageEncoder, storyItems } from './items';
import { CONTEXTS } from './claims';
import type { EvalRecord } from './eval-file';

export interface LiveInterleavedOptions extends InterleavedOptions {
  /** Minimum time between two redraws (default 150 ms). */
  throttleMs?: number;
  /** Pixel enlargement of the 32×32 images (default 5). */
  scale?: number;
  display?: DisplayTarget;
}

export interface LiveInterleavedResult {
  steps: Step[];
  stopReason: StopReason | null;
  /** The text written (vokens and specials left out). */
  text: string;
  images: RGBImage[];
  /** Index in `steps` of each image's [IMG1]. */
  imageAt: number[];
  /** Frames sent to the display (the final one included). */
  frames: number;
}

/** Decodes and draws interleaved text and images live (see the file comment). */
export async function liveInterleaved(parts: VokenParts, prompt: Prompt, o: LiveInterleavedOptions = {}): Promise<LiveInterleavedResult> {
  const { throttleMs = 150, scale = 5, display, ...gen } = o;
  const s = parts.session;
  const tok = s.tokenizer;
  const enc = s.encode(prompt);
  const view = new LiveView({
    numLayers: s.config.numLayers,
    numExperts: s.config.numExperts,
    topK: s.config.topK,
    grid: tok.hasImages ? tok.imageGrid : null,
    renderer: new CodePaletteRenderer(),
    maxHeatmapTokens: 64,
    maxNewTokens: resolveMaxNewTokens(tok, gen),
    prompt: enc.ids.map((id) => ({ piece: tok.pieceOf(id), modality: tok.modalityOf(id) })),
    codeOf: (id) => tok.codeOf(id),
  });
  const target = resolveDisplay(display);
  const area = target.rich ? target.area() : null;
  const images: RGBImage[] = [];
  const imageAt: number[] = [];
  let forming: { images: RGBImage[]; head: string } | null = null;
  let frames = 0;
  let last = -Infinity;
  const draw = async (force = false): Promise<void> => {
    if (!area || (!force && Date.now() - last < throttleMs)) return;
    last = Date.now();
    const shown = [...images, ...(forming ? forming.images : [])];
    const caps = [...images.map((_, i) => `image ${i + 1}`), ...(forming ? ['forming'] : [])];
    const head = forming ? forming.head : images.length > 0 ? `${images.length} image${images.length === 1 ? '' : 's'} drawn from the vokens' states` : 'no image yet: the LM has not written [IMG1]';
    const pics = shown.length > 0 ? `<img src="${pngDataUri(await imageGridPng(shown, { scale, captions: caps, captionHeight: 14 }))}" style="image-rendering:pixelated"/>` : '';
    area.update({ html: `<div class="switchboard-interleaved" style="display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start"><div>${await view.html()}</div><div style="font-family:sans-serif;font-size:12px"><div style="font-weight:bold;margin-bottom:4px">${escapeHtml(head)}</div>${pics}</div></div>`, text: view.headline() });
    frames++;
  };
  const gen$ = generateInterleaved(parts, prompt, {
    ...gen,
    onDiffusionStep: async (e) => {
      await gen.onDiffusionStep?.(e);
      forming = { images: e.images.slice(0, 1), head: `image ${images.length + 1} forming: step ${e.step}/${e.totalSteps} (t = ${e.t}), x̂₀ so far` };
      await draw();
    },
  });
  let stop: StopReason | null = null;
  let error: unknown = null;
  try {
    for (;;) {
      const r = await gen$.next();
      if (r.done) {
        stop = r.value;
        break;
      }
      const e = r.value;
      if (e.kind === 'token') {
        view.add(e.step);
        if (e.step.tokenId === tok.vokenId(1)) imageAt.push(view.steps.length - 1);
      } else {
        images.push(e.image);
        forming = null;
      }
      await draw(e.kind === 'image');
    }
  } catch (err) {
    error = err;
  }
  view.finish(stop, error);
  forming = null;
  await draw(true);
  if (error) throw error;
  const text = tok.decodeIds(view.steps.filter((x) => x.modality === 'text').map((x) => x.tokenId)).map((p) => ('text' in p ? p.text : '')).join('');
  if (!area) target.show({ text: `${view.headline()}\nwritten: ${text}\n${images.length} image(s) drawn from vokens` });
  return { steps: view.steps, stopReason: stop, text, images, imageAt, frames };
}

/** An image kept in eval.json (base64 PNG) as RGB pixels. */
export function pngImage(base64: string, size = 32): Promise<RGBImage> {
  return readPng(Uint8Array.from(Buffer.from(base64, 'base64')), { size, resize: false });
}

type StoryStore = Pick<DataStore, 'stories' | 'storyFrameImage'>;

/**
 * Story `story` of `split` up to its last frame: the context (every earlier frame's narration and image, images
 * as codes: what the stage-2 model reads), the last frame's narration and true image.
 */
export function storyPrompt(store: StoryStore, encode: ImageEncoder, split: Split, story: number): { prompt: PromptPart[]; narration: string; truth: RGBImage; frames: number } {
  const frames = store.stories(split)[story].frames;
  const last = frames.length - 1;
  const item = storyItems({ size: 1, get: () => storyItem(store, split, story, last, 'text-image', 'image-text') }, encode).items([0])[0];
  return { prompt: joinTextParts(item.prompt), narration: frames[last].narration, truth: store.storyFrameImage(split, story, last), frames: frames.length };
}

/** Short names of the contexts for image captions. */
const CONTEXT_LABEL: Record<(typeof CONTEXTS)[number], string> = { none: 'none', text: 'text', image: 'image', 'image-text': 'image+text' };

/**
 * One held-out story of a stage-2 run's eval.json as a strip: its true frames (the last one marked), then the last
 * frame drawn by MiniGPT-5 (one row) and by the two-stage baseline (another) under each context, with the
 * narrations and the captions the baseline drew.
 */
export async function storyStrip(store: StoryStore, rec: EvalRecord, story: number): Promise<{ truth: RGBImage[]; truthCaptions: string[]; drawn: RGBImage[]; drawnCaptions: string[]; narrations: string[]; twoStageCaptions: Record<string, string> }> {
  const c = rec.contexts;
  if (!c) throw new Error(`minigpt5.storyStrip: ${rec.run} has no Table 6 scores (a stage-2 run with vokens has)`);
  const shown = c.samples.filter((x) => x.story === story);
  if (shown.length === 0) throw new Error(`minigpt5.storyStrip: ${rec.run} kept no images of story ${story} (it kept ${[...new Set(c.samples.map((x) => x.story))].join(', ')})`);
  const split = c.split as Split;
  const frames = store.stories(split)[story].frames;
  const drawn: RGBImage[] = [];
  const drawnCaptions: string[] = [];
  for (const model of ['minigpt5', 'twoStage'] as const) {
    for (const k of CONTEXTS) {
      const x = shown.find((s) => s.context === k);
      if (!x) continue;
      drawn.push(await pngImage(x[model]));
      drawnCaptions.push(`${model === 'minigpt5' ? 'vokens' : 'two-stage'}: ${CONTEXT_LABEL[k]}`);
    }
  }
  return {
    truth: frames.map((_, f) => store.storyFrameImage(split, story, f)),
    truthCaptions: frames.map((_, f) => (f === frames.length - 1 ? 'true last frame' : `frame ${f + 1}`)),
    drawn,
    drawnCaptions,
    narrations: frames.map((f) => f.narration),
    twoStageCaptions: Object.fromEntries(CONTEXTS.map((k) => [k, c.captions[k][story]])),
  };
}
