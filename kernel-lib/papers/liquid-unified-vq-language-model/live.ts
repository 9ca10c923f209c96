/**
 * What notebook 03 measures live on the runs' checkpoints (the sweeps themselves come from the runs'
 * evaluation files, results.ts):
 *
 *   readFinished     the finished runs of a runs folder read back (metrics + evaluation files) and the text
 *                    checkpoints' records, as the results builder takes them
 *   liveCheckpoints  the final checkpoint of each size's mixed run (seed 0) that is there, smallest size first
 *   vocabularyView   Liquid's one vocabulary: a word and an image code side by side through the same embedding
 *                    matrix and the same head, and the one softmax over both after a caption + <boi> and after
 *                    an image + "The caption of this image is:"
 *   routingBySize    text-vs-image routing exclusivity per layer of each size on the same held-out rows
 *   samplesGrid      the results' drawn samples (sizes × steps) as code grids, in display order
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Session } from '../../session';
import type { ImageCodes, Modality } from '../../tokenizer';
import { CAPTION_PROMPT } from '../../data/liquid-pools';
import { exclusivityByDepth } from '../../analysis/routing-by-modality';
import { SIZE_PRESETS, SizePresetName } from '../../model/config';
import { liquidPlan, LiquidPlan, SHIPPED_TEXT } from './plan';
import { checkpointName, readRun, readRunMetrics } from './run-metrics';
import type { RunRecord } from './numbers';
import { Measurements, readTextRecord, Results } from './results';
import type { RunPlace } from './run-places';
import { textDirIn } from './tools';
import { liveRuns } from './shipped';

/** The finished continuation runs among `places`, read back, and every size's text record that is there. */
export function readFinished(runsDir: string, places: readonly RunPlace[]): { runs: RunRecord[]; text: Measurements['text'] } {
  const runs = places.filter((p) => p.kind === 'continue' && p.state === 'finished').map((p) => readRun(p.dir));
  const text = SIZE_PRESETS.flatMap((size) => {
    const dir = textDirIn(runsDir, size);
    const finished = SHIPPED_TEXT[size] !== undefined || places.some((p) => p.kind === 'pretrain' && p.size === size && p.state === 'finished');
    return finished && fs.existsSync(path.join(dir, 'metrics.json')) ? [readTextRecord(size, dir)] : [];
  });
  return { runs, text };
}

/** A live checkpoint: the final weights of a size's mixed run. */
export interface LiveCheckpoint {
  size: SizePresetName;
  run: string;
  step: number;
  dir: string;
  nonEmbedding: number;
}

/** The live checkpoints among the finished `places` (shipped.ts liveRuns), smallest size first. */
export function liveCheckpoints(places: readonly RunPlace[], plan: LiquidPlan = liquidPlan()): LiveCheckpoint[] {
  const live = new Set(liveRuns(plan));
  return places
    .filter((p) => p.state === 'finished' && live.has(p.name))
    .map((p) => {
      const m = readRunMetrics(p.dir);
      return { size: p.size, run: p.name, step: m.steps, dir: path.join(p.dir, checkpointName(m.steps)), nonEmbedding: m.params.nonEmbedding };
    })
    .filter((c) => fs.existsSync(path.join(c.dir, 'config.json')))
    .sort((a, b) => a.nonEmbedding - b.nonEmbedding);
}

/** One token of the unified vocabulary as the model holds it. */
export interface VocabularyToken {
  piece: string;
  id: number;
  modality: Modality;
  /** Row `id` of the embedding matrix: its L2 norm and its first dimensions. */
  embeddingNorm: number;
  embedding: number[];
  /** Column `id` of the LM head (the embedding row again when the head is tied): its L2 norm. */
  headNorm: number;
}

/** The next-token distribution after one context: its mass by modality and its likeliest tokens. */
export interface NextTokens {
  context: string;
  mass: Record<Modality, number>;
  top: Array<{ piece: string; id: number; modality: Modality; p: number }>;
}

export interface VocabularyView {
  vocabSize: number;
  /** Ids by modality in the vocabulary. */
  counts: Record<Modality, number>;
  tokens: [VocabularyToken, VocabularyToken];
  /** Cosine of the two embedding rows. */
  cosine: number;
  next: NextTokens[];
}

const norm = (xs: ArrayLike<number>) => Math.sqrt(Array.from(xs).reduce((s, x) => s + x * x, 0));

/**
 * A word (its first BPE token) and image code `code` side by side (see the file comment); `caption` and
 * `image` make the two contexts whose next-token distributions are shown; `dims` embedding dimensions are kept.
 */
export function vocabularyView(s: Session, o: { word: string; code: number; caption: string; image: ImageCodes; top?: number; dims?: number }): VocabularyView {
  const tok = s.tokenizer;
  if (!tok.hasImages) throw new Error('liquid.vocabularyView: the session has no image vocabulary');
  if (!Number.isInteger(o.code) || o.code < 0 || o.code >= tok.numImageCodes) throw new Error(`liquid.vocabularyView: code must be an integer in [0, ${tok.numImageCodes}), got ${o.code}`);
  const wordIds = tok.encodePrompt([{ text: o.word }], { addBos: false }).ids;
  if (wordIds.length === 0) throw new Error('liquid.vocabularyView: word is empty');
  const H = s.config.hiddenSize;
  const V = s.config.vocabSize;
  const host = s.model.toHost();
  const embed = (host.get('embed') as { data: Float32Array }).data; // [V, H]
  const head = host.get('lm_head')?.data ?? null; // [H, V] (absent when tied)
  const dims = o.dims ?? 8;
  const token = (id: number): VocabularyToken => {
    const row = embed.subarray(id * H, (id + 1) * H);
    const col = head ? Float32Array.from({ length: H }, (_, h) => head[h * V + id]) : row;
    return { piece: tok.pieceOf(id), id, modality: tok.modalityOf(id), embeddingNorm: norm(row), embedding: Array.from(row.subarray(0, dims)), headNorm: norm(col) };
  };
  const a = wordIds[0];
  const b = tok.imageCodeId(o.code);
  const ra = embed.subarray(a * H, (a + 1) * H);
  const rb = embed.subarray(b * H, (b + 1) * H);
  const cosine = ra.reduce((acc, x, h) => acc + x * rb[h], 0) / (norm(ra) * norm(rb));
  const counts: Record<Modality, number> = { text: 0, image: 0, special: 0 };
  for (let id = 0; id < V; id++) counts[tok.modalityOf(id)]++;
  const contexts: Array<[string, number[]]> = [
    [`“${o.caption}” <boi>`, [...tok.encodePrompt([{ text: o.caption }]).ids, tok.boi]],
    [`<boi> 64 codes <eoi> “${CAPTION_PROMPT.trim()}”`, tok.encodePrompt([{ image: o.image }, { text: CAPTION_PROMPT }]).ids],
  ];
  const next = contexts.map(([context, ids]) => nextTokens(s, context, ids, o.top ?? 5));
  return { vocabSize: V, counts, tokens: [token(a), token(b)], cosine, next };
}

/** The softmax over the whole vocabulary after `ids` (one forward). */
function nextTokens(s: Session, context: string, ids: number[], top: number): NextTokens {
  const tok = s.tokenizer;
  const logits = s.model.forwardRows([ids], [ids.length - 1]).logits; // [V] at the last position: the head on that row only
  const V = logits.length;
  const max = logits.reduce((m, x) => Math.max(m, x), -Infinity);
  const e = Float64Array.from(logits, (x) => Math.exp(x - max));
  const z = e.reduce((acc, x) => acc + x, 0);
  const mass: Record<Modality, number> = { text: 0, image: 0, special: 0 };
  e.forEach((x, id) => (mass[tok.modalityOf(id)] += x / z));
  const order = Array.from({ length: V }, (_, id) => id).sort((x, y) => e[y] - e[x]).slice(0, top);
  return { context, mass, top: order.map((id) => ({ piece: tok.pieceOf(id), id, modality: tok.modalityOf(id), p: e[id] / z })) };
}

/**
 * Exclusivity of text vs image routing per layer (JSD, bits) of each model on the same rows (ids). It yields to
 * the event loop after each row, so a notebook's progress bar redraws as it goes and shows its final state before
 * the cell ends (a synchronous loop would leave the bar at its first state in the saved notebook).
 */
export async function routingBySize(models: ReadonlyArray<{ size: string; session: Session }>, rows: readonly number[][], o: { onProgress?: (done: number, total: number) => void } = {}): Promise<Array<{ model: string; exclusivity: Array<number | null> }>> {
  if (rows.length === 0) throw new Error('liquid.routingBySize: no rows');
  let done = 0;
  const out: Array<{ model: string; exclusivity: Array<number | null> }> = [];
  for (const { size, session } of models) {
    const traces = [];
    for (const ids of rows) {
      traces.push(session.trace({ ids }));
      o.onProgress?.(++done, models.length * rows.length);
      await new Promise<void>((r) => setImmediate(r));
    }
    out.push({ model: size, exclusivity: exclusivityByDepth(traces) });
  }
  return out;
}

/**
 * The samples grid: one row per size (the ladder's order, smallest first) and sample, one column per checkpoint
 * step; each label names its size, step and caption (two lines: "moe-h64, step 19" over "caption 1").
 */
export function samplesGrid(r: Pick<Results, 'samples'>, o: { perStep?: number } = {}): { codes: ImageCodes[]; labels: string[]; captions: string[]; columns: number } {
  if (r.samples.length === 0) throw new Error('liquid.samplesGrid: the results have no drawn samples');
  const sizes = [...new Set(r.samples.map((x) => x.size))].sort((a, b) => SIZE_PRESETS.indexOf(a) - SIZE_PRESETS.indexOf(b));
  const steps = [...new Set(r.samples.map((x) => x.step))].sort((a, b) => a - b);
  const k = Math.min(o.perStep ?? 2, ...r.samples.map((x) => x.codes.length));
  const codes: ImageCodes[] = [];
  const labels: string[] = [];
  for (const size of sizes) {
    for (let i = 0; i < k; i++) {
      for (const step of steps) {
        const sm = r.samples.find((x) => x.size === size && x.step === step);
        const c = sm?.codes[i] ?? [];
        const side = Math.round(Math.sqrt(c.length));
        if (!sm || side * side !== c.length) throw new Error(`liquid.samplesGrid: ${size} has no square sample ${i} at step ${step}`);
        codes.push({ height: side, width: side, codes: c });
        labels.push(`${size}, step ${step}\ncaption ${i + 1}`);
      }
    }
  }
  const first = r.samples.find((x) => x.size === sizes[0]) as Results['samples'][number];
  return { codes, labels, captions: first.captions.slice(0, k), columns: steps.length };
}
