/**
 * Fig. 4 at workbench scale: held-out stories and edits completed by each model side by side. For every
 * item and model (the base, then each arm's adapter alone):
 *
 *   text   a story's next narration as the model writes it after the story so far (greedy, until it opens
 *          an image or ends; null for items whose target is an image alone);
 *   image  the target image drawn after the prompt and the target's own narration (drawTargets: the same
 *          sampling and seed for every model), checked by the scene checker against the exact target scene.
 */
import type { Session } from '../../session';
import type { SceneChecker } from '../../eval/scene-checker';
import type { RGBImage, VQVAE } from '../../image';
import type { ArmSet } from './arm-set';
import { drawTargets, DrawnScores } from './evaluate';
import { joinText } from './items';
import type { CodedItem } from './items';

export interface SideBySide {
  models: string[];
  ids: string[];
  kinds: CodedItem['kind'][];
  /** The target image through the VQ-VAE (what a perfect model would draw). */
  truth: RGBImage[];
  /** The ground-truth narration of each item's target (null where it has none). */
  truthText: (string | null)[];
  /** Per model, per item: its narration (null where the target has no text). */
  text: Record<string, (string | null)[]>;
  /** Per model: the drawn target images and their scene checks. */
  drawn: Record<string, DrawnScores>;
}

export interface SideBySideOptions {
  models?: readonly string[];
  /** Longest narration written (tokens, default 24). */
  maxTextTokens?: number;
  /** Item i's image is drawn with seed firstSeed + i (default 0). */
  firstSeed?: number;
  onProgress?: (model: string, done: number, total: number) => void;
}

const targetText = (it: CodedItem): string | null => {
  const t = joinText(it.target).find((p): p is { text: string } => 'text' in p);
  return t ? t.text : null;
};

/** The narration a session writes after an item's prompt (greedy), up to the image it opens. */
export async function writeNarration(s: Session, item: CodedItem, maxTokens = 24): Promise<string> {
  const tok = s.tokenizer;
  const ids: number[] = [];
  for await (const st of s.generate(joinText(item.prompt), { maxNewTokens: maxTokens, temperature: 0, stopTokens: [tok.boi, tok.eos], imageGrammar: false, capture: 'none' })) {
    if (st.tokenId !== tok.boi && st.tokenId !== tok.eos) ids.push(st.tokenId);
  }
  return tok.decodeIds(ids).map((p) => ('text' in p ? p.text : '[image]')).join(' ').trim();
}

/** Every model completes every item (see the file comment). */
export async function sideBySide(arms: ArmSet, items: readonly CodedItem[], vq: VQVAE, checker: SceneChecker, o: SideBySideOptions = {}): Promise<SideBySide> {
  if (items.length === 0) throw new Error('moss.sideBySide: no items');
  const models = [...(o.models ?? arms.models)];
  const before = arms.active;
  const text: SideBySide['text'] = {};
  const drawn: SideBySide['drawn'] = {};
  const truthText = items.map(targetText);
  try {
    for (const m of models) {
      arms.use(m);
      text[m] = [];
      for (const [i, it] of items.entries()) {
        text[m].push(truthText[i] === null ? null : await writeNarration(arms.session, it, o.maxTextTokens));
        o.onProgress?.(m, i + 1, 2 * items.length);
      }
      drawn[m] = await drawTargets(arms.session, items, vq, checker, { firstSeed: o.firstSeed ?? 0, onImage: (d) => o.onProgress?.(m, items.length + d, 2 * items.length) });
    }
  } finally {
    arms.use(before);
  }
  const truthCodes = items.map((it) => {
    const p = it.target.find((x) => 'image' in x);
    if (!p || !('image' in p)) throw new Error(`moss.sideBySide: item ${it.id} has no target image`);
    return p.image;
  });
  return { models, ids: items.map((it) => it.id), kinds: items.map((it) => it.kind), truth: vq.decode(truthCodes), truthText, text, drawn };
}
