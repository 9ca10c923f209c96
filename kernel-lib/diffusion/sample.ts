/**
 * The sampling loop: seeded noise → `steps` denoiser calls (DDIM or DDPM, guided) → latents → pixels,
 * with an AbortSignal checked between steps and an onStep event that carries the current x̂_0 (decoded
 * to pixels on first access, so a display that skips frames pays nothing for them).
 *
 * Image i of a batch starts from the noise of seed + i and draws its DDPM noise from the same stream,
 * so a batch gives the same images as sampling each caption alone with its own seed.
 */
import * as tf from '@tensorflow/tfjs';
import type { RGBImage } from '../image/types';
import { mulberry32, normalArray } from '../util/random';
import type { Denoiser, PreparedConditioning } from './denoiser';
import type { NoiseSchedule } from './schedule';
import { samplingTimesteps } from './schedule';
import { ddimStep, guidedNoise, predictX0 } from './sampler';

export type SamplerName = 'ddim' | 'ddpm';

/** What onStep receives after each denoiser call. */
export interface DiffusionStep {
  /** Steps done (1-based) and planned. */
  step: number;
  totalSteps: number;
  /** The timestep just denoised. */
  t: number;
  /** x̂_0 predicted at this step, normalised latents [B, g, g, C] (host copy). */
  latents: Float32Array;
  /** x̂_0 decoded to pixels (decoded on first access, then cached). */
  readonly images: RGBImage[];
  elapsedMs: number;
}

export interface SampleLoopOptions {
  sampler: SamplerName;
  steps: number;
  eta: number;
  seed: number;
  scale: number;
  paired: boolean;
  clip: number | null;
  onStep?: (e: DiffusionStep) => void | Promise<void>;
  signal?: AbortSignal;
  /** Starting latents instead of the seed's noise. */
  initial?: Float32Array;
}

export interface SampleLoopResult {
  /** Final latents (x̂_0 of the last step completed) [B, g, g, C]. */
  latents: Float32Array;
  timesteps: number[];
  stepsRun: number;
  stopped: 'done' | 'aborted';
  elapsedMs: number;
}

/** Stream of a seed: a generator per image (mixing keeps adjacent seeds' streams apart). */
export function imageRng(seed: number, i: number): () => number {
  return mulberry32((Math.imul(seed + i + 1, 0x9e3779b1) ^ 0x85ebca6b) >>> 0);
}

export async function sampleLoop(
  denoiser: Denoiser,
  schedule: NoiseSchedule,
  prepared: PreparedConditioning,
  B: number,
  decode: (latents: Float32Array) => RGBImage[],
  o: SampleLoopOptions,
): Promise<SampleLoopResult> {
  const cfg = denoiser.config;
  const g = cfg.latentSize;
  const C = cfg.latentChannels;
  const per = g * g * C;
  const ts = samplingTimesteps(o.steps, schedule.timesteps);
  const rngs = Array.from({ length: B }, (_, i) => imageRng(o.seed, i));
  const noise = (): tf.Tensor4D => {
    const data = new Float32Array(B * per);
    rngs.forEach((r, i) => data.set(normalArray(per, 1, r), i * per));
    return tf.tensor4d(data, [B, g, g, C]);
  };
  const t0 = performance.now();
  let z = o.initial ? tf.tensor4d(o.initial, [B, g, g, C]) : noise();
  let last: Float32Array | null = null;
  let stepsRun = 0;
  let stopped: 'done' | 'aborted' = 'done';
  try {
    for (let i = 0; i < ts.length; i++) {
      if (o.signal?.aborted) {
        stopped = 'aborted';
        break;
      }
      const t = ts[i];
      const s = i + 1 < ts.length ? ts[i + 1] : 0;
      const xi = o.eta > 0 && s > 0 ? noise() : null;
      const { next, x0 } = tf.tidy(() => {
        const epsRaw = guidedNoise(denoiser, z, t, prepared, { scale: o.scale, paired: o.paired });
        const p = predictX0(schedule, z, epsRaw, t, o.clip);
        return { next: ddimStep(schedule, p.x0, p.eps, t, s, o.eta, xi), x0: p.x0 };
      });
      xi?.dispose();
      z.dispose();
      z = next;
      last = x0.dataSync() as Float32Array;
      x0.dispose();
      stepsRun = i + 1;
      if (o.onStep) {
        const latents = last;
        let images: RGBImage[] | null = null;
        await o.onStep({
          step: i + 1,
          totalSteps: ts.length,
          t,
          latents,
          get images() {
            return (images ??= decode(latents));
          },
          elapsedMs: performance.now() - t0,
        });
      }
      // Let timers and abort events run between steps (a notebook's Stop button, a display's redraw).
      await new Promise<void>((r) => setImmediate(r));
    }
  } finally {
    z.dispose();
  }
  return {
    latents: last ?? new Float32Array(B * per),
    timesteps: ts,
    stepsRun,
    stopped,
    elapsedMs: performance.now() - t0,
  };
}
