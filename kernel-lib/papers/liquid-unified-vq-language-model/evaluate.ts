/**
 * One Liquid checkpoint scored on the held-out material (heldout.ts), per item, so arms, sizes and seeds
 * pair item by item:
 *
 *   brown      per window: mean NLL of its next tokens (nats; its mean is the held-out log-perplexity), over
 *              the whole unified vocabulary and renormalised over the text model's ids (the probability given
 *              to image codes and <unconditional> left out)
 *   image      per caption → image row: mean NLL of its 64 image codes teacher-forced, their token accuracy
 *              (top logit = the code), and the NLL after the deranged caption (conditioning gap = shuffled − own)
 *   caption    per image → caption row: mean NLL of the caption's tokens
 *   questions  per question: 1 when the likeliest candidate is the answer (analysis/answer-ranking.ts)
 *   drawn      per scene caption: the image drawn with logit-level CFG (γ 7, the unconditional branch on
 *              <unconditional>, as Liquid samples), its codes, CLIP-T with its own and the deranged caption,
 *              and the share of the scene's objects the scene checker finds in their regions
 *   routing    exclusivity (JSD of text vs image tokens' expert use, bits) per layer over the routing rows
 *
 * A text-only model (no image rows trained) is scored on brown only ('text'); the checkpoints along a run
 * on brown, image and drawn ('curve': the scaling panels and the samples grid); the last on everything ('all').
 */
import type { Session } from '../../session';
import type { RGBImage } from '../../image/types';
import type { ImageCodes, MultimodalTokenizer } from '../../tokenizer';
import type { ClipModel } from '../../eval/clip';
import type { SceneChecker } from '../../eval/scene-checker';
import { clipTOwnVsShuffled } from '../../eval/own-vs-shuffled';
import { tokenScores } from '../../analysis/token-scores';
import { rankAnswers } from '../../analysis/answer-ranking';
import { exclusivityByDepth } from '../../analysis/routing-by-modality';
import { drawCodes } from '../../recipes/mm-moe-small';
import type { HeldOut } from './heldout';
import type { WeightedRow } from './batches';
import { EVAL } from './plan';

/** What the drawn side needs: the VQ decoder, and optionally CLIP and the scene checker. */
export interface DrawTools {
  decode: (codes: readonly ImageCodes[]) => RGBImage[];
  clip?: ClipModel;
  checker?: SceneChecker;
}

export interface CheckpointScores {
  brown: { nll: number[]; textNll: number[] };
  image?: { nll: number[]; accuracy: number[]; shuffledNll: number[] };
  caption?: { nll: number[] };
  questions?: { kinds: string[]; correct: number[] };
  drawn?: { captions: string[]; codes: number[][]; clipOwn: number[] | null; clipShuffled: number[] | null; objectsRight: number[] | null; msPerImage: number };
  routing?: { exclusivity: number[] };
}

export interface ScoreOptions {
  /** 'text': brown only (a text-only arm); 'curve': brown, image, drawn (a checkpoint along the run); 'all' (default). */
  measures?: 'text' | 'curve' | 'all';
  /** The guidance scale of the drawn images (default EVAL.cfgScale, Liquid's 7). */
  cfgScale?: number;
  /** Rows per forward (default 8). */
  batchSize?: number;
  log?: (s: string) => void;
}

/** The first id past the text model's vocabulary: <boi>, the image codes, <unconditional> … all come after it. */
export function textModelVocab(tok: MultimodalTokenizer): number {
  const added = [tok.boi, tok.eoi, tok.img, tok.imageCodeId(0), ...(tok.hasUnconditional ? [tok.unconditional] : [])];
  return Math.min(...added);
}

const mean = (xs: ArrayLike<number>): number => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;

/** The first position of a row with a weight (tokenScores's `from`: the head skips those before); ids.length − 1 for none. */
const firstWeighted = (row: WeightedRow): number => {
  const j = row.weights.findIndex((w) => w !== 0);
  return j < 0 ? row.ids.length - 1 : j;
};

/** Mean NLL and accuracy over a row's weighted targets (weights 1 mark the scored ones). */
function rowMeans(nll: Float32Array, correct: Uint8Array, row: WeightedRow): { nll: number; accuracy: number } {
  let s = 0;
  let c = 0;
  let n = 0;
  row.weights.forEach((w, j) => {
    if (w === 0) return;
    s += nll[j];
    c += correct[j];
    n++;
  });
  return { nll: n > 0 ? s / n : NaN, accuracy: n > 0 ? c / n : NaN };
}

/** Scores a session on the held-out material (see the file comment). */
export async function scoreCheckpoint(s: Session, held: HeldOut, tools: DrawTools | null, o: ScoreOptions = {}): Promise<CheckpointScores> {
  const bs = o.batchSize ?? 8;
  const tok = s.tokenizer;
  const limit = tok.hasImages ? textModelVocab(tok) : undefined;
  const brown = tokenScores(s, held.brown, { batchSize: bs, vocabLimit: limit, what: 'liquid.scoreCheckpoint' });
  const out: CheckpointScores = { brown: { nll: brown.map((r) => mean(r.nll)), textNll: brown.map((r) => mean(r.limitedNll ?? r.nll)) } };
  const measures = o.measures ?? 'all';
  if (measures === 'text') return out;
  if (!tok.hasImages) throw new Error('liquid.scoreCheckpoint: the session has no image vocabulary; score it with measures: text');
  // rowMeans reads the weighted positions only: the head skips the rows' positions before the first
  const own = tokenScores(s, held.t2i.own.map((r) => r.ids), { batchSize: bs, from: held.t2i.own.map(firstWeighted) });
  const shuffled = tokenScores(s, held.t2i.shuffled.map((r) => r.ids), { batchSize: bs, from: held.t2i.shuffled.map(firstWeighted) });
  const ownMeans = own.map((r, i) => rowMeans(r.nll, r.correct, held.t2i.own[i]));
  out.image = {
    nll: ownMeans.map((m) => m.nll),
    accuracy: ownMeans.map((m) => m.accuracy),
    shuffledNll: shuffled.map((r, i) => rowMeans(r.nll, r.correct, held.t2i.shuffled[i]).nll),
  };
  if (measures === 'all') {
    // caption NLL: the caption's text tokens (the row's weighted targets less <eos>)
    const capRows = held.i2t.rows.map((r) => ({ ids: r.ids, weights: r.weights.map((w, j) => (w && tok.modalityOf(r.ids[j + 1]) === 'text' ? 1 : 0)) }));
    const caps = tokenScores(s, capRows.map((r) => r.ids), { batchSize: bs, from: capRows.map(firstWeighted) });
    out.caption = { nll: caps.map((r, i) => rowMeans(r.nll, r.correct, capRows[i]).nll) };
    const ranked = rankAnswers(s, held.questions.items);
    out.questions = { kinds: ranked.map((r) => r.group), correct: ranked.map((r) => (r.correct ? 1 : 0)) };
    if (held.routing.length > 0) out.routing = { exclusivity: exclusivityByDepth(held.routing.map((ids) => s.trace({ ids }))) };
  }
  if (tools && held.drawn.length > 0) {
    const captions = held.drawn.map((d) => d.caption);
    const t0 = performance.now();
    const codes = await drawCodes(s, captions, { cfgScale: o.cfgScale ?? EVAL.cfgScale, cfgUnconditional: 'unconditional-token', firstSeed: 0 });
    const msPerImage = (performance.now() - t0) / captions.length;
    const images = tools.decode(codes);
    const clip = tools.clip && captions.length >= 2 ? clipTOwnVsShuffled(tools.clip, images, captions) : null;
    const objectsRight = tools.checker
      ? held.drawn.map((d, i) => {
          const c = (tools.checker as SceneChecker).check(images[i], { objects: d.scene.objects, relations: d.scene.relations });
          return c.objects > 0 ? c.positionsRight / c.objects : NaN;
        })
      : null;
    out.drawn = {
      captions,
      codes: codes.map((c) => c.codes),
      clipOwn: clip ? Array.from(clip.own.scores) : null,
      clipShuffled: clip ? Array.from(clip.shuffled.scores) : null,
      objectsRight,
      msPerImage,
    };
    o.log?.(`drew ${captions.length} images (${msPerImage.toFixed(0)} ms each)`);
  }
  return out;
}
