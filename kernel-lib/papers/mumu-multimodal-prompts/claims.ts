/**
 * The MUMU paper's findings (Berman & Peysakhovich 2024) judged on numbers measured here, each with the
 * criterion it is judged by. The criteria were written here before any arm was trained (issue #17:
 * "criteria fixed before running"); notebook 05's closing cell prints what reproduces and what does not.
 *
 * Scores are per held-out prompt (evaluate.ts): identity accuracy of generic-word objects, CLIP-I of crop vs
 * output region, copy share, harmonised (0/1). Every comparison is paired (papers/paired.ts): for arms A and
 * B, d_i = (A on prompt i, mean over seeds) − (B's), its mean and standard error over prompts; a difference
 * counts when it is more than 2 s.e. from zero, has the same sign in every seed on its own (seed k against
 * seed k), and each arm has at least `minSeeds` seeds (3: issue #17's "3 seeds where a run is ≤ 15 min").
 * "Same-source" prompts are the held-out scenes' own crops; "other-source" prompts are the three
 * harmonisation sets of data/mumu-sources.ts (emoji, shifted-emoji, two-scenes). Each verdict also lists, in
 * `failed`, the parts of its criterion that did not hold (empty when it reproduces): the notebook's "why not";
 * results files keep the five shared fields only.
 */
import { compare, describe, higherBy2se, lowerBy2se, signed3, whyNot } from '../paired';
import type { Comparison, SeedScores } from '../paired';
import { TOKENS_PER_CROP, TokensPerCrop } from './pooler';
import { COPY_DISTANCE } from './evaluate';
import type { Verdict } from '../verdict';

export const OTHER_SOURCES = ['emoji', 'shifted-emoji', 'two-scenes'] as const;
export type OtherSource = (typeof OTHER_SOURCES)[number];

/** An arm's per-prompt detail scores on held-out same-source prompts, [seed][prompt]. */
export interface DetailScores {
  identity: SeedScores;
  cropClipI: SeedScores;
}

export interface Numbers {
  /** Finding 1: the `mumu` arm at each tokens per crop, on held-out same-source prompts. */
  finding1?: Record<TokensPerCrop, DetailScores>;
  /** Finding 2: `harmonised` per other-source set, `mumu` (64 tokens) and `caption-only` on the same prompts. */
  finding2?: Record<OtherSource, { mumu: SeedScores; captionOnly: SeedScores }>;
  /**
   * §7 Question 3 / Fig. 12: augmentation on (`mumu`) and off (`no-augment`), both at 64 tokens: crop CLIP-I on
   * same-source prompts; copy share and harmonised on the other-source prompts (the three sets, concatenated).
   */
  augmentation?: Record<'augment' | 'noAugment', { cropClipI: SeedScores; copied: SeedScores; harmonised: SeedScores }>;
  /** Encoder vs caption-only: `mumu` (64) and `caption-only` on held-out same-source prompts. */
  captionOnly?: Record<'mumu' | 'captionOnly', DetailScores>;
  /** §7 Question 1: the decoder with LoRA (`mumu`) and fully trained (`decoder-full`), same-source prompts. */
  decoder?: Record<'lora' | 'full', DetailScores>;
  /** Seeds each verdict-bearing arm needs (default 3). */
  minSeeds?: number;
}

export type { Verdict } from '../verdict';
/** A verdict with the parts of its criterion that failed. */
export type MumuVerdict = Verdict & { failed: string[] };

/** What the paper says, quoted from its text (it reports no numbers for these: its evaluation is qualitative, §6–7). */
export const PAPER = {
  finding1:
    '"Finding 1: Long input contexts are important … In early experiments including Idefics2’s perceiver, we found that MUMU was good at preserving high level concepts but struggled with details. Detail preservation increases with removing the perceiver and increasing tokens per image up to approximately 1,000 tokens per image, see Figure 5."',
  finding2:
    '"Finding 2: MUMU harmonizes diverse conditioning images. MUMU is only trained on crops from the same input image. However, as seen in Figure 10, the model learns to harmonize conditioning images from different inputs into a coherent generation."',
  augmentation:
    '"For example, removing data augmentation created models with strong multimodal CLIP scores, but they had a tendency to copy-paste inputs directly into the generation and were not as good at harmonizing diverse inputs, see Figure 12" (§7, Question 3)',
  captionOnly:
    '"Multimodal prompts with direct inputs of conditioning into the diffusion model (MUMU) allows for much better detail preservation than ChatGPT+DALLE3 which uses images and text to construct a highly detailed text prompt for a text-to-image generator" (Fig. 4)',
  decoder:
    '"LORA TRAINING We hypothesize the largest increase in model quality would come from fully training all models without LoRAs. We found that at our batch sizes and learning rates fully training the models led to divergences" (§7, Question 1)',
} as const;

const judged = (minSeeds: number) =>
  `paired over held-out prompts (per prompt the mean over seeds), more than 2 s.e. from zero, the same sign in every seed on its own, at least ${minSeeds} seeds per arm`;

/** The detail scores in words, as the verdicts' "why not" names them. */
const DETAIL_NAMES: Record<keyof DetailScores, string> = { identity: 'identity accuracy', cropClipI: 'crop–region CLIP-I' };

/** A step along the tokens-per-crop axis lower than the one before by more than 2 s.e. (no difference at all is no drop). */
const drops = (c: Comparison) => c.mean < -2 * c.standardError;

const fails = (...xs: Array<string | null>): string[] => xs.filter((x): x is string => x !== null);

/** Each claim judged where its numbers are given. */
export function verdicts(n: Numbers): MumuVerdict[] {
  const minSeeds = n.minSeeds ?? 3;
  if (!Number.isInteger(minSeeds) || minSeeds < 1) throw new Error(`mumu.verdicts: minSeeds must be a positive integer, got ${JSON.stringify(n.minSeeds)}`);
  const rule = judged(minSeeds);
  const up = (c: Comparison) => higherBy2se(c, minSeeds);
  const down = (c: Comparison) => lowerBy2se(c, minSeeds);
  const notUp = (c: Comparison, what: string) => whyNot(c, minSeeds, 'higher', what);
  const notDown = (c: Comparison, what: string) => whyNot(c, minSeeds, 'lower', what);
  const out: MumuVerdict[] = [];

  if (n.finding1) {
    const f = n.finding1;
    const missing = TOKENS_PER_CROP.filter((t) => !(t in f));
    if (missing.length > 0) throw new Error(`mumu.verdicts: finding1 needs every tokens-per-crop setting; missing ${missing.join(', ')}`);
    const per = (m: keyof DetailScores) => {
      const steps = TOKENS_PER_CROP.slice(1).map((t, i) => compare(f[t][m], f[TOKENS_PER_CROP[i]][m], `Finding 1 ${m} (${t} vs ${TOKENS_PER_CROP[i]} tokens)`));
      const ends = compare(f[64][m], f[1][m], `Finding 1 ${m} (64 vs 1 tokens)`);
      const fell = steps.flatMap((c, i) => (drops(c) ? [`${DETAIL_NAMES[m]} falls from ${TOKENS_PER_CROP[i]} to ${TOKENS_PER_CROP[i + 1]} tokens by more than 2 s.e. (${c.mean.toFixed(3)} ± ${c.standardError.toFixed(3)})`] : []));
      return { steps, ends, ok: up(ends) && fell.length === 0, failed: fails(notUp(ends, `${DETAIL_NAMES[m]}, 64 − 1 tokens`), ...fell) };
    };
    const id = per('identity');
    const ci = per('cropClipI');
    const show = (x: ReturnType<typeof per>) => `64 − 1 tokens ${describe(x.ends)}; steps 4 − 1, 16 − 4, 64 − 16: ${x.steps.map((c) => `${signed3(c.mean)} ± ${c.standardError.toFixed(3)}`).join(', ')}`;
    out.push({
      claim: 'Finding 1 (Fig. 5): more tokens per crop preserve more of the crop’s detail',
      paper: PAPER.finding1,
      ours: `identity accuracy of generic-word objects: ${show(id)}. Crop–region CLIP-I: ${show(ci)}`,
      criterion: `on both identity accuracy (generic-word prompts) and crop–region CLIP-I: 64 tokens per crop above 1, ${rule}; and detail rises with tokens: no step 1 → 4 → 16 → 64 lower than the one before by more than 2 s.e.`,
      reproduces: id.ok && ci.ok,
      failed: [...id.failed, ...ci.failed],
    });
  }

  if (n.finding2) {
    const missing = OTHER_SOURCES.filter((k) => !(k in n.finding2!));
    if (missing.length > 0) throw new Error(`mumu.verdicts: finding2 needs every other-source set; missing ${missing.join(', ')}`);
    const cs = OTHER_SOURCES.map((k) => ({ k, c: compare(n.finding2![k].mumu, n.finding2![k].captionOnly, `Finding 2 harmonised (${k}: mumu vs caption-only)`) }));
    out.push({
      claim: 'Finding 2 (Fig. 6): trained only on same-image crops, MUMU combines crops from other sources into one coherent scene',
      paper: PAPER.finding2,
      ours: `share of prompts with every object found in its caption region, MUMU − caption-only: ${cs.map(({ k, c }) => `${k} ${describe(c)}`).join('; ')}`,
      criterion: `on each other-source set (a full-size emoji, a colour-shifted emoji, crops from two different scenes laid out anew), MUMU (64 tokens) harmonises more prompts than the caption-only baseline on the same prompts, ${rule}`,
      reproduces: cs.every(({ c }) => up(c)),
      failed: fails(...cs.map(({ k, c }) => notUp(c, `${k}: MUMU − caption-only harmonised`))),
    });
  }

  if (n.augmentation) {
    const a = n.augmentation;
    const clip = compare(a.noAugment.cropClipI, a.augment.cropClipI, '§7 crop CLIP-I (no-augment vs augment)');
    const copy = compare(a.noAugment.copied, a.augment.copied, '§7 copy share (no-augment vs augment)');
    const harm = compare(a.noAugment.harmonised, a.augment.harmonised, '§7 harmonised (no-augment vs augment)');
    out.push({
      claim: '§7 (Fig. 12): without crop augmentation the crop-similarity metric rises, but the model copies crops and harmonises worse',
      paper: PAPER.augmentation,
      ours: `no-augment − augment: crop–region CLIP-I (same-source) ${describe(clip)}; copy share (other-source) ${describe(copy)}; harmonised (other-source) ${describe(harm)}`,
      criterion: `both parts, each difference ${rule}: (1) the misleading metric: no-augment's crop–region CLIP-I on same-source prompts above augment's; (2) the harm: on other-source prompts no-augment copies more crops (ink distance ≤ ${COPY_DISTANCE} at the crop's original size and place) and harmonises fewer prompts`,
      reproduces: up(clip) && up(copy) && down(harm),
      failed: fails(notUp(clip, '(1) crop–region CLIP-I, no-augment − augment'), notUp(copy, '(2) copy share, no-augment − augment'), notDown(harm, '(2) harmonised, no-augment − augment')),
    });
  }

  if (n.captionOnly) {
    const c = n.captionOnly;
    const id = compare(c.mumu.identity, c.captionOnly.identity, 'encoder vs caption-only identity');
    const ci = compare(c.mumu.cropClipI, c.captionOnly.cropClipI, 'encoder vs caption-only crop CLIP-I');
    out.push({
      claim: 'Multimodal prompts through the LM keep more of the crops than the caption alone (Fig. 4)',
      paper: PAPER.captionOnly,
      ours: `MUMU − caption-only: identity accuracy of generic-word objects ${describe(id)}; crop–region CLIP-I ${describe(ci)}`,
      criterion: `MUMU (64 tokens) above the caption-only baseline (the decoder’s own caption encoder on the prompt’s words, the same LoRA training) on identity accuracy of generic-word objects and on crop–region CLIP-I, each ${rule}`,
      reproduces: up(id) && up(ci),
      failed: fails(notUp(id, 'identity accuracy, MUMU − caption-only'), notUp(ci, 'crop–region CLIP-I, MUMU − caption-only')),
    });
  }

  if (n.decoder) {
    const d = n.decoder;
    const id = compare(d.full.identity, d.lora.identity, '§7 Q1 identity (full vs LoRA)');
    const ci = compare(d.full.cropClipI, d.lora.cropClipI, '§7 Q1 crop CLIP-I (full vs LoRA)');
    out.push({
      claim: '§7 Question 1 (the paper’s hypothesis): a fully trained decoder beats rank-8 LoRA',
      paper: PAPER.decoder,
      ours: `decoder-full − LoRA: identity accuracy ${describe(id)}; crop–region CLIP-I ${describe(ci)}`,
      criterion: `the fully trained decoder above the LoRA decoder on identity accuracy and on crop–region CLIP-I, each ${rule} (the recipe stops a run whose loss is not finite, so a diverged run has no scores)`,
      reproduces: up(id) && up(ci),
      failed: fails(notUp(id, 'identity accuracy, decoder-full − LoRA'), notUp(ci, 'crop–region CLIP-I, decoder-full − LoRA')),
    });
  }
  return out;
}
