/**
 * Multiple-choice evaluation by likelihood, exact and without sampling: each candidate answer is scored
 * by the sum over its tokens of log p(token | context, earlier answer tokens) and the best score is the
 * model's answer (Liquid's visual understanding scored this way; any prompt works: image + question,
 * caption, text).
 *
 * Length: 'sum' (default) is the answer's total log-likelihood, the probability of the whole string; it
 * favours shorter answers when candidates differ in length, so 'mean' (per-token average) is offered for
 * candidate sets where that matters. Ties go to the earlier candidate. All candidates of an item run as
 * one batch: rows context + candidate, padded at the end with <pad> — causal attention keeps padding
 * from touching the positions read — and the log-softmax is taken in float64.
 */
import type { Session } from '../session';
import { pairedDifference, rowLogSumExp } from '../util/stats';

export type LengthRule = 'sum' | 'mean';

export interface RankingItem {
  /** Token ids the answers follow (e.g. <bos> <boi> codes <eoi> question). */
  context: number[];
  /** Each candidate's token ids (at least one token each). */
  candidates: number[][];
  /** Index of the correct candidate. */
  answer: number;
  /** What the item is counted under in the per-group accuracy (e.g. the question template). */
  group?: string;
}

export interface RankedItem {
  scores: number[];
  chosen: number;
  correct: boolean;
  group: string;
}

/** Each candidate's log-likelihood given the context (sum, or mean with length 'mean'). */
export function candidateScores(s: Session, item: RankingItem, length: LengthRule = 'sum'): number[] {
  checkItem(item, s.config.vocabSize);
  const { context, candidates } = item;
  const T = context.length + Math.max(...candidates.map((c) => c.length));
  if (T > s.config.maxPositions) throw new Error(`answer ranking: context + longest candidate is ${T} tokens, more than the model's context of ${s.config.maxPositions}`);
  const pad = s.tokenizer.pad;
  const rows = candidates.map((c) => [...context, ...c, ...new Array<number>(T - context.length - c.length).fill(pad)]);
  // the logits that predict each candidate's tokens (row b·T + context.length − 1 + j predicts c[j]): the LM head on those rows only
  const at = candidates.flatMap((c, b) => c.map((_, j) => b * T + context.length - 1 + j));
  const { logits } = s.model.forwardRows(rows, at, { capture: 'none', positions: s.positions(rows) });
  const V = s.config.vocabSize;
  let i = 0;
  return candidates.map((c) => {
    let sum = 0;
    for (let j = 0; j < c.length; j++, i++) sum += logits[i * V + c[j]] - rowLogSumExp(logits, i * V, V);
    return length === 'mean' ? sum / c.length : sum;
  });
}

/** Scores and the chosen candidate of each item. */
export function rankAnswers(s: Session, items: readonly RankingItem[], length: LengthRule = 'sum'): RankedItem[] {
  if (length !== 'sum' && length !== 'mean') throw new Error(`answer ranking: length must be 'sum' or 'mean', got ${JSON.stringify(length)}`);
  return items.map((item) => {
    const scores = candidateScores(s, item, length);
    let chosen = 0;
    for (let i = 1; i < scores.length; i++) if (scores[i] > scores[chosen]) chosen = i;
    return { scores, chosen, correct: chosen === item.answer, group: item.group ?? 'all' };
  });
}

export interface Accuracy {
  n: number;
  accuracy: number;
  /** Standard error of the mean of the 0/1 correctness (sample s.d. / √n); NaN below 2 items. */
  standardError: number;
}

export interface RankingReport extends Accuracy {
  byGroup: Record<string, Accuracy>;
}

function accuracyOf(correct: readonly boolean[]): Accuracy {
  const d = correct.map((c) => (c ? 1 : 0));
  if (d.length < 2) return { n: d.length, accuracy: d.length === 1 ? d[0] : NaN, standardError: NaN };
  const { mean, standardError } = pairedDifference(d);
  return { n: d.length, accuracy: mean, standardError };
}

/** Accuracy with its standard error, overall and per group. */
export function rankingAccuracy(ranked: readonly RankedItem[]): RankingReport {
  if (ranked.length === 0) throw new Error('rankingAccuracy: no items');
  const groups = new Map<string, boolean[]>();
  for (const r of ranked) groups.set(r.group, [...(groups.get(r.group) ?? []), r.correct]);
  const byGroup: Record<string, Accuracy> = {};
  for (const [g, c] of [...groups].sort(([a], [b]) => a.localeCompare(b))) byGroup[g] = accuracyOf(c);
  return { ...accuracyOf(ranked.map((r) => r.correct)), byGroup };
}

function checkItem(item: RankingItem, V: number): void {
  const { context, candidates, answer } = item;
  if (!Array.isArray(context) || context.length === 0) throw new Error('answer ranking: context must be a non-empty array of token ids');
  if (!Array.isArray(candidates) || candidates.length < 2) throw new Error(`answer ranking: needs at least 2 candidates, got ${Array.isArray(candidates) ? candidates.length : JSON.stringify(candidates)}`);
  candidates.forEach((c, i) => {
    if (!Array.isArray(c) || c.length === 0) throw new Error(`answer ranking: candidate ${i} has no tokens`);
  });
  for (const id of [...context, ...candidates.flat()]) {
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`answer ranking: token id ${id} is outside the vocabulary [0, ${V})`);
  }
  if (!Number.isInteger(answer) || answer < 0 || answer >= candidates.length) {
    throw new Error(`answer ranking: answer ${answer} is not a candidate index in [0, ${candidates.length})`);
  }
}
