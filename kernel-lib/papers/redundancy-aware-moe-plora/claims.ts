/**
 * The PLoRA paper's claims (Dutt et al., "Efficient Multimodal Generation via Redundancy-Aware
 * Mixture-of-Experts", ICLR 2026) checked
 * against numbers measured here, each with the criterion it is judged by, so a notebook's closing cell
 * says plainly what reproduces at workbench scale and what does not.
 */
import { pairedDifference } from '../../util/stats';
import type { Verdict } from '../verdict';

export interface Numbers {
  /** Change of the text-suite average vs the base model, percentage points (Table 1's bracket). */
  textAverageDelta: { lora: number; plora: number };
  /** Held-out text perplexity of each model (the suite's most sensitive number: its tasks can sit at floor or ceiling). */
  textPerplexity: { base: number; lora: number; plora: number };
  /** Average expert co-activation per layer, before and after multimodal training (same tokens). */
  ecaBefore: number[];
  ecaAfter: number[];
  /** Routing exclusivity (JSD text vs image, bits) per layer, after training. */
  exclusivity: number[];
  /** Per held-out caption: CLIP-T of the PLoRA model's image with its own caption minus with a shuffled one. */
  clipTDiffs?: number[];
  /** The same for the plain-LoRA model (reported beside PLoRA's; the claim is PLoRA's). */
  clipTDiffsLoRA?: number[];
}

export type { Verdict } from '../verdict';

const pp = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)} pp`;
const f3 = (x: number) => x.toFixed(3);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Exclusivity (bits) below which text and image tokens are not "rarely" sharing experts. */
export const PRONOUNCED_EXCLUSIVITY = 0.2;

/** Judges the claims; throws when the per-layer arrays disagree in length or are too short. */
export function verdicts(n: Numbers): Verdict[] {
  const L = n.ecaBefore.length;
  if (L < 3) throw new Error(`plora.verdicts: need at least 3 layers, got ${L}`);
  if (n.ecaAfter.length !== L || n.exclusivity.length !== L) {
    throw new Error(`plora.verdicts: per-layer arrays differ in length (ecaBefore ${L}, ecaAfter ${n.ecaAfter.length}, exclusivity ${n.exclusivity.length})`);
  }
  const { lora, plora } = n.textAverageDelta;
  const ppl = n.textPerplexity;
  const pplChange = (x: number) => `${x >= ppl.base ? '+' : ''}${((100 * (x - ppl.base)) / ppl.base).toFixed(1)} %`;
  const drop = n.ecaBefore.map((b, i) => b - n.ecaAfter[i]);
  const biggest = drop.indexOf(Math.max(...drop));
  const ends = Math.min(n.exclusivity[0], n.exclusivity[L - 1]);
  const middle = Math.max(...n.exclusivity.slice(1, L - 1));
  const out: Verdict[] = [
    {
      claim: 'PLoRA preserves text performance',
      paper: 'average −0.14 pp (60.47 → 60.33)',
      ours: `${pp(plora)}; perplexity ${ppl.base.toFixed(1)} → ${ppl.plora.toFixed(1)} (${pplChange(ppl.plora)})`,
      criterion: '|Δ average| ≤ 1 pp and perplexity within +5 % of the base',
      reproduces: Math.abs(plora) <= 1 && ppl.plora <= 1.05 * ppl.base,
    },
    {
      claim: 'plain LoRA degrades text performance more than PLoRA',
      paper: 'LoRA −15.35 pp vs PLoRA −0.14 pp',
      ours: `LoRA ${pp(lora)} vs PLoRA ${pp(plora)}; perplexity LoRA ${pplChange(ppl.lora)} vs PLoRA ${pplChange(ppl.plora)}`,
      criterion: 'Δ LoRA < Δ PLoRA − 1 pp',
      reproduces: lora < plora - 1,
    },
    {
      claim: 'expert co-activation falls after multimodal training',
      paper: 'lower at every layer shown (e.g. layer 0 ≈ 0.10 after)',
      ours: `mean over layers ${f3(mean(n.ecaBefore))} → ${f3(mean(n.ecaAfter))}`,
      criterion: 'mean after < mean before',
      reproduces: mean(n.ecaAfter) < mean(n.ecaBefore),
    },
    {
      claim: 'the fall is largest in the early layers',
      paper: 'most reduced in the initial layers',
      ours: `largest drop at layer ${biggest} (${drop.map(f3).join(', ')})`,
      criterion: 'the largest drop is at layer 0',
      reproduces: biggest === 0 && drop[0] > 0,
    },
    {
      claim: 'routing is modality-exclusive at the first and last layers, shared in the middle',
      paper: 'pronounced exclusivity at layers 1 and 31, weak at 5 and 14',
      ours: `exclusivity by depth ${n.exclusivity.map(f3).join(', ')} bits`,
      criterion: `min(first, last) > max(middle layers), and min(first, last) ≥ ${PRONOUNCED_EXCLUSIVITY} bits (pronounced)`,
      reproduces: ends > middle && ends >= PRONOUNCED_EXCLUSIVITY,
    },
  ];
  if (n.clipTDiffs && n.clipTDiffs.length >= 2) out.push(captionFollowingVerdict(n.clipTDiffs, n.clipTDiffsLoRA));
  return out;
}

/**
 * The protocol of the "images follow captions" verdict. Issue #18 asked for the 48 held-out scene
 * captions mm-moe-small is evaluated on instead of the first 16; the protocol and this criterion were
 * set (here, in code) before the 48-caption numbers were measured. The criterion is unchanged.
 */
export const CAPTION_FOLLOWING_CRITERION =
  'mean paired difference (own − shuffled caption, per caption) > 2 standard errors; full mode: the 48 held-out scene captions mm-moe-small is evaluated on (16 until issue #18 asked for 48, set before measuring)';

const signed = (x: number) => `${x >= 0 ? '+' : ''}${f3(x)}`;

/** "PLoRA images follow their captions", judged on per-caption CLIP-T differences (PLoRA's; LoRA's shown beside). */
export function captionFollowingVerdict(plora: ArrayLike<number>, lora?: ArrayLike<number>): Verdict {
  const { mean: m, standardError: se } = pairedDifference(plora);
  const other = lora && lora.length >= 2 ? pairedDifference(lora) : null;
  return {
    claim: 'PLoRA images follow their captions',
    paper: 'high-fidelity text-to-image samples (Fig. 2)',
    ours:
      `CLIP-T own − shuffled caption ${signed(m)} ± ${f3(se)} (s.e., ${plora.length} held-out captions)` +
      (other ? `; plain LoRA ${signed(other.mean)} ± ${f3(other.standardError)}` : ''),
    criterion: CAPTION_FOLLOWING_CRITERION,
    reproduces: m > 2 * se,
  };
}
