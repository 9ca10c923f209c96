/**
 * Watching a diffusion sample form, in one output area: after each denoiser step the current x̂_0,
 * decoded to pixels, replaces the previous frame, with the step and timestep above it. Redraws are
 * throttled like liveDecode's (at most one per `throttleMs`, x̂_0 decoded only for frames drawn) and the
 * final image is always drawn, so it is what the saved notebook keeps. Without a notebook it prints one
 * line per drawn frame.
 *
 *   const r = await liveDiffusion(ldm, { cond: 'a cat to the left of a tree', cfgScale: 4, seed: 1 });
 *   r.images[0]    // the final image;  r.frames: frames drawn
 */
import type { LatentDiffusion, SampleOptions, SampleResult } from '../diffusion/model';
import type { DiffusionStep } from '../diffusion/sample';
import { DisplayTarget, resolveDisplay } from './env';
import { pngDataUri, escapeHtml } from './html';
import { imageGridPng } from './image';

export interface LiveDiffusionOptions extends SampleOptions {
  /** Minimum time between two redraws (default 100 ms). The final frame is always drawn. */
  throttleMs?: number;
  /** Pixel enlargement of the 32×32 images (default 6). */
  scale?: number;
  /** Captions drawn under the images (default: the captions when `cond` is text). */
  captions?: string[];
  display?: DisplayTarget;
}

export interface LiveDiffusionResult extends SampleResult {
  /** Frames sent to the display (the final one included). */
  frames: number;
}

export async function liveDiffusion(model: Pick<LatentDiffusion, 'sample'>, opts: LiveDiffusionOptions): Promise<LiveDiffusionResult> {
  const { throttleMs = 100, scale = 6, captions, display, onStep, ...sampleOpts } = opts;
  if (!(throttleMs >= 0)) throw new Error(`throttleMs must be a number ≥ 0, got ${throttleMs}`);
  if (!(Number.isInteger(scale) && scale >= 1)) throw new Error(`scale must be a positive integer, got ${scale}`);
  const caps = captions ?? (typeof sampleOpts.cond === 'string' ? [sampleOpts.cond] : Array.isArray(sampleOpts.cond) ? [...(sampleOpts.cond as string[])] : undefined);
  const target = resolveDisplay(display);
  const area = target.area();
  let frames = 0;
  let last = -Infinity;
  const draw = async (images: DiffusionStep['images'], head: string): Promise<void> => {
    frames++;
    last = Date.now();
    if (!target.rich) {
      area.update({ text: head });
      return;
    }
    const gridCaps = caps && caps.length === images.length ? caps : undefined;
    const png = await imageGridPng(images, { scale, captions: gridCaps, captionHeight: gridCaps ? 16 : undefined, captionLines: 2 });
    area.update({ html: `<div style="font-family:sans-serif;font-size:12px">${escapeHtml(head)}</div><img src="${pngDataUri(png)}" style="image-rendering:pixelated"/>`, text: head });
  };
  const result = await model.sample({
    ...sampleOpts,
    onStep: async (e) => {
      await onStep?.(e);
      if (e.step === e.totalSteps || Date.now() - last < throttleMs) return; // the final frame is drawn from the result below
      await draw(e.images, `step ${e.step}/${e.totalSteps} · t = ${e.t} · x̂₀ so far · ${(e.elapsedMs / 1000).toFixed(1)} s`);
    },
  });
  const head = result.stopped === 'aborted'
    ? `stopped after ${result.stepsRun}/${result.timesteps.length} steps (x̂₀ at that step) · ${(result.elapsedMs / 1000).toFixed(1)} s`
    : `done: ${result.stepsRun} steps · ${(result.elapsedMs / 1000).toFixed(1)} s`;
  await draw(result.images, head);
  return { ...result, frames };
}
