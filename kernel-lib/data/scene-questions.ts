/**
 * Understanding questions about a scene, templated from its spec, with candidate answers for ranking by
 * likelihood and the correct one known (Liquid's visual understanding, scored exactly without sampling):
 *
 *   relation  "What is to the left of the tree?"  asked only when exactly one object's box stands in that
 *             relation to the tree's box (strictly, as the pixels show it); candidates: the answer's phrase,
 *             the scene's other objects, then other scene objects drawn from the vocabulary;
 *   count     "How many animals are there?"       by category (categories.ts), for a category in the scene
 *             or one drawn from the rest; candidates: none, one, two, three;
 *   exists    "Is there a red heart?"             about a scene object or one drawn from the vocabulary that
 *             the scene does not show; candidates: yes, no.
 *
 * Questions come from the objects' boxes and emoji, never from the caption, so they also ask what the
 * caption does not say. Every draw comes from the `rand` passed in.
 */
import { categoryOf, CATEGORIES, Category } from './categories';
import { EmojiInfo } from './emoji';
import { Box, holds, Relation } from './layout';
import { isPlural } from './names';
import { pick, permutation, Rng } from '../util/random';

export type QuestionKind = 'relation' | 'count' | 'exists';
export const QUESTION_KINDS: readonly QuestionKind[] = ['relation', 'count', 'exists'];

export interface SceneQuestion {
  kind: QuestionKind;
  question: string;
  candidates: string[];
  /** Index of the correct candidate. */
  answer: number;
}

/** What a question needs of a scene: its objects' emoji and boxes. */
export type QuestionScene = { objects: ReadonlyArray<{ emoji: number; box: Box }> };

export const COUNT_WORDS: readonly string[] = ['none', 'one', 'two', 'three'];
const RELATIONS: readonly Relation[] = ['to the left of', 'to the right of', 'above', 'below'];
/** Candidates of a relation question. */
export const RELATION_CANDIDATES = 4;

/** Every relation question the scene allows: [subject object, relation, the one object in that relation]. */
export function relationQuestions(scene: QuestionScene): Array<{ subject: number; relation: Relation; answer: number }> {
  const out: Array<{ subject: number; relation: Relation; answer: number }> = [];
  scene.objects.forEach((b, s) => {
    for (const relation of RELATIONS) {
      const hits = scene.objects.map((_, i) => i).filter((i) => i !== s && holds(relation, scene.objects[i].box, b.box));
      if (hits.length === 1) out.push({ subject: s, relation, answer: hits[0] });
    }
  });
  return out;
}

/** Candidate answers: `answer` first among `others`, then distinct vocabulary phrases, shuffled; index of the answer. */
function withDistractors(answer: string, others: readonly string[], vocab: readonly EmojiInfo[], n: number, rand: Rng): { candidates: string[]; answer: number } {
  const set = [answer, ...others.filter((o) => o !== answer)].slice(0, n);
  for (let t = 0; set.length < n && t < 1000; t++) {
    const p = pick(rand, vocab).phrase;
    if (!set.includes(p)) set.push(p);
  }
  const order = permutation(set.length, rand);
  const candidates = Array.from(order, (i) => set[i]);
  return { candidates, answer: candidates.indexOf(answer) };
}

/**
 * One question about the scene: the kind drawn uniformly among those it allows (`kinds`, default all),
 * then the question. `byIndex` gives an emoji's catalog entry; `vocab` is where distractors come from.
 */
export function sceneQuestion(
  scene: QuestionScene,
  byIndex: (emoji: number) => EmojiInfo,
  vocab: readonly EmojiInfo[],
  rand: Rng,
  kinds: readonly QuestionKind[] = QUESTION_KINDS,
): SceneQuestion {
  for (const k of kinds) if (!QUESTION_KINDS.includes(k)) throw new Error(`sceneQuestion: unknown kind '${k}'; expected ${QUESTION_KINDS.join(', ')}`);
  const rels = relationQuestions(scene);
  const allowed = kinds.filter((k) => k !== 'relation' || rels.length > 0);
  if (allowed.length === 0) throw new Error('sceneQuestion: no relation question is possible in this scene and no other kind was allowed');
  const kind = pick(rand, allowed);
  const infos = scene.objects.map((o) => byIndex(o.emoji));
  if (kind === 'relation') {
    const r = pick(rand, rels);
    const others = infos.filter((_, i) => i !== r.subject).map((e) => e.phrase);
    const c = withDistractors(infos[r.answer].phrase, others, vocab.filter((e) => !infos.some((x) => x.name === e.name)), RELATION_CANDIDATES, rand);
    return { kind, question: `What is ${r.relation} the ${infos[r.subject].name}?`, ...c };
  }
  if (kind === 'count') {
    const present = infos.map((e) => categoryOf(e));
    const absent = CATEGORIES.filter((c) => !present.some((p) => p.word === c.word));
    const cat: Category = rand() < 0.75 || absent.length === 0 ? pick(rand, present) : pick(rand, absent);
    const n = present.filter((p) => p.word === cat.word).length;
    return { kind, question: `How many ${cat.plural} are there?`, candidates: [...COUNT_WORDS], answer: n };
  }
  const shown = rand() < 0.5;
  const e = shown ? pick(rand, infos) : pick(rand, vocab.filter((v) => !infos.some((x) => x.name === v.name)));
  const question = isPlural(e.name) ? `Are there ${e.name}?` : `Is there ${e.phrase}?`;
  return { kind, question, candidates: ['yes', 'no'], answer: shown ? 0 : 1 };
}
