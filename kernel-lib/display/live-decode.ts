/**
 * Live decoding in a cell: `await liveDecode(session, prompt, opts)` step-decodes and redraws one output
 * area (LiveView) as tokens arrive. Redraws are throttled — at most one per `throttleMs`, with a trailing
 * redraw so a slow step never leaves a stale frame — and the final frame is always drawn, so it is what
 * the saved notebook keeps. Without a notebook it prints a summary at the end.
 *
 *   const live = await liveDecode(session, 'an emoji of a tiger', { startImage: true, temperature: 1 });
 *   live.images[0].codes   // the generated image codes
 */
import { resolveMaxNewTokens } from '../session';
import type { Session, SessionGenerateOptions } from '../session';
import type { Step, StopReason } from '../decode/generate';
import type { Prompt } from '../tokenizer';
import { DisplayArea, DisplayTarget, resolveDisplay } from './env';
import { LiveImage, LiveView } from './live-view';
import { CodePaletteRenderer } from './patch-renderer';
import type { PatchRenderer } from '../image/types';

export interface LiveDecodeOptions extends SessionGenerateOptions {
  /** Minimum time between two redraws (default 100 ms). The final frame is always drawn. */
  throttleMs?: number;
  /** Pixels for image codes (default CodePaletteRenderer: a colour per code, 4×4 px patches). */
  renderer?: PatchRenderer;
  /** Tokens shown in the sequence heatmap, the most recent ones (default 64). */
  maxHeatmapTokens?: number;
  /** Where to draw (default: the notebook inside tslab, else stdout). */
  display?: DisplayTarget;
}

export interface LiveDecodeResult {
  steps: Step[];
  stopReason: StopReason | null;
  /** The generated text tokens, decoded (special tokens and image codes left out). */
  text: string;
  /** Images generated, in order; codes are −1 where the decode stopped before them. */
  images: LiveImage[];
  /** Frames sent to the display (the final one included). */
  updates: number;
  elapsedMs: number;
}

/** What liveDecode needs of a Session (tests can wrap a real one). */
export type LiveDecodeSession = Pick<Session, 'tokenizer' | 'config' | 'encode'> & {
  generate(prompt: Prompt, opts: SessionGenerateOptions): AsyncIterable<Step> & { stopReason: StopReason | null };
};

export async function liveDecode(session: LiveDecodeSession, prompt: Prompt, opts: LiveDecodeOptions = {}): Promise<LiveDecodeResult> {
  const { throttleMs = 100, renderer = new CodePaletteRenderer(), maxHeatmapTokens = 64, display, ...genOpts } = opts;
  if (!(throttleMs >= 0)) throw new Error(`throttleMs must be a number ≥ 0, got ${throttleMs}`);
  if (!Number.isInteger(maxHeatmapTokens) || maxHeatmapTokens < 1) throw new Error(`maxHeatmapTokens must be a positive integer, got ${maxHeatmapTokens}`);
  const tok = session.tokenizer;
  // generate() checks the prompt and options before anything is drawn.
  const generation = session.generate(prompt, genOpts);
  const enc = session.encode(prompt);
  const promptIds = genOpts.startImage ? [...enc.ids, tok.boi] : enc.ids;
  const grid = typeof genOpts.imageGrammar === 'object' ? genOpts.imageGrammar : tok.hasImages ? tok.imageGrid : null;
  const view = new LiveView({
    numLayers: session.config.numLayers,
    numExperts: session.config.numExperts,
    topK: session.config.topK,
    grid,
    renderer,
    maxHeatmapTokens,
    maxNewTokens: resolveMaxNewTokens(tok, genOpts),
    prompt: promptIds.map((id) => ({ piece: tok.pieceOf(id), modality: tok.modalityOf(id) })),
    codeOf: (id) => tok.codeOf(id),
  });

  const target = resolveDisplay(display);
  const area: DisplayArea | null = target.rich ? target.area() : null;
  let updates = 0;
  let chain: Promise<void> = Promise.resolve();
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;
  // Frames are rendered in order (PNG encoding is async); a failed frame must not stop the decode.
  let frameError: unknown = null;
  const draw = (): Promise<void> => {
    last = Date.now();
    chain = chain.then(async () => {
      if (!area) return;
      const html = await view.html();
      area.update({ html, text: view.headline() });
      updates++;
    }).catch((e) => void (frameError ??= e));
    return chain;
  };

  let error: unknown = null;
  try {
    await draw(); // the prompt, at once
    for await (const step of generation) {
      view.add(step);
      const wait = last + throttleMs - Date.now();
      if (wait <= 0) {
        if (timer) clearTimeout(timer);
        timer = null;
        await draw();
      } else if (!timer) {
        timer = setTimeout(() => {
          timer = null;
          void draw();
        }, wait);
      }
    }
  } catch (e) {
    error = e;
  } finally {
    if (timer) clearTimeout(timer);
    timer = null;
  }
  await chain;
  view.finish(generation.stopReason, error);
  if (area) await draw();
  else target.show({ text: view.text() });
  if (error) throw error;
  if (frameError) throw frameError;

  const steps = view.steps;
  const textIds = steps.filter((s) => s.modality === 'text').map((s) => s.tokenId);
  const text = tok
    .decodeIds(textIds)
    .map((p) => ('text' in p ? p.text : ''))
    .join('');
  return { steps, stopReason: generation.stopReason, text, images: [...view.images.values()], updates, elapsedMs: view.elapsedMs };
}
