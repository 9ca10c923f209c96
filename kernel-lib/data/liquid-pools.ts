/**
 * Liquid's four disjoint pools of a split, as example lists whose parts are the row's text and images in
 * order and whose `meta.lossFrom` is the index of the first part that carries the loss:
 *
 *   text  Brown paragraphs                          [{text}]                                   loss from 0
 *   t2i   caption → image                           [{text: caption}, {image}]                 loss from 1
 *   i2t   image → caption, as Liquid's code writes   [{image}, {text: " The caption of this image is:"},
 *         it: <boi>codes<eoi> The caption of this     {text: " " + caption}]                    loss from 2
 *         image is: caption
 *   i2a   image → answer to a templated question    [{image}, {text: " " + question}, {text: " " + answer}]
 *         (scene-questions.ts)                                                                  loss from 2
 *
 * Images come from the emoji and scenes data sets. Each image goes to exactly one of t2i / i2t / i2a by a
 * hash of its id (`unitHash("liquid-pool/" + id)`): scenes in thirds (t2i, i2t, i2a), emoji in halves (t2i,
 * i2t; they have no scene to ask about). So no image is used by two pools, whatever the seed. Captions are
 * the canonical ones; a question's choices are drawn from the stream named by the scene and the seed.
 * Caption dropout to Liquid's <unconditional> token happens when a row becomes ids
 * (papers/liquid-unified-vq-language-model/rows.ts).
 */
import { datasetFromStore, textOf, imagesOf } from './dataset';
import { EmojiInfo, Split, SPLITS } from './emoji';
import { DataPart, Example, ExampleList, ListDataset } from './example-list';
import { Mixture } from './mixture';
import { objectVocabulary, SCENE_SUBCATEGORIES } from './objects';
import { rngFor, unitHash } from '../util/random';
import { sceneQuestion, SceneQuestion } from './scene-questions';
import { DataStore } from './store';

export const LIQUID_TASKS = ['text', 't2i', 'i2t', 'i2a'] as const;
export type LiquidTask = (typeof LIQUID_TASKS)[number];

/** The text between an image and its caption in Liquid's image → text rows. */
export const CAPTION_PROMPT = ' The caption of this image is:';

export interface LiquidMeta {
  task: LiquidTask;
  /** The data-set example the row is made from. */
  source: string;
  lossFrom: number;
  /** i2a: the question, its candidates and the correct one. */
  question?: SceneQuestion;
}

/** Which image pool an image-bearing example goes to (see the file comment). */
export function imagePoolOf(id: string, hasScene: boolean): 't2i' | 'i2t' | 'i2a' {
  const u = unitHash(`liquid-pool/${id}`);
  if (!hasScene) return u < 0.5 ? 't2i' : 'i2t';
  return u < 1 / 3 ? 't2i' : u < 2 / 3 ? 'i2t' : 'i2a';
}

export interface LiquidPoolOptions {
  split?: Split;
  /** Seeds question choices (default 0) and the pools' order. */
  seed?: number;
}

/** The four pools of a split. */
export function liquidPools(store: DataStore, options: LiquidPoolOptions = {}): Record<LiquidTask, ExampleList<LiquidMeta>> {
  const split = options.split ?? 'train';
  if (!SPLITS.includes(split)) throw new Error(`liquidPools: split must be one of ${SPLITS.join(', ')}, got '${split}'`);
  const seed = options.seed ?? 0;
  const emoji = datasetFromStore(store, 'emoji', { split });
  const scenes = datasetFromStore(store, 'scenes', { split });
  const brown = datasetFromStore(store, 'brown', { split });
  const vocab = objectVocabulary(store.emoji, SCENE_SUBCATEGORIES);
  const byIndex = (i: number): EmojiInfo => store.emoji[i];
  const members: Record<'t2i' | 'i2t' | 'i2a', Array<{ set: 'emoji' | 'scenes'; index: number; id: string }>> = { t2i: [], i2t: [], i2a: [] };
  for (const [set, ds] of [['emoji', emoji], ['scenes', scenes]] as const) {
    for (let i = 0; i < ds.size; i++) {
      const id = ds.get(i).id;
      members[imagePoolOf(id, set === 'scenes')].push({ set, index: i, id });
    }
  }
  const row = (task: LiquidTask, source: string, parts: DataPart[], lossFrom: number, question?: SceneQuestion): Example<LiquidMeta> => ({
    id: `liquid/${task}/${source}`,
    parts,
    meta: question ? { task, source, lossFrom, question } : { task, source, lossFrom },
  });
  const imagePool = (task: 't2i' | 'i2t' | 'i2a'): ExampleList<LiquidMeta> =>
    new ListDataset(`liquid-${task}`, split, members[task].length, options.seed, (k) => {
      const m = members[task][k];
      const ex = m.set === 'emoji' ? emoji.get(m.index) : scenes.get(m.index);
      const caption = textOf(ex.parts);
      const [image] = imagesOf(ex.parts);
      if (task === 't2i') return row(task, ex.id, [{ text: caption }, { image }], 1);
      if (task === 'i2t') return row(task, ex.id, [{ image }, { text: CAPTION_PROMPT }, { text: ` ${caption}` }], 2);
      const spec = store.scenes(split)[m.index];
      const q = sceneQuestion(spec, byIndex, vocab, rngFor(`liquid-question/${ex.id}`, seed));
      return row(task, ex.id, [{ image }, { text: ` ${q.question}` }, { text: ` ${q.candidates[q.answer]}` }], 2, q);
    });
  return {
    text: new ListDataset('liquid-text', split, brown.size, options.seed, (k) => {
      const ex = brown.get(k);
      return row('text', ex.id, ex.parts, 0);
    }),
    t2i: imagePool('t2i'),
    i2t: imagePool('i2t'),
    i2a: imagePool('i2a'),
  };
}

/** A Liquid training mixture: the four pools by ratio (e.g. { text: 1, t2i: 1, i2t: 1, i2a: 0 }, the paper's 1:1:1). */
export function liquidMixture(
  store: DataStore,
  ratios: Partial<Record<LiquidTask, number>>,
  options: LiquidPoolOptions & { batchSize: number; rounding?: 'exact' | 'largest-remainder' },
): Mixture<LiquidMeta> {
  for (const k of Object.keys(ratios)) {
    if (!(LIQUID_TASKS as readonly string[]).includes(k)) throw new Error(`liquidMixture: unknown pool '${k}'; expected ${LIQUID_TASKS.join(', ')}`);
  }
  const pools = liquidPools(store, options);
  return new Mixture(
    LIQUID_TASKS.map((t) => ({ name: t, ratio: ratios[t] ?? 0, examples: pools[t] })),
    { batchSize: options.batchSize, seed: options.seed ?? 0, rounding: options.rounding },
  );
}
