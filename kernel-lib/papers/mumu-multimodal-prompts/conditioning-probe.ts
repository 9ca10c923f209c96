/**
 * Does a trained run's conditioning steer the decoder? The decoder's denoising error (MUMU's loss, ε-error,
 * and the clean-latent error ‖z_0 − x̂_0‖², see recipes/ldm-probe.ts for why both) of held-out scenes with
 *
 *   own        the run's conditioning of each scene's own prompt
 *   shuffled   the conditioning of another scene's prompt (the half-rotation: a fixed derangement)
 *   null       the null conditioning (keep = 0: the prompt arms' zeroed mask, caption-only's empty caption)
 *
 * built as the recipe builds its batches (mumuBatch, mumuConditioning) on the same noise and timesteps for
 * the three (paired), per timestep band and over all timesteps. Each scene gets, for every noise seed and
 * band, its own timestep in the band and its own noise; the differences own − null and shuffled − own are
 * averaged over seeds per scene, and their means carry standard errors over scenes. A run whose conditioning
 * the decoder ignores has all three equal; one it follows has own < null < shuffled (a wrong prompt is worse
 * than none).
 */
import * as tf from '@tensorflow/tfjs';
import type { MultimodalTokenizer } from '../../tokenizer';
import type { Conditioning } from '../../diffusion/caption-encoder';
import { noisedPrediction } from '../../diffusion/loss';
import { normalArray, rngAt } from '../../util/random';
import { mean, pairedDifference } from '../../util/stats';
import { halfRotation } from '../../eval/conditioning';
import { DEFAULT_BANDS } from '../../recipes/ldm-probe';
import type { DrawParts } from './evaluate';
import type { MumuItem } from './items';
import { LatentCache, mumuBatch } from './batch';
import { mumuConditioning } from './losses';

/** A mean over scenes and its standard error (sd / √n). */
export interface MeanSE {
  mean: number;
  se: number;
}

/** One error (ε or x̂_0) of a band: mean per kind over scenes and seeds, and the paired differences. */
export interface ProbeErrors {
  own: number;
  shuffled: number;
  null: number;
  ownMinusNull: MeanSE;
  shuffledMinusOwn: MeanSE;
}

export interface ConditioningProbeBand {
  /** Timesteps t in [from, to). */
  from: number;
  to: number;
  eps: ProbeErrors;
  x0: ProbeErrors;
}

export interface ConditioningProbeResult {
  scenes: number;
  seeds: number[];
  /** Timesteps uniform on 1…T (what the training and validation losses average over). */
  overall: ConditioningProbeBand;
  bands: ConditioningProbeBand[];
}

export interface ConditioningProbeOptions {
  /** Noise seeds (default [0, 1, 2, 3]); the same timesteps and noise for the three kinds. */
  seeds?: readonly number[];
  /** Timestep bands (default recipes/ldm-probe's). */
  bands?: ReadonlyArray<readonly [number, number]>;
  /** Scenes per decoder pass (default 16). */
  batch?: number;
}

/** The rng purpose of the probe's timesteps and noise (distinct from the training batches'). */
const PROBE_DRAWS = 61;

/** The probe (see the file comment) of a run (loadMumu's parts) on held-out items (at least 2). */
export function conditioningProbe(run: DrawParts, items: readonly MumuItem[], o: ConditioningProbeOptions = {}): ConditioningProbeResult {
  const n = items.length;
  if (n < 2) throw new Error(`mumu.conditioningProbe: needs at least 2 items (a shuffled prompt is another item's), got ${n}`);
  const seeds = o.seeds ?? [0, 1, 2, 3];
  if (seeds.length < 1 || seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error(`mumu.conditioningProbe: seeds must be non-negative integers (at least one), got ${JSON.stringify(seeds)}`);
  const batch = o.batch ?? 16;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`mumu.conditioningProbe: batch must be a positive integer, got ${JSON.stringify(o.batch)}`);
  const { ldm } = run;
  const T = ldm.config.timesteps;
  const bands = o.bands ?? DEFAULT_BANDS;
  for (const [a, b] of bands) if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 1 && b > a && b <= T + 1)) throw new Error(`mumu.conditioningProbe: band [${a}, ${b}) is not within timesteps 1…${T}`);
  const all: ReadonlyArray<readonly [number, number]> = [[1, T + 1], ...bands];

  const tok: MultimodalTokenizer | null = run.session?.tokenizer ?? null;
  const encoder = run.connector ? 'prompt' : 'caption';
  if (encoder === 'prompt' && !tok) throw new Error('mumu.conditioningProbe: a prompt arm reads its prompts through the LM; give its session');
  const tokensPerCrop = run.connector && tok ? run.connector.tokensPerCrop(tok.imageGrid.height * tok.imageGrid.width) : 0;
  const parts = { model: run.session?.model ?? null, connector: run.connector, ldm };
  const cache = new LatentCache(ldm);
  const other = halfRotation(Array.from({ length: n }, (_, i) => i));
  const per = ldm.config.latentSize * ldm.config.latentSize * ldm.config.latentChannels;

  // per band, kind, error: the per-scene error summed over seeds
  const kinds = ['own', 'shuffled', 'null'] as const;
  const sums = all.map(() => ({ eps: kinds.map(() => new Float64Array(n)), x0: kinds.map(() => new Float64Array(n)) }));
  for (let i = 0; i < n; i += batch) {
    const rows = Array.from({ length: Math.min(batch, n - i) }, (_, k) => i + k);
    const own = rows.map((r) => items[r]);
    const build = (its: readonly MumuItem[], keep: number) => mumuBatch(tok, cache, its, { encoder, tokensPerCrop, condDrop: 0, keep: new Float32Array(its.length).fill(keep), noiseSeed: 0 });
    const ownBatch = build(own, 1);
    const latents = ownBatch.latents; // every kind denoises the own scenes
    const conds: Conditioning[] = [];
    try {
      for (const b of [ownBatch, build(rows.map((r) => items[other[r]]), 1), build(own, 0)]) {
        conds.push(tf.tidy(() => mumuConditioning(parts, b) as unknown as tf.TensorContainerObject) as unknown as Conditioning);
      }
      all.forEach(([from, to], bi) => {
        for (const seed of seeds) {
          const ts: number[] = [];
          const eps = new Float32Array(latents.length);
          rows.forEach((r, k) => {
            const rand = rngAt(seed, PROBE_DRAWS, r * all.length + bi); // a scene's draw never depends on the batching
            ts.push(from + Math.floor(rand() * (to - from)));
            eps.set(normalArray(per, 1, rand), k * per);
          });
          conds.forEach((cond, ki) => {
            const [e, x] = rowErrors(parts.ldm, latents, eps, ts, cond);
            rows.forEach((r, k) => {
              sums[bi].eps[ki][r] += e[k];
              sums[bi].x0[ki][r] += x[k];
            });
          });
        }
      });
    } finally {
      for (const c of conds) tf.dispose([c.seq, c.mask]);
    }
  }
  const S = seeds.length;
  const errors = (v: Float64Array[]): ProbeErrors => {
    const [own, shuffled, nul] = v.map((a) => Array.from(a, (x) => x / S));
    return { own: mean(own), shuffled: mean(shuffled), null: mean(nul), ownMinusNull: meanSE(own.map((x, r) => x - nul[r])), shuffledMinusOwn: meanSE(shuffled.map((x, r) => x - own[r])) };
  };
  const out = all.map(([from, to], bi) => ({ from, to, eps: errors(sums[bi].eps), x0: errors(sums[bi].x0) }));
  return { scenes: n, seeds: [...seeds], overall: out[0], bands: out.slice(1) };
}

/** Per-row ε-error and x̂_0 error (host numbers) of one denoiser pass. */
function rowErrors(m: DrawParts['ldm'], z0: Float32Array, eps: Float32Array, ts: readonly number[], cond: Conditioning): [Float32Array, Float32Array] {
  const [e, x] = tf.tidy(() => {
    const { z, e, zt, pred, a, s } = noisedPrediction(m, z0, cond, ts, eps);
    const x0 = tf.div(tf.sub(zt, tf.mul(pred, s)), a); // x̂_0 = (z_t − √(1−ᾱ) ε̂) / √ᾱ
    return [tf.mean(tf.square(tf.sub(pred, e)), [1, 2, 3]), tf.mean(tf.square(tf.sub(x0, z)), [1, 2, 3])];
  });
  try {
    return [e.dataSync() as Float32Array, x.dataSync() as Float32Array];
  } finally {
    tf.dispose([e, x]);
  }
}

/** Mean and standard error over scenes of paired differences (util/stats' pairedDifference). */
function meanSE(d: readonly number[]): MeanSE {
  const { mean: m, standardError } = pairedDifference(d);
  return { mean: m, se: standardError };
}
