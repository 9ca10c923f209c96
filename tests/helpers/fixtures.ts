/** Small fixtures shared by tests: a BPE trained on a few sentences, tiny text and multimodal sessions. */
import { ByteLevelBPE, MultimodalTokenizer } from '../../kernel-lib/tokenizer';
import { Session } from '../../kernel-lib/session';
import type { MoEConfig } from '../../kernel-lib/model/config';

export const CORPUS = [
  'an emoji of a tiger', 'an emoji of an apple', 'the flag of Brazil', 'a tiger to the left of an apple',
  'thumbs up, dark skin tone', 'The jury said it did find that the election was conducted.',
  'It recommended that the city take steps to remedy the problem.', 'a red heart', 'a smiling face with sunglasses',
];

let bpe: ByteLevelBPE | undefined;
export function tinyBpe(): ByteLevelBPE {
  bpe ??= ByteLevelBPE.train(CORPUS, { vocabSize: 300 });
  return bpe;
}

export function tinyTokenizer(images = true): MultimodalTokenizer {
  const t = MultimodalTokenizer.createTextOnly(tinyBpe());
  return images ? t.extendWithImages({ numImageCodes: 32, grid: { height: 4, width: 4 }, numVokens: 2 }) : t;
}

export function tinySession(opts: { images?: boolean; seed?: number; config?: Partial<MoEConfig> } = {}): Promise<Session> {
  return Session.create(tinyTokenizer(opts.images ?? true), { preset: 'tiny', seed: opts.seed ?? 1, config: opts.config });
}
