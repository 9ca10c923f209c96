/**
 * Liquid's visual understanding, scored exactly: each held-out scene's templated question
 * (data/scene-questions.ts: relation, count, exists) is answered by ranking its candidates by likelihood
 * given <bos> <boi> codes <eoi> + " " + question (analysis/answer-ranking.ts; the same text layout as the
 * i2a training rows, so the question and each " " + answer are encoded as the training rows encode them).
 * Accuracy comes with its standard error, overall and per template. Use the i2a pool of a split the
 * model never trained on (`liquidPools(store, { split: 'test' }).i2a`): scenes and, by the scene
 * generator's pair rule, object pairs are held out.
 */
import { LengthRule, RankingItem, RankingReport, rankAnswers, rankingAccuracy } from '../../analysis/answer-ranking';
import type { ExampleList } from '../../data/example-list';
import type { LiquidMeta } from '../../data/liquid-pools';
import type { RGBImage } from '../../image/types';
import type { Session } from '../../session';
import type { ImageCodes, MultimodalTokenizer } from '../../tokenizer';

/** One ranking item per i2a example (the first `limit` in stored order), grouped by question kind. */
export function understandingItems(
  tokenizer: MultimodalTokenizer,
  pool: ExampleList<LiquidMeta>,
  encodeImage: (image: RGBImage) => ImageCodes,
  limit = pool.size,
): RankingItem[] {
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`understandingItems: limit must be a non-negative integer, got ${limit}`);
  const items: RankingItem[] = [];
  for (let i = 0; i < Math.min(limit, pool.size); i++) {
    const ex = pool.get(i);
    const q = ex.meta.question;
    const [imagePart] = ex.parts;
    if (ex.meta.task !== 'i2a' || q === undefined || !('image' in imagePart)) {
      throw new Error(`understandingItems: ${ex.id} is not an image → answer row (task '${ex.meta.task}'); pass the i2a pool`);
    }
    items.push({
      context: tokenizer.encodePrompt([{ image: encodeImage(imagePart.image) }, { text: ` ${q.question}` }]).ids,
      candidates: q.candidates.map((c) => tokenizer.encodePrompt([{ text: ` ${c}` }], { addBos: false }).ids),
      answer: q.answer,
      group: q.kind,
    });
  }
  return items;
}

/** Question accuracy (± s.e.) overall and per template. */
export function understandingAccuracy(session: Session, items: readonly RankingItem[], length: LengthRule = 'sum'): RankingReport {
  return rankingAccuracy(rankAnswers(session, items, length));
}
