/**
 * One generation over the wire: resolve the prompt, run Session.generate with the request's sampling
 * parameters and an AbortSignal, and stream each Step as a JSON `step`, a binary routing frame and
 * (with a decoder) a binary RGB patch frame. Always ends with `done` once `started` was sent.
 */
import type { Generation, Step } from '../decode/generate';
import type { ImageCodes, PromptPart } from '../tokenizer';
import { routingFrame, patchFrame } from './frames';
import { ERR, GenerateMsg, ServerMessage, WireStopReason } from './protocol';
import type { RGBImage } from '../image/types';
import type { SessionEntry } from './types';

/** Where a generation's output goes (a websocket connection in the server, anything in tests). */
export interface Sink {
  sendJson(m: ServerMessage): void;
  sendBinary(b: Uint8Array): void;
  /** Bytes queued but not yet written to the socket. */
  buffered(): number;
  isOpen(): boolean;
}

/** Above this many queued bytes the generation waits for the socket: a slow browser cannot grow our heap. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;

export async function runGeneration(entry: SessionEntry, sink: Sink, msg: GenerateMsg, gen: number, signal: AbortSignal): Promise<void> {
  const { id, params } = msg;
  let g: Generation;
  try {
    const prompt: PromptPart[] = msg.prompt.map((p) => {
      if ('imageRef' in p) {
        const image = entry.images.get(p.imageRef);
        if (!image) throw new Error(ERR.unknownImage(p.imageRef));
        return { image };
      }
      return p;
    });
    const { paceMs: _pace, ...opts } = params;
    g = entry.session.generate(prompt, { ...opts, signal });
  } catch (e) {
    // Refused before any compute: one error with the request id and nothing else.
    sink.sendJson({ type: 'error', code: 'bad-request', id, message: errorText(e) });
    return;
  }
  const t0 = Date.now();
  sink.sendJson({ type: 'started', id, gen, promptTokens: g.promptIds.length });
  const cfg = entry.session.config;
  const tok = entry.session.tokenizer;
  const decode = entry.coder?.decode?.bind(entry.coder);
  let decodeOk = decode !== undefined;
  const grids = new Map<number, number[]>(); // image index → codes so far
  let steps = 0;
  let lastAt = 0;
  let stopReason: WireStopReason;
  try {
    for await (const step of g) {
      await waitFor(signal, sink, lastAt + (params.paceMs ?? 0));
      lastAt = Date.now();
      if (signal.aborted || !sink.isOpen()) break; // a Stop during the wait: this step is never sent
      steps++;
      const code = tok.hasImages ? tok.codeOf(step.tokenId) : -1;
      sink.sendJson(stepMessage(step, id, gen, code));
      const { probs, gates } = routingArrays(step, cfg.numLayers, cfg.numExperts);
      sink.sendBinary(routingFrame(gen, step.index, cfg.numLayers, cfg.numExperts, probs, gates));
      if (decode && decodeOk && step.grid && code >= 0) {
        const { height, width } = tok.imageGrid;
        const codes = grids.get(step.grid.image) ?? new Array<number>(height * width).fill(0);
        grids.set(step.grid.image, codes);
        codes[step.grid.row * width + step.grid.col] = code;
        try {
          const img = await decode({ height, width, codes: codes.slice() });
          const p = cropPatch(img, { height, width, codes }, step.grid.row, step.grid.col);
          sink.sendBinary(patchFrame(gen, step.index, step.grid.row, step.grid.col, p.height, p.width, p.pixels));
        } catch (e) {
          decodeOk = false; // the widget keeps colouring codes from its palette
          sink.sendJson({ type: 'error', code: 'decode-failed', id, message: `image decoder failed: ${errorText(e)}` });
        }
      }
    }
    stopReason = signal.aborted ? 'aborted' : (g.stopReason ?? 'aborted');
  } catch (e) {
    stopReason = 'error';
    sink.sendJson({ type: 'error', code: 'generate-failed', id, message: errorText(e) });
  }
  sink.sendJson({ type: 'done', id, gen, stopReason, steps, ms: Date.now() - t0 });
}

function stepMessage(step: Step, id: string, gen: number, code: number): ServerMessage {
  return {
    type: 'step',
    id,
    gen,
    index: step.index,
    position: step.position,
    tokenId: step.tokenId,
    piece: step.piece,
    modality: step.modality,
    logprob: step.logprob,
    top: step.top.map((t) => ({ piece: t.piece, prob: t.prob })),
    ...(code >= 0 ? { code } : {}),
    ...(step.grid ? { grid: step.grid } : {}),
    ...(step.forced ? { forced: true } : {}),
  };
}

/** Router probabilities and dense gate weights, both [L, E]. */
export function routingArrays(step: Step, L: number, E: number): { probs: Float32Array; gates: Float32Array } {
  const probs = new Float32Array(L * E); // [L, E]
  const gates = new Float32Array(L * E); // [L, E], 0 where not chosen
  for (const r of step.routing) {
    probs.set(r.probs.slice(0, E), r.layer * E);
    r.experts.forEach((e, j) => (gates[r.layer * E + e] = r.weights[j]));
  }
  return { probs, gates };
}

/** The pixels of grid cell (row, col). */
export function cropPatch(img: RGBImage, grid: ImageCodes, row: number, col: number): RGBImage {
  const ph = img.height / grid.height;
  const pw = img.width / grid.width;
  if (!Number.isInteger(ph) || !Number.isInteger(pw) || img.pixels.length !== img.height * img.width * 3) {
    throw new Error(`decoded image ${img.width}×${img.height} (${img.pixels.length} bytes) does not split into a ${grid.width}×${grid.height} grid of RGB patches`);
  }
  const pixels = new Uint8Array(ph * pw * 3); // [ph, pw, 3]
  for (let y = 0; y < ph; y++) {
    const src = ((row * ph + y) * img.width + col * pw) * 3;
    pixels.set(img.pixels.subarray(src, src + pw * 3), y * pw * 3);
  }
  return { height: ph, width: pw, pixels };
}

/** Waits until `until` (pacing) and until the socket has drained below the high-water mark; an abort ends the wait. */
async function waitFor(signal: AbortSignal, sink: Sink, until: number): Promise<void> {
  while (!signal.aborted && sink.isOpen() && (Date.now() < until || sink.buffered() > HIGH_WATER_BYTES)) {
    const ms = Math.max(1, Math.min(10, until - Date.now()));
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
