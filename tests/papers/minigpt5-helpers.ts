/**
 * Shared by the MiniGPT-5 paper tests: a tiny LM (2 vokens, 4×4 image codes) and a tiny, randomly
 * initialised diffusion decoder on the shipped VQ-VAE (small and fast; the recipes use the shipped ldm-emoji), and
 * stand-in items: caption → image pairs (stage 1) and story-like items with context codes (stage 2).
 */
import type { Session } from '../../kernel-lib/session';
import type { LatentDiffusion } from '../../kernel-lib/diffusion';
import { minigpt5 } from '../../kernel-lib';
import { tinySession, CORPUS } from '../helpers/fixtures';
import { synthImage } from '../helpers/images';
import { tinyLdm, randomize } from '../diffusion/helpers';

/**
 * A tiny LM and a tiny decoder whose every weight is random (the adaLN-Zero start would make the decoder
 * ignore its conditioning, and the tests about gradients through it hold trivially).
 */
export async function tinyParts(seed = 1): Promise<{ session: Session; ldm: LatentDiffusion }> {
  const session = await tinySession({ seed });
  const ldm = tinyLdm({ seed });
  randomize(ldm, 0.2, seed);
  return { session, ldm };
}

/** Stage-1 items: a caption from the fixture corpus and a synthetic 32×32 image. */
export function captionItems(n: number, offset = 0): minigpt5.VokenItem[] {
  return Array.from({ length: n }, (_, k) => {
    const i = k + offset;
    const caption = CORPUS[i % CORPUS.length];
    return { id: `tiny/caption/${i}`, prompt: [], targetText: caption, image: synthImage(i + 1), caption };
  });
}

/** Stage-2 items: a context narration and 4×4 code grid, then (cycling) text + image, image, text targets. */
export function storyLikeItems(n: number, offset = 0): minigpt5.VokenItem[] {
  return Array.from({ length: n }, (_, k) => {
    const i = k + offset;
    const codes = { height: 4, width: 4, codes: Array.from({ length: 16 }, (_, j) => (i * 7 + j * 3) % 32) };
    const narration = CORPUS[(i + 3) % CORPUS.length];
    const kind = i % 3;
    const prompt: minigpt5.CodedPart[] = [{ text: CORPUS[i % CORPUS.length] }, { image: codes }];
    if (kind === 1) prompt.push({ text: narration });
    return { id: `tiny/story/${i}`, prompt, targetText: kind === 1 ? null : narration, image: kind === 2 ? null : synthImage(i + 5), caption: null };
  });
}

/** A source over fixed items. */
export function sourceOf(items: minigpt5.VokenItem[]): minigpt5.VokenSource {
  return { size: items.length, items: (indices) => indices.map((i) => items[i]) };
}
