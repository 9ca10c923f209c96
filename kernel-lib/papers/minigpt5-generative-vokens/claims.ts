/**
 * The MiniGPT-5 paper's claims (Zheng, He & Wang 2023) judged on numbers measured here, each with the
 * criterion it is judged by. The criteria were written here before any arm was trained (issue #15:
 * "criteria fixed before running"); notebook 04's closing cell prints what reproduces and what does not.
 *
 * Image metrics per held-out item: CLIP-I (generated vs ground-truth image), CLIP-T (generated image vs its
 * caption), scene accuracy (share of the caption's objects the scene checker finds in place); FID of a
 * seed's whole set of images against the references (one number per seed, no per-item value). The paper's
 * IS has no workbench stand-in (there is no Inception network here) and is not judged. Text: the NLL of
 * held-out story narrations, teacher-forced.
 *
 * Every per-item comparison is paired (papers/paired.ts): for arms A and B, d_i = (A on item i, mean over
 * seeds) − (B's), its mean and standard error over items; a difference counts when it is more than 2 s.e.
 * from zero, has the same sign in every seed on its own (seed k against seed k), and each arm has at least
 * `minSeeds` seeds (3: issue #15's "3 seeds where a run is ≤ 15 min"). FID counts when it is lower in
 * every seed.
 *
 * Each verdict also lists, in `failed`, the parts of its criterion that did not hold, in words (empty when it
 * reproduces), so the notebook can say plainly what did not reproduce and why.
 */
import { compare, criterionParts, describe, signed3 as f3 } from '../paired';
import type { Comparison, SeedScores } from '../paired';
import type { Verdict } from '../verdict';

/** One arm's image scores: per-item [seed][item] for CLIP-I, CLIP-T and scene accuracy, and FID per seed. */
export interface ImageScores {
  clipI: SeedScores;
  clipT: SeedScores;
  scene: SeedScores;
  fid: readonly number[];
}

export const CONTEXTS = ['none', 'text', 'image', 'image-text'] as const;
export type Context = (typeof CONTEXTS)[number];

export interface Numbers {
  /** Table 5 on held-out scene captions (stage 1). */
  table5?: Record<'full' | 'no-cfg' | 'no-cap' | 'no-ldm', ImageScores>;
  /** Table 7 on the same items. */
  table7?: Record<'full' | 'fixed-queries' | 'decoder-only', ImageScores>;
  /** Table 6: CLIP-I of the last frame of held-out stories under each context, MiniGPT-5 and the two-stage baseline. */
  table6?: Record<'minigpt5' | 'twoStage', Record<Context, SeedScores>>;
  /** Table 2: held-out narration NLL per item (nats per token): the stage-2 model and the text-only baseline. */
  table2?: { minigpt5: SeedScores; textOnly: SeedScores };
  /** Seeds each verdict-bearing arm needs (default 3). */
  minSeeds?: number;
}

export type { Verdict } from '../verdict';

/** The paper's numbers (CC3M validation for Tables 5 and 7, VIST for Tables 6 and 2), quoted from its tables. */
export const PAPER = {
  table5: {
    full: { clipI: 0.61, clipT: 0.22, is: 28.09, fid: 31.47 },
    'no-cfg': { clipI: 0.6, clipT: 0.22, is: 23.41, fid: 33.73 },
    'no-cap': { clipI: 0.54, clipT: 0.16, is: 21.27, fid: 40.24 },
    'no-ldm': { clipI: 0.58, clipT: 0.2, is: 24.79, fid: 34.65 },
  },
  table7: {
    full: { clipI: 0.61, clipT: 0.22, is: 28.09, fid: 31.47 },
    'fixed-queries': { clipI: 0.6, clipT: 0.21, is: 28.55, fid: 30.56 },
    'decoder-only': { clipI: 0.58, clipT: 0.2, is: 24.74, fid: 34.88 },
  },
  /** CLIP-I of the final-step image: no context / text / image / image-text context. */
  table6: { minigpt5: [0.61, 0.64, 0.69, 0.7], twoStage: [0.54, 0.56, 0.57, 0.58] },
  /** S-BERT / Rouge-L / METEOR of VIST narrations: MiniGPT-4 (LoRA, no vokens) vs MiniGPT-5. */
  table2: { minigpt4: [0.6273, 0.3401, 0.3296], minigpt5: [0.6315, 0.3373, 0.3263] },
} as const;

/** Table 2's non-inferiority margin: adding vokens may cost at most this much narration NLL (nats per token). */
export const TEXT_MARGIN = 0.05;

const fmt = (p: { clipI: number; clipT: number; is: number; fid: number }) => `CLIP-I ${p.clipI.toFixed(2)}, CLIP-T ${p.clipT.toFixed(2)}, IS ${p.is.toFixed(2)}, FID ${p.fid.toFixed(2)}`;
const fids = (x: readonly number[]) => x.map((f) => f.toFixed(3)).join(', ');

/** FID of A below B's in every seed (seed k against seed k). */
export function fidLower(a: readonly number[], b: readonly number[], minSeeds: number): boolean {
  if (a.length !== b.length) throw new Error(`minigpt5: FID has ${a.length} and ${b.length} seeds; pair seed k with seed k`);
  return a.length >= minSeeds && a.every((x, k) => Number.isFinite(x) && x < b[k]);
}

/** A − B on CLIP-I, CLIP-T and scene accuracy (per item), and both arms' FIDs. */
function imageDiffs(a: ImageScores, b: ImageScores, what: string): Record<'clipI' | 'clipT' | 'scene', Comparison> {
  return {
    clipI: compare(a.clipI, b.clipI, `${what} CLIP-I`),
    clipT: compare(a.clipT, b.clipT, `${what} CLIP-T`),
    scene: compare(a.scene, b.scene, `${what} scene accuracy`),
  };
}

const judged = (minSeeds: number) =>
  `paired over held-out items (per item the mean over seeds), more than 2 s.e. from zero, the same sign in every seed on its own, at least ${minSeeds} seeds per arm`;

/** One part of a criterion: whether it held, and what failed when it did not. */
type Part = { held: boolean; why: string[] };

/**
 * A − B above zero by more than 2 s.e., in every seed, with at least `minSeeds` seeds (papers/paired.ts
 * criterionParts, as higherBy2se), with what failed: one entry per failed part, naming the seeds that fail.
 */
function above(c: Comparison, minSeeds: number, what: string): Part {
  const p = criterionParts(c, minSeeds, 'higher');
  const why: string[] = [];
  if (!p.margin) why.push(`${what}: ${f3(c.mean)} is not above 2 s.e. (${(2 * c.standardError).toFixed(3)})`);
  if (!p.everySeed) why.push(`${what}: not above zero in every seed (${c.perSeed.flatMap((x, k) => (x > 0 ? [] : [`seed ${k} ${f3(x)}`])).join(', ')})`);
  if (!p.enoughSeeds) why.push(`${what}: ${c.seeds} seed${c.seeds === 1 ? '' : 's'}, the criterion needs ${minSeeds}`);
  return { held: why.length === 0, why };
}

/** A condition with the words that say it failed. */
const part = (held: boolean, why: string): Part => ({ held, why: held ? [] : [why] });

/** All parts must hold; `failed` keeps each failure once, in order. */
function allOf(...parts: Part[]): { reproduces: boolean; failed: string[] } {
  return { reproduces: parts.every((p) => p.held), failed: [...new Set(parts.flatMap((p) => p.why))] };
}

/** A verdict with the parts of its criterion that failed (empty when it reproduces). */
export type JudgedVerdict = Verdict & { failed: string[] };

/** Table 5, Table 7, Table 6 and Table 2, each judged where its numbers are given. */
export function verdicts(n: Numbers): JudgedVerdict[] {
  const minSeeds = n.minSeeds ?? 3;
  if (!Number.isInteger(minSeeds) || minSeeds < 1) throw new Error(`minigpt5.verdicts: minSeeds must be a positive integer, got ${JSON.stringify(n.minSeeds)}`);
  const rule = judged(minSeeds);
  const up = (c: Comparison, what: string) => above(c, minSeeds, what);
  const notBelow = (c: Comparison, what: string) => part(c.mean > -2 * c.standardError, `${what}: ${f3(c.mean)} is lower by more than 2 s.e. (${(2 * c.standardError).toFixed(3)})`);
  const fid = (a: readonly number[], b: readonly number[], what: string) =>
    part(fidLower(a, b, minSeeds), a.length < minSeeds ? `${what}: ${a.length} seed${a.length === 1 ? '' : 's'}, the criterion needs ${minSeeds}` : `${what}: not lower in every seed (${fids(a)} vs ${fids(b)})`);
  const out: JudgedVerdict[] = [];
  const P = PAPER;

  if (n.table5) {
    const t = n.table5;
    const cap = imageDiffs(t.full, t['no-cap'], 'Table 5 (full vs w/o L_CAP)');
    out.push({
      claim: 'Table 5: without L_CAP the images are worse (the caption loss "significantly aids")',
      paper: `full ${fmt(P.table5.full)}; w/o L_CAP ${fmt(P.table5['no-cap'])}`,
      ours: `full − w/o L_CAP: CLIP-I ${describe(cap.clipI)}; CLIP-T ${describe(cap.clipT)}`,
      criterion: `full > w/o L_CAP on CLIP-I and on CLIP-T, each ${rule}`,
      ...allOf(up(cap.clipI, 'full − w/o L_CAP CLIP-I'), up(cap.clipT, 'full − w/o L_CAP CLIP-T')),
    });
    const vsCfg = compare(t['no-cfg'].clipI, t['no-cap'].clipI, 'Table 5 CLIP-I (w/o CFG vs w/o L_CAP)');
    const vsLdm = compare(t['no-ldm'].clipI, t['no-cap'].clipI, 'Table 5 CLIP-I (w/o L_LDM vs w/o L_CAP)');
    out.push({
      claim: 'Table 5: removing L_CAP hurts most',
      paper: `CLIP-I 0.54 without L_CAP, 0.58 without L_LDM, 0.60 without CFG (full 0.61)`,
      ours: `CLIP-I, w/o CFG − w/o L_CAP ${describe(vsCfg)}; w/o L_LDM − w/o L_CAP ${describe(vsLdm)}`,
      criterion: `w/o L_CAP has the lowest CLIP-I: below w/o CFG and below w/o L_LDM, each ${rule}`,
      ...allOf(up(vsCfg, 'CLIP-I w/o CFG − w/o L_CAP'), up(vsLdm, 'CLIP-I w/o L_LDM − w/o L_CAP')),
    });
    const cfg = imageDiffs(t.full, t['no-cfg'], 'Table 5 (full vs w/o CFG)');
    out.push({
      claim: 'Table 5: CFG over vokens helps every metric',
      paper: `full ${fmt(P.table5.full)}; w/o CFG ${fmt(P.table5['no-cfg'])} ("all metrics are worse without CFG")`,
      ours: `full − w/o CFG: CLIP-I ${describe(cfg.clipI)}; scene accuracy ${describe(cfg.scene)}; CLIP-T ${describe(cfg.clipT)}; FID per seed full ${fids(t.full.fid)}, w/o CFG ${fids(t['no-cfg'].fid)}`,
      criterion: `full > w/o CFG on CLIP-I and scene accuracy, each ${rule}; CLIP-T not lower by more than 2 s.e. (the paper's are equal); FID lower in every seed`,
      ...allOf(up(cfg.clipI, 'full − w/o CFG CLIP-I'), up(cfg.scene, 'full − w/o CFG scene accuracy'), notBelow(cfg.clipT, 'full − w/o CFG CLIP-T'), fid(t.full.fid, t['no-cfg'].fid, 'FID of full below w/o CFG')),
    });
    const ldm = imageDiffs(t.full, t['no-ldm'], 'Table 5 (full vs w/o L_LDM)');
    out.push({
      claim: 'Table 5: L_LDM (aligning vokens through the decoder’s own loss) adds to L_CAP',
      paper: `full ${fmt(P.table5.full)}; w/o L_LDM ${fmt(P.table5['no-ldm'])}`,
      ours: `full − w/o L_LDM: CLIP-I ${describe(ldm.clipI)}; CLIP-T ${describe(ldm.clipT)}`,
      criterion: `full > w/o L_LDM on CLIP-I and on CLIP-T, each ${rule}`,
      ...allOf(up(ldm.clipI, 'full − w/o L_LDM CLIP-I'), up(ldm.clipT, 'full − w/o L_LDM CLIP-T')),
    });
  }

  if (n.table7) {
    const t = n.table7;
    const dec = imageDiffs(t.full, t['decoder-only'], 'Table 7 (full vs decoder-only)');
    out.push({
      claim: 'Table 7: the encoder-decoder mapper beats a decoder-only mapper on every metric',
      paper: `full ${fmt(P.table7.full)}; decoder-only ${fmt(P.table7['decoder-only'])}`,
      ours: `full − decoder-only: CLIP-I ${describe(dec.clipI)}; CLIP-T ${describe(dec.clipT)}; scene accuracy ${describe(dec.scene)}; FID per seed full ${fids(t.full.fid)}, decoder-only ${fids(t['decoder-only'].fid)}`,
      criterion: `full > decoder-only on CLIP-I, CLIP-T and scene accuracy, each ${rule}; FID lower in every seed`,
      ...allOf(up(dec.clipI, 'full − decoder-only CLIP-I'), up(dec.clipT, 'full − decoder-only CLIP-T'), up(dec.scene, 'full − decoder-only scene accuracy'), fid(t.full.fid, t['decoder-only'].fid, 'FID of full below decoder-only')),
    });
    const fixed = imageDiffs(t.full, t['fixed-queries'], 'Table 7 (full vs fixed queries)');
    out.push({
      claim: 'Table 7: fixed queries trade image–text coherence for image quality',
      paper: `full ${fmt(P.table7.full)}; fixed queries ${fmt(P.table7['fixed-queries'])} (higher IS and lower FID, lower CLIP similarities)`,
      ours: `full − fixed queries: CLIP-I ${describe(fixed.clipI)}; CLIP-T ${describe(fixed.clipT)}; FID per seed full ${fids(t.full.fid)}, fixed queries ${fids(t['fixed-queries'].fid)}`,
      criterion: `full > fixed queries on CLIP-I or on CLIP-T (${rule}), and fixed queries' FID lower than full's in every seed`,
      ...(() => {
        const [ci, ct] = [up(fixed.clipI, 'full − fixed queries CLIP-I'), up(fixed.clipT, 'full − fixed queries CLIP-T')];
        return allOf({ held: ci.held || ct.held, why: ci.held || ct.held ? [] : [...ci.why, ...ct.why] }, fid(t['fixed-queries'].fid, t.full.fid, 'FID of fixed queries below full'));
      })(),
    });
  }

  if (n.table6) {
    const m = n.table6.minigpt5;
    const c = (a: Context, b: Context) => compare(m[a], m[b], `Table 6 CLIP-I (${a} vs ${b} context)`);
    const [tn, inn, it] = [c('text', 'none'), c('image', 'none'), c('image-text', 'text')];
    out.push({
      claim: 'Table 6: more context gives MiniGPT-5 a more faithful last frame',
      paper: `CLIP-I no context ${P.table6.minigpt5[0]}, text ${P.table6.minigpt5[1]}, image ${P.table6.minigpt5[2]}, image + text ${P.table6.minigpt5[3]} (MiniGPT-5, LoRA)`,
      ours: `CLIP-I, text − none ${describe(tn)}; image − none ${describe(inn)}; image + text − text ${describe(it)}`,
      criterion: `CLIP-I (last frame vs ground truth) higher with text context than with none, with image context than with none, and with image + text than with text alone, each ${rule}`,
      ...allOf(up(tn, 'CLIP-I text − no context'), up(inn, 'CLIP-I image − no context'), up(it, 'CLIP-I image + text − text context')),
    });
    const cols = CONTEXTS.map((k) => ({ k, c: compare(m[k], n.table6!.twoStage[k], `Table 6 CLIP-I (${k} context, MiniGPT-5 vs two-stage)`) }));
    out.push({
      claim: 'Table 6: MiniGPT-5 beats the two-stage baseline (the LM writes a caption, the decoder draws it) in every context',
      paper: `CLIP-I MiniGPT-5 ${P.table6.minigpt5.join(' / ')} vs two-stage ${P.table6.twoStage.join(' / ')} (none / text / image / image + text)`,
      ours: cols.map(({ k, c: x }) => `${k}: ${describe(x)}`).join('; '),
      criterion: `MiniGPT-5 − two-stage CLIP-I above zero in each of the four contexts, each ${rule}`,
      ...allOf(...cols.map(({ k, c: x }) => up(x, `MiniGPT-5 − two-stage CLIP-I (${k} context)`))),
    });
  }

  if (n.table2) {
    const d = compare(n.table2.minigpt5, n.table2.textOnly, 'Table 2 narration NLL (MiniGPT-5 vs text-only)');
    out.push({
      claim: 'Table 2: adding generative vokens does not hurt narration',
      paper: `S-BERT / Rouge-L / METEOR ${P.table2.minigpt5.join(' / ')} (MiniGPT-5) vs ${P.table2.minigpt4.join(' / ')} (MiniGPT-4, same LoRA, no vokens)`,
      ours: `held-out narration NLL (nats per token), MiniGPT-5 − text-only ${describe(d)}`,
      criterion: `non-inferior: mean + 2 s.e. of MiniGPT-5 − text-only narration NLL below ${TEXT_MARGIN} nats per token, every seed's own mean difference below it too, at least ${minSeeds} seeds`,
      ...allOf(
        part(d.mean + 2 * d.standardError < TEXT_MARGIN, `narration NLL MiniGPT-5 − text-only: mean + 2 s.e. = ${f3(d.mean + 2 * d.standardError)}, not below the ${TEXT_MARGIN} margin`),
        part(d.perSeed.every((x) => x < TEXT_MARGIN), `narration NLL MiniGPT-5 − text-only: not below ${TEXT_MARGIN} in every seed (${d.perSeed.map(f3).join(', ')})`),
        part(d.seeds >= minSeeds, `narration NLL: ${d.seeds} seed${d.seeds === 1 ? '' : 's'}, the criterion needs ${minSeeds}`),
      ),
    });
  }
  return out;
}
