/**
 * A zero-shot text suite on held-out passages (a workbench stand-in for the paper's Table 1), scoring a
 * session's model as is — adapters included, each token's modality passed along:
 *
 *   perplexity    on the passages as one stream (<bos> passage <eos> …), via modelPerplexity
 *   lastWord      LAMBADA-like: given a passage without its last word, does greedy decoding produce that
 *                 word's tokens exactly? (one teacher-forced pass: greedy reproduces the target iff every
 *                 target token is the argmax given the ones before it — lm-eval-harness's `is_greedy`)
 *   shuffled      the real passage vs the same words in a seeded random order: is the real one's summed
 *                 log-probability higher?
 *   continuation  HellaSwag-like: the first half of a passage and four endings (its own second half and
 *                 those of three other passages, seeded); is the true ending's mean log-prob per token the
 *                 strict maximum?
 *
 * Accuracies are percentages; `average` is their unweighted mean, as Table 1's "Average" column.
 * `relativeChange(base, variant)` reads two results the way Table 1 does: its "(−15.35 ↓)" and "(≈−0.14)"
 * are differences of the averages in percentage points (60.47 → 45.12; 60.47 → 60.33), not ratios — so
 * `average.delta` is that number; `relative` gives the ratio change too. (The paper's printed averages
 * are truncated, not rounded, to two decimals: its base row's mean is 60.4789, printed 60.47.)
 *
 * Passages are joined words: a word is a maximal run of non-space characters. Text is encoded piecewise —
 * context, then " word…" — which equals encoding the whole with GPT-2-style pre-tokenisation (a space
 * starts a new piece).
 */
import type { Session } from '../session';
import { modalityCodes } from '../model/adapter-seam';
import { mulberry32 } from '../util/random';
import { modelPerplexity, PerplexityResult, windows } from './perplexity';

export const TEXT_TASKS = ['lastWord', 'shuffled', 'continuation'] as const;
export type TextTask = (typeof TEXT_TASKS)[number];

export interface TextSuiteOptions {
  /** Seed of the shuffles and of the distractor endings. Default 0. */
  seed?: number;
  /** Passages with fewer words are left out. Default 6. */
  minWords?: number;
  /** Use at most this many passages (the first ones). */
  maxPassages?: number;
  /** Sequences per forward. Default 8. */
  batchSize?: number;
  /**
   * Perplexity windows (default min(128, maxPositions)), a cap on scored tokens, and a text vocabulary
   * to also renormalise over (modelPerplexity's `textVocabulary`).
   */
  perplexity?: { seqLen?: number; maxTokens?: number; textVocabulary?: number };
  /**
   * Called as the work goes with (sequences scored, sequences in all): perplexity windows, then the
   * tasks' sequences. A suite over 200 passages is minutes of forwards on one core.
   */
  onProgress?: (done: number, total: number) => void;
}

export interface TaskScore {
  /** Percent correct. */
  accuracy: number;
  correct: number;
  total: number;
  /** Passages that did not fit the context. */
  skipped: number;
}

export interface TextSuiteResult {
  passages: number;
  perplexity: PerplexityResult;
  tasks: Record<TextTask, TaskScore>;
  /** Accuracy per task, in percent. */
  scores: Record<TextTask, number>;
  /** Mean of the task accuracies (percent), Table 1's "Average". */
  average: number;
}

interface Scored {
  /** [L − 1]: log p(ids[t] | ids[<t]) for t = 1…L−1. */
  logprobs: Float64Array;
  /** [L − 1]: 1 where ids[t] is the argmax (ties to the lower id) given ids[<t]. */
  greedy: Uint8Array;
}

/**
 * Per-token log-probabilities and greedy hits of many sequences (padded batches, shortest first);
 * `onProgress(done)` after each batch, counting sequences.
 */
export function scoreSequences(session: Session, seqs: number[][], batchSize = 8, onProgress?: (done: number) => void): Scored[] {
  const V = session.config.vocabSize;
  const pad = session.tokenizer.pad;
  const modalityOf = (id: number) => session.tokenizer.modalityOf(id);
  const order = seqs.map((_, i) => i).sort((a, b) => seqs[a].length - seqs[b].length);
  const out: Scored[] = new Array(seqs.length);
  for (let s = 0; s < order.length; s += batchSize) {
    const idx = order.slice(s, s + batchSize);
    const T = Math.max(...idx.map((i) => seqs[i].length));
    const rows = idx.map((i) => [...seqs[i], ...new Array<number>(T - seqs[i].length).fill(pad)]); // causal: padding never reaches real positions
    const r = session.model.forward(rows, { capture: 'none', modalities: modalityCodes(rows.flat(), modalityOf) });
    idx.forEach((i, b) => {
      const ids = seqs[i];
      const logprobs = new Float64Array(ids.length - 1);
      const greedy = new Uint8Array(ids.length - 1);
      for (let t = 1; t < ids.length; t++) {
        const base = (b * T + t - 1) * V;
        let m = -Infinity;
        let arg = 0;
        for (let v = 0; v < V; v++) {
          if (r.logits[base + v] > m) (m = r.logits[base + v]), (arg = v);
        }
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(r.logits[base + v] - m);
        logprobs[t - 1] = r.logits[base + ids[t]] - m - Math.log(z);
        greedy[t - 1] = arg === ids[t] ? 1 : 0;
      }
      out[i] = { logprobs, greedy };
    });
    onProgress?.(Math.min(s + batchSize, order.length));
  }
  return out;
}

function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w.length > 0);
}

function shuffleDiffering(ws: string[], rand: () => number): string[] | null {
  if (new Set(ws).size < 2) return null;
  for (let attempt = 0; attempt < 20; attempt++) {
    const out = ws.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    if (out.some((w, i) => w !== ws[i])) return out;
  }
  return null;
}

function score(correct: number, total: number, skipped: number): TaskScore {
  return { accuracy: total > 0 ? (100 * correct) / total : NaN, correct, total, skipped };
}

/** The passages the suite uses, as word lists: those of ≥ minWords words, the first maxPassages of them. */
function suitePassages(texts: string[], o: Pick<TextSuiteOptions, 'minWords' | 'maxPassages'>): string[][] {
  const passages = texts.map((t) => words(t)).filter((ws) => ws.length >= (o.minWords ?? 6));
  return o.maxPassages !== undefined ? passages.slice(0, o.maxPassages) : passages;
}

function passagesStream(tok: Session['tokenizer'], passages: string[][]): number[] {
  const stream: number[] = [];
  for (const ws of passages) stream.push(tok.bos, ...tok.bpe.encode(ws.join(' ')), tok.eos);
  return stream;
}

/** The token stream the suite's perplexity is measured on (<bos> passage <eos> …, same passages as textSuite). */
export function suiteStream(session: Session, texts: string[], o: Pick<TextSuiteOptions, 'minWords' | 'maxPassages'> = {}): number[] {
  return passagesStream(session.tokenizer, suitePassages(texts, o));
}

/** Runs the suite on passages (e.g. held-out Brown paragraphs). */
export function textSuite(session: Session, texts: string[], o: TextSuiteOptions = {}): TextSuiteResult {
  const tok = session.tokenizer;
  const enc = (s: string): number[] => tok.bpe.encode(s);
  const maxPos = session.config.maxPositions;
  const minWords = o.minWords ?? 6;
  const batch = o.batchSize ?? 8;
  const passages = suitePassages(texts, o);
  if (passages.length < 4) throw new Error(`textSuite needs at least 4 passages of ≥ ${minWords} words, got ${passages.length}`);
  const rand = mulberry32(o.seed ?? 0);

  /** <bos> + context (trimmed from the left to fit) + tail, and where the tail starts. */
  const fit = (ctx: number[], tail: number[]): { ids: number[]; start: number } | null => {
    const room = maxPos - 1 - tail.length;
    if (room < 1) return null;
    const c = ctx.length > room ? ctx.slice(ctx.length - room) : ctx;
    return { ids: [tok.bos, ...c, ...tail], start: 1 + c.length };
  };

  // lastWord: the tail is " word" (trailing punctuation stripped); greedy must produce all its tokens.
  const lw: { ids: number[]; start: number }[] = [];
  let lwSkipped = 0;
  for (const ws of passages) {
    const last = ws[ws.length - 1].replace(/[^\p{L}\p{N}]+$/u, '');
    const item = last.length > 0 && /\p{L}/u.test(last) ? fit(enc(ws.slice(0, -1).join(' ')), enc(` ${last}`)) : null;
    if (item) lw.push(item);
    else lwSkipped++;
  }

  // shuffled: Σ log p(real) > Σ log p(shuffled)?
  const pairs: number[][] = [];
  let shSkipped = 0;
  for (const ws of passages) {
    const sh = shuffleDiffering(ws, rand);
    const real = [tok.bos, ...enc(ws.join(' '))];
    const fake = sh ? [tok.bos, ...enc(sh.join(' '))] : [];
    if (!sh || real.length > maxPos || fake.length > maxPos) shSkipped++;
    else pairs.push(real, fake);
  }

  // continuation: first half as context, four endings; the true one must have the strictly best mean log-prob.
  const halves = passages.map((ws) => {
    const h = Math.floor(ws.length / 2);
    return { ctx: enc(ws.slice(0, h).join(' ')), ending: enc(` ${ws.slice(h).join(' ')}`) };
  });
  const items: { ids: number[]; start: number }[][] = [];
  let coSkipped = 0;
  halves.forEach((p, i) => {
    const others: number[] = [];
    while (others.length < 3) {
      const j = Math.floor(rand() * halves.length);
      if (j !== i && !others.includes(j)) others.push(j);
    }
    const cands = [p.ending, ...others.map((j) => halves[j].ending)].map((e) => fit(p.ctx, e));
    if (cands.some((c) => c === null)) coSkipped++;
    else items.push(cands as { ids: number[]; start: number }[]);
  });

  // Every input is built (the seeded draws above happen in the same order as ever); now the forwards.
  const stream = passagesStream(tok, passages);
  const seqLen = o.perplexity?.seqLen ?? Math.min(128, maxPos);
  const pplWindows = windows(stream, seqLen, o.perplexity?.maxTokens).length;
  const total = pplWindows + lw.length + pairs.length + 4 * items.length;
  const report = (offset: number) => (done: number) => o.onProgress?.(offset + done, total);
  // Perplexity over the passages as one stream.
  const perplexity = modelPerplexity(session.model, stream, {
    seqLen,
    maxTokens: o.perplexity?.maxTokens,
    textVocabulary: o.perplexity?.textVocabulary,
    batchSize: batch,
    modalityOf: (id) => tok.modalityOf(id),
    onProgress: report(0),
  });
  const lwScores = scoreSequences(session, lw.map((x) => x.ids), batch, report(pplWindows));
  const lwCorrect = lw.filter((x, i) => lwScores[i].greedy.subarray(x.start - 1).every((g) => g === 1)).length;
  const shScores = scoreSequences(session, pairs, batch, report(pplWindows + lw.length));
  const sum = (x: Float64Array): number => x.reduce((a, b) => a + b, 0);
  let shCorrect = 0;
  for (let i = 0; i < pairs.length; i += 2) if (sum(shScores[i].logprobs) > sum(shScores[i + 1].logprobs)) shCorrect++;
  const coScores = scoreSequences(session, items.flatMap((c) => c.map((x) => x.ids)), batch, report(pplWindows + lw.length + pairs.length));
  let coCorrect = 0;
  items.forEach((cands, i) => {
    const means = cands.map((c, j) => {
      const lp = coScores[4 * i + j].logprobs.subarray(c.start - 1);
      return sum(lp) / lp.length;
    });
    if (means.slice(1).every((m) => means[0] > m)) coCorrect++;
  });

  const tasks: Record<TextTask, TaskScore> = {
    lastWord: score(lwCorrect, lw.length, lwSkipped),
    shuffled: score(shCorrect, pairs.length / 2, shSkipped),
    continuation: score(coCorrect, items.length, coSkipped),
  };
  const scores = { lastWord: tasks.lastWord.accuracy, shuffled: tasks.shuffled.accuracy, continuation: tasks.continuation.accuracy };
  return { passages: passages.length, perplexity, tasks, scores, average: mean(Object.values(scores)) };
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export interface ScoreChange {
  base: number;
  variant: number;
  /** variant − base (percentage points for accuracies). */
  delta: number;
  /** 100·(variant − base)/base, percent of the base. */
  relative: number;
}

export interface RelativeChange {
  tasks: Record<string, ScoreChange>;
  /** The averages of the task scores; `delta` is Table 1's bracketed number. */
  average: ScoreChange;
  /** Perplexity (lower is better; not part of the average), when both are suite results. */
  perplexity?: ScoreChange;
}

function change(base: number, variant: number): ScoreChange {
  return { base, variant, delta: variant - base, relative: (100 * (variant - base)) / base };
}

/**
 * Table 1's comparison of a variant with the base: per task and for the average of the tasks. Takes two
 * textSuite results, or two records of task scores in percent (e.g. the paper's own rows).
 */
export function relativeChange(base: TextSuiteResult | Record<string, number>, variant: TextSuiteResult | Record<string, number>): RelativeChange {
  const scoresOf = (r: TextSuiteResult | Record<string, number>): Record<string, number> =>
    'scores' in r && typeof r.scores === 'object' ? (r as TextSuiteResult).scores : (r as Record<string, number>);
  const b = scoresOf(base);
  const v = scoresOf(variant);
  const names = Object.keys(b);
  if (names.length === 0) throw new Error('relativeChange: no task scores');
  const missing = [...names.filter((n) => !(n in v)), ...Object.keys(v).filter((n) => !(n in b))];
  if (missing.length > 0) throw new Error(`relativeChange: task '${missing[0]}' is scored in one result but not the other`);
  const out: RelativeChange = {
    tasks: Object.fromEntries(names.map((n) => [n, change(b[n], v[n])])),
    average: change(mean(names.map((n) => b[n])), mean(names.map((n) => v[n]))),
  };
  if ('perplexity' in base && 'perplexity' in variant && typeof base.perplexity === 'object' && typeof variant.perplexity === 'object') {
    out.perplexity = change((base as TextSuiteResult).perplexity.perplexity, (variant as TextSuiteResult).perplexity.perplexity);
  }
  return out;
}
