/**
 * Held-out evaluation of one trained arm, per item, so arms and seeds can be paired item by item:
 *
 *   imageNll  mean NLL (nats per code) of the target image's codes, teacher-forced after the prompt
 *             (and, for a story, after the target narration): Table 2's image side at workbench scale;
 *   textNll   mean NLL (nats per token) of the target's text tokens (a story's next narration; NaN for
 *             items whose target is an image alone: edits and continue-with-an-image).
 *
 * Only target tokens count (<boi>, <eoi> and <eos> are neither image nor text). The per-position NLL is the
 * generic teacher-forced score (analysis/token-scores.ts: batches padded at the end with <pad>, which causal
 * attention keeps out of every scored position; the log-softmax in-graph).
 *
 * `drawTargets` is the sampled side: the model draws each target image after the prompt (and the target's
 * text, teacher-forced), the VQ-VAE decodes it and the scene checker compares it with the ground truth:
 * the share of the target's objects found in their regions (object retention across story frames and edits)
 * and, for an edit, whether the edited object is where the instruction put it (edit accuracy).
 */
import type { Session } from '../../session';
import type { InstructionKind } from '../../data/instructions';
import type { ImageCodes } from '../../tokenizer';
import type { RGBImage, VQVAE } from '../../image';
import { centreIn, SceneChecker } from '../../eval/scene-checker';
import type { DataStore } from '../../data/store';
import { generators } from '../../data/build';
import { tokenScores } from '../../analysis/token-scores';
import { CodedItem, itemRow, joinText } from './items';

export interface ItemScores {
  ids: string[];
  kinds: InstructionKind[];
  /** Per item: mean NLL of its target image codes (nats per code). */
  imageNll: number[];
  imageTokens: number[];
  /** Per item: mean NLL of its target text tokens; NaN where the target has no text. */
  textNll: number[];
  textTokens: number[];
}

export interface ScoreOptions {
  /** Items per forward (default 4). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Teacher-forced NLL of every item's target image codes and target text (see the file comment). */
export function scoreItems(s: Session, items: readonly CodedItem[], o: ScoreOptions = {}): ItemScores {
  const tok = s.tokenizer;
  if (!tok.hasImages) throw new Error('moss.scoreItems: the session has no image vocabulary');
  const bs = o.batchSize ?? 4;
  if (!Number.isInteger(bs) || bs < 1) throw new Error(`moss.scoreItems: batchSize must be a positive integer, got ${JSON.stringify(o.batchSize)}`);
  const out: ItemScores = { ids: [], kinds: [], imageNll: [], imageTokens: [], textNll: [], textTokens: [] };
  const rows = items.map((it) => itemRow(tok, it));
  for (let b0 = 0; b0 < rows.length; b0 += bs) {
    const L = Math.max(...rows.slice(b0, b0 + bs).map((r) => r.ids.length));
    if (L - 1 > s.config.maxPositions) throw new Error(`moss.scoreItems: an item of ${L} tokens is longer than the model's context (${s.config.maxPositions})`);
  }
  // only the target's positions are read (j − 1 for j ≥ targetAt): the head skips the prompt's
  const scores = tokenScores(s, rows.map((r) => r.ids), { batchSize: bs, onProgress: o.onProgress, what: 'moss.scoreItems', from: rows.map((r) => r.targetAt - 1) });
  items.forEach((it, i) => {
    const { ids, targetAt } = rows[i];
    const nll = scores[i].nll;
    let img = 0;
    let nImg = 0;
    let txt = 0;
    let nTxt = 0;
    for (let j = targetAt; j < ids.length; j++) {
      const x = nll[j - 1]; // position j − 1 predicts ids[j]
      if (tok.isImageCode(ids[j])) (img += x), nImg++;
      else if (tok.modalityOf(ids[j]) === 'text') (txt += x), nTxt++;
    }
    out.ids.push(it.id);
    out.kinds.push(it.kind);
    out.imageNll.push(nImg > 0 ? img / nImg : NaN);
    out.imageTokens.push(nImg);
    out.textNll.push(nTxt > 0 ? txt / nTxt : NaN);
    out.textTokens.push(nTxt);
  });
  return out;
}

/** Mean of the finite entries (NaN when there are none). */
export function finiteMean(xs: readonly number[]): number {
  const f = xs.filter(Number.isFinite);
  return f.length === 0 ? NaN : f.reduce((a, b) => a + b, 0) / f.length;
}

export interface DrawnScores {
  ids: string[];
  kinds: InstructionKind[];
  /** Per item: share of the target's objects the checker finds in their regions. */
  objectsRight: number[];
  /** Per item: 1 when an edit's edited object is found in its region, 0 when not; NaN for other kinds. */
  editRight: number[];
  images: RGBImage[];
  /** Milliseconds per drawn image (the 64 codes, cached step decoding). */
  msPerImage: number;
}

export interface DrawOptions {
  /** Sampling temperature (default 1) and top-k (default 64), as mm-moe-small's evaluation draws. */
  temperature?: number;
  topK?: number;
  /** Item i is drawn with seed firstSeed + i (default 0). */
  firstSeed?: number;
  onImage?: (done: number, total: number) => void;
}

/**
 * A scene checker that knows every object an instruction target can show: the scenes' objects, the stories'
 * extra ones, and the single skin-tone variants a story turns a hand into ("The waving hand changes to dark
 * skin tone."), each a template of its own named with its tone, so a hand drawn in the wrong tone is not the
 * object asked for (SceneChecker.fromStore knows the scenes' objects only). Dispose it after use.
 */
export function instructionChecker(store: DataStore): SceneChecker {
  const { story } = generators(store.emoji); // the story generator's own vocabulary and tones
  const bases = new Set(story.vocab.map((e) => e.base));
  const plain = story.vocab.map((e) => ({ emoji: e.index, name: e.name, image: store.emojiImage(e.index) }));
  const toned = [...story.tones].filter(([base]) => bases.has(base)).flatMap(([, byTone]) =>
    [...byTone].map(([tone, index]) => ({ emoji: index, name: `${store.emoji[index].name} (${tone} skin tone)`, image: store.emojiImage(index) })),
  );
  return new SceneChecker([...plain, ...toned]);
}

/** The prompt parts the target image is drawn after: the prompt and the target's parts before its image. */
function drawPrompt(item: CodedItem): CodedItem['prompt'] {
  const k = item.target.findIndex((p) => 'image' in p);
  if (k < 0) throw new Error(`moss.drawTargets: item ${item.id} has no target image`);
  return joinText([...item.prompt, ...item.target.slice(0, k)]);
}

/** Draws each item's target image and checks it against the item's scene (items need `scene`). */
export async function drawTargets(s: Session, items: readonly CodedItem[], vq: VQVAE, checker: SceneChecker, o: DrawOptions = {}): Promise<DrawnScores> {
  const grid = s.tokenizer.imageGrid;
  const codes: ImageCodes[] = [];
  let ms = 0;
  for (const [i, it] of items.entries()) {
    if (!it.scene) throw new Error(`moss.drawTargets: item ${it.id} has no scene to check against`);
    const got: number[] = [];
    const t0 = performance.now();
    const opts = { startImage: true, maxNewTokens: grid.height * grid.width, temperature: o.temperature ?? 1, topK: o.topK ?? 64, seed: (o.firstSeed ?? 0) + i, capture: 'none' as const };
    for await (const st of s.generate(drawPrompt(it), opts)) if (st.modality === 'image') got.push(s.tokenizer.codeOf(st.tokenId));
    ms += performance.now() - t0;
    codes.push({ height: grid.height, width: grid.width, codes: got });
    o.onImage?.(i + 1, items.length);
  }
  const images = vq.decode(codes);
  const objectsRight: number[] = [];
  const editRight: number[] = [];
  items.forEach((it, i) => {
    const scene = it.scene as NonNullable<CodedItem['scene']>;
    const c = checker.check(images[i], { objects: scene.objects });
    objectsRight.push(c.objects > 0 ? c.positionsRight / c.objects : NaN);
    if (it.edit) {
      const want = scene.objects[it.edit.object];
      const m = c.matches[it.edit.object];
      editRight.push(m !== null && centreIn(m.box, want.region) ? 1 : 0);
    } else {
      editRight.push(NaN);
    }
  });
  return { ids: items.map((it) => it.id), kinds: items.map((it) => it.kind), objectsRight, editRight, images, msPerImage: items.length > 0 ? ms / items.length : NaN };
}
