/**
 * The Liquid paper's four questions (Wu et al. 2024; citation.ts) judged on numbers measured here, each by
 * the criterion issue #16 fixed before any run (experiments 1 and 4 word for word; 2 and 3, for which the
 * issue names the measures but no threshold, by the thresholds written here before any run, in the same
 * form as experiment 1's):
 *
 *   1  language cost   Δ = held-out Brown log-perplexity(mixed) − log-perplexity(text-only) per size, paired
 *                      over held-out windows. Reproduced if Δ falls with size (rank correlation ≤ −0.8 over the
 *                      sizes) and the largest model's Δ is under half the smallest's.
 *   2  scaling         at the last checkpoint, held-out image-code NLL falls with size (rank correlation ≤ −0.8)
 *                      while token accuracy and the scene checker's accuracy on drawn images rise with it
 *                      (≥ +0.8), and in every size's run the NLL falls from each evaluation checkpoint to the next.
 *   3  image cost      at every size the mixed run's image-code NLL is above the generation-only run's by more
 *                      than 2 s.e. (the loss gap stays), and the drawn-image gap (generation-only − mixed
 *                      checker accuracy) shrinks with size as Δ must in 1 (rank correlation ≤ −0.8, the
 *                      largest model's gap under half the smallest's).
 *   4  mutual          extra understanding data (1:1:2) beats the baseline (1:1:1) and both controls (1:1:1
 *                      compute-matched, 2:1:1) on generation (image-code NLL), and extra generation data (1:2:1)
 *                      beats the same three on understanding (question accuracy), each by more than 2 s.e.
 *
 * Every comparison is paired over held-out items (papers/paired.ts: per item the mean over seeds, then the
 * mean and standard error of the differences over items). Sizes are ordered by non-embedding parameters.
 * Each verdict also lists, in `failed`, the parts of its criterion that did not hold (empty when it
 * reproduces): the notebook's "why not" column. Results files keep the five shared fields only.
 */
import { compare as pairedCompare, describe, signed3 as f3 } from '../paired';
import type { Comparison, SeedScores } from '../paired';
import type { Verdict } from '../verdict';
import { spearman } from '../../util/stats';
import { seedMeans, finiteMean } from '../summary';

export type { Comparison, SeedScores, Verdict };

/** The rank-correlation threshold of "falls with size" (≤ −0.8) and "rises with size" (≥ +0.8). */
export const RANK_THRESHOLD = 0.8;

/** One size: its name and non-embedding parameters (what sizes are ordered and correlated by). */
export interface SizeKey {
  size: string;
  params: number;
}

/** A rank correlation in words: not defined when a side has no spread (every size scores the same). */
const f2 = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(2)}` : 'not defined (every size scores the same)');

/** Sorted by parameters; at least 2 sizes, no two with the same count. */
function bySize<T extends SizeKey>(rows: readonly T[], what: string): T[] {
  if (rows.length < 2) throw new Error(`${what}: needs at least 2 sizes, got ${rows.length}`);
  const sorted = [...rows].sort((a, b) => a.params - b.params);
  sorted.forEach((r, i) => {
    if (!(r.params > 0)) throw new Error(`${what}: ${r.size} has ${r.params} parameters`);
    if (i > 0 && sorted[i - 1].params === r.params) throw new Error(`${what}: ${sorted[i - 1].size} and ${r.size} have the same parameter count`);
  });
  return sorted;
}

/** "Falls with size" in experiment 1's form: ρ(params, gap) ≤ −0.8 and the largest's gap < half the smallest's. */
export function shrinksWithSize(params: readonly number[], gaps: readonly number[]): { rho: number; shrinks: boolean } {
  const rho = spearman(params, gaps);
  return { rho, shrinks: rho <= -RANK_THRESHOLD && gaps[gaps.length - 1] < gaps[0] / 2 };
}

/** The parts of shrinksWithSize that failed, in words (`what`: the gap's name). */
function shrinkFailures(what: string, gaps: readonly number[], rho: number): string[] {
  const out: string[] = [];
  if (!(rho <= -RANK_THRESHOLD)) out.push(`${what} does not fall with size: rank correlation ${f2(rho)}, not ≤ −${RANK_THRESHOLD}`);
  const last = gaps[gaps.length - 1];
  if (!(last < gaps[0] / 2)) out.push(`the largest model's ${what} (${f3(last)}) is not under half the smallest's (${f3(gaps[0])})`);
  return out;
}

/** Experiment 1: each size's per-window held-out Brown NLL, continued text-only and mixed. */
export function languageCostVerdict(rows: ReadonlyArray<SizeKey & { text: SeedScores; mixed: SeedScores }>): Verdict & { failed: string[]; deltas: Array<SizeKey & Comparison>; rho: number } {
  const sorted = bySize(rows, 'liquid.languageCostVerdict');
  const deltas = sorted.map((r) => ({ size: r.size, params: r.params, ...pairedCompare(r.mixed, r.text, `language cost at ${r.size} (mixed vs text-only)`) }));
  const { rho, shrinks } = shrinksWithSize(deltas.map((d) => d.params), deltas.map((d) => d.mean));
  return {
    claim: 'Visual generation costs a small model language, and the cost shrinks as the model grows',
    paper: '“Multi-modal mixed training does impact language performance when the model size is small. However, this degradation gradually disappears as the model size increases” (Qwen2.5 0.5B → 32B, zero-shot language benchmarks; mixed vs text-only training)',
    ours: `Δ held-out Brown log-perplexity (mixed − text-only, nats per token): ${deltas.map((d) => `${d.size} ${describe(d)}`).join('; ')}; rank correlation with size ${f2(rho)}`,
    criterion: `Δ falls with size (rank correlation ≤ −${RANK_THRESHOLD} over the ${deltas.length} sizes) and the largest model's Δ is under half the smallest's; Δ paired over held-out Brown windows`,
    reproduces: shrinks,
    failed: shrinkFailures('Δ', deltas.map((d) => d.mean), rho),
    deltas,
    rho,
  };
}

/** Experiment 2: per size at the last checkpoint, per item; `curves[seed][checkpoint]` the mean image-code NLL along the run. */
export function scalingVerdict(rows: ReadonlyArray<SizeKey & { imageNll: SeedScores; imageAccuracy: SeedScores; checker: SeedScores; curves: ReadonlyArray<readonly number[]> }>): Verdict & { failed: string[] } {
  const sorted = bySize(rows, 'liquid.scalingVerdict');
  const m = (x: SeedScores) => finiteMean(seedMeans(x));
  const params = sorted.map((r) => r.params);
  const loss = sorted.map((r) => m(r.imageNll));
  const acc = sorted.map((r) => m(r.imageAccuracy));
  const chk = sorted.map((r) => m(r.checker));
  const rhoLoss = spearman(params, loss);
  const rhoAcc = spearman(params, acc);
  const rhoChk = chk.every(Number.isFinite) ? spearman(params, chk) : NaN;
  const falling = (c: readonly number[]) => c.every((x, i) => i === 0 || x < c[i - 1]);
  const monotone = sorted.map((r) => r.curves.every(falling));
  const failed = [
    ...(rhoLoss <= -RANK_THRESHOLD ? [] : [`image-code NLL does not fall with size: rank correlation ${f2(rhoLoss)}, not ≤ −${RANK_THRESHOLD}`]),
    ...(rhoAcc >= RANK_THRESHOLD ? [] : [`token accuracy does not rise with size: rank correlation ${f2(rhoAcc)}, not ≥ +${RANK_THRESHOLD}`]),
    ...(rhoChk >= RANK_THRESHOLD ? [] : [chk.every(Number.isFinite) ? `drawn scenes' objects in place do not rise with size: rank correlation ${f2(rhoChk)}, not ≥ +${RANK_THRESHOLD}` : 'not every size has its drawn scenes scored by the scene checker']),
    ...sorted.filter((_, i) => !monotone[i]).map((r) => `${r.size}'s image-code NLL rises between two checkpoints`),
  ];
  return {
    claim: 'Multimodal generation follows scaling: image-code loss falls and accuracy rises with model size and with training steps',
    paper: '“with the increase in model size and training iterations, the validation loss smoothly decreases, while token accuracy and VQA Score consistently increase” (0.5B → 32B, mixed language and text-to-image training)',
    ours: `last checkpoint, by size (${sorted.map((r) => r.size).join(', ')}): image-code NLL ${loss.map((x) => x.toFixed(3)).join(', ')} (ρ ${f2(rhoLoss)}); token accuracy ${acc.map((x) => x.toFixed(3)).join(', ')} (ρ ${f2(rhoAcc)}); drawn scenes' objects in place ${chk.map((x) => (Number.isFinite(x) ? x.toFixed(3) : '—')).join(', ')} (ρ ${f2(rhoChk)}); NLL falling at every checkpoint: ${sorted.map((r, i) => `${r.size} ${monotone[i] ? 'yes' : 'no'}`).join(', ')}`,
    criterion: `at the last checkpoint image-code NLL falls with size (rank correlation ≤ −${RANK_THRESHOLD}) while token accuracy and the scene checker's accuracy on drawn images rise with it (≥ +${RANK_THRESHOLD}); and in every size's run the NLL falls from each evaluation checkpoint to the next (every seed)`,
    reproduces: rhoLoss <= -RANK_THRESHOLD && rhoAcc >= RANK_THRESHOLD && rhoChk >= RANK_THRESHOLD && monotone.every(Boolean),
    failed,
  };
}

/** Experiment 3: per size, image-code NLL and drawn-image checker accuracy per item of the mixed and generation-only runs. */
export function imageCostVerdict(rows: ReadonlyArray<SizeKey & { mixed: { imageNll: SeedScores; checker: SeedScores }; gen: { imageNll: SeedScores; checker: SeedScores } }>): Verdict & { failed: string[] } {
  const sorted = bySize(rows, 'liquid.imageCostVerdict');
  const loss = sorted.map((r) => pairedCompare(r.mixed.imageNll, r.gen.imageNll, `image cost at ${r.size} (mixed vs generation-only NLL)`));
  const drawn = sorted.map((r) => pairedCompare(r.gen.checker, r.mixed.checker, `image cost at ${r.size} (generation-only vs mixed drawn scenes)`));
  const stays = loss.every((c) => c.mean > 2 * c.standardError);
  const { rho, shrinks } = shrinksWithSize(sorted.map((r) => r.params), drawn.map((c) => c.mean));
  return {
    claim: 'Mixed training costs image-code loss at every size, but its cost in drawn-image quality shrinks as the model grows',
    paper: '“Mix training results in higher validation loss on visual generation tasks for models of every size. However, its impact on the VQA Score diminishes as the size of the model increases”',
    ours: `image-code NLL, mixed − generation-only: ${sorted.map((r, i) => `${r.size} ${describe(loss[i])}`).join('; ')}. Drawn scenes' objects in place, generation-only − mixed: ${sorted.map((r, i) => `${r.size} ${describe(drawn[i])}`).join('; ')}; rank correlation with size ${f2(rho)}`,
    criterion: `at every size the mixed run's held-out image-code NLL is above the generation-only run's by more than 2 s.e. (paired over items), and the drawn-image gap (generation-only − mixed scene-checker accuracy) falls with size (rank correlation ≤ −${RANK_THRESHOLD}) with the largest model's gap under half the smallest's`,
    reproduces: stays && shrinks,
    failed: [
      ...sorted.flatMap((r, i) => (loss[i].mean > 2 * loss[i].standardError ? [] : [`at ${r.size} the mixed run's image-code NLL is not above the generation-only run's by more than 2 s.e. (${f3(loss[i].mean)} ± ${loss[i].standardError.toFixed(3)})`])),
      ...shrinkFailures('drawn-image gap', drawn.map((c) => c.mean), rho),
    ],
  };
}

/** The five arms of experiment 4, each with its per-item image-code NLL and question correctness (0/1). */
export type MutualArm = 'base' | 'addT2i' | 'addI2t' | 'matched' | 'addText';
export type MutualScores = Record<MutualArm, { imageNll: SeedScores; questions: SeedScores }>;

const MUTUAL_LABEL: Record<MutualArm, string> = { base: '1:1:1', addT2i: '1:2:1', addI2t: '1:1:2', matched: '1:1:1 compute-matched', addText: '2:1:1' };

/** Experiment 4 (see the file comment). */
export function mutualVerdict(n: MutualScores, size = 'one size'): Verdict & { failed: string[]; generation: Record<'base' | 'matched' | 'addText', Comparison>; understanding: Record<'base' | 'matched' | 'addText', Comparison> } {
  const others = ['base', 'matched', 'addText'] as const;
  const generation = Object.fromEntries(others.map((b) => [b, pairedCompare(n.addI2t.imageNll, n[b].imageNll, `generation (1:1:2 vs ${MUTUAL_LABEL[b]})`)])) as Record<(typeof others)[number], Comparison>;
  const understanding = Object.fromEntries(others.map((b) => [b, pairedCompare(n.addT2i.questions, n[b].questions, `understanding (1:2:1 vs ${MUTUAL_LABEL[b]})`)])) as Record<(typeof others)[number], Comparison>;
  const genWins = others.every((b) => generation[b].mean < -2 * generation[b].standardError);
  const undWins = others.every((b) => understanding[b].mean > 2 * understanding[b].standardError);
  return {
    claim: 'Understanding and generation improve each other: extra image → text data improves generation, extra text → image data improves understanding',
    paper: '“adding more visual understanding data enhances the visual generation capability … increasing the visual generation data similarly aids in enhancing the model\'s visual understanding ability” (30M rows 1:1:1 baseline; 40M rows “Add T2I” 1:2:1 and “Add I2T” 1:1:2)',
    ours:
      `at ${size}: image-code NLL, 1:1:2 − ${others.map((b) => `${MUTUAL_LABEL[b]} ${describe(generation[b])}`).join('; ')}. ` +
      `Question accuracy, 1:2:1 − ${others.map((b) => `${MUTUAL_LABEL[b]} ${describe(understanding[b])}`).join('; ')}`,
    criterion: 'extra understanding data (1:1:2) beats the baseline (1:1:1) and both controls (1:1:1 for as many steps as the 40M arms; 2:1:1) on generation (held-out image-code NLL lower), and extra generation data (1:2:1) beats the same three on understanding (held-out question accuracy higher), each by more than 2 s.e., paired over held-out items',
    reproduces: genWins && undWins,
    failed: [
      ...others.filter((b) => !(generation[b].mean < -2 * generation[b].standardError)).map((b) => `1:1:2 does not beat ${MUTUAL_LABEL[b]} on image-code NLL by more than 2 s.e. (${f3(generation[b].mean)} ± ${generation[b].standardError.toFixed(3)})`),
      ...others.filter((b) => !(understanding[b].mean > 2 * understanding[b].standardError)).map((b) => `1:2:1 does not beat ${MUTUAL_LABEL[b]} on question accuracy by more than 2 s.e. (${f3(understanding[b].mean)} ± ${understanding[b].standardError.toFixed(3)})`),
    ],
    generation,
    understanding,
  };
}

export interface Numbers {
  languageCost?: Parameters<typeof languageCostVerdict>[0];
  scaling?: Parameters<typeof scalingVerdict>[0];
  imageCost?: Parameters<typeof imageCostVerdict>[0];
  mutual?: { size: string; scores: MutualScores };
}

/** The verdicts of the experiments measured (in the issue's order), each with the parts of its criterion that failed. */
export function verdicts(n: Numbers): Array<Verdict & { failed: string[] }> {
  const out: Array<Verdict & { failed: string[] }> = [];
  if (n.languageCost) out.push(languageCostVerdict(n.languageCost));
  if (n.scaling) out.push(scalingVerdict(n.scaling));
  if (n.imageCost) out.push(imageCostVerdict(n.imageCost));
  if (n.mutual) out.push(mutualVerdict(n.mutual.scores, n.mutual.size));
  return out;
}
