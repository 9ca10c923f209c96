/**
 * The `diffusion` section of `switchboard bench` (`npm run bench -- --only diffusion`): seconds for one
 * image of the latent diffusion decoder, 25 DDIM steps with classifier-free guidance (conditional and
 * unconditional as one batch-2 denoiser pass per step), against issue 14's target of ≤ 1 s on the wasm
 * backend, one core. It runs on a `small`-preset LatentDiffusion built here with untrained weights (the
 * seeded initialisation) on the shipped VQ-VAE and tokenizer: speed depends on the shapes, not on what the
 * weights have learned, so it does not wait for data/checkpoints/ldm-emoji to ship.
 */
import * as os from 'node:os';
import { initBackend } from '../kernel-lib/backend/backend';
import { checkpointDir } from '../kernel-lib/paths';
import { VQVAE } from '../kernel-lib/image/model';
import { loadTextTokenizer } from '../kernel-lib/data/text-tokenizer';
import { LatentDiffusion, DEFAULT_CFG_SCALE, DEFAULT_STEPS } from '../kernel-lib/diffusion/model';
import { defaultDiffusionConfig } from '../kernel-lib/diffusion/config';
import { timeSampling } from '../kernel-lib/recipes/ldm-eval';
import { median } from './train-turns';

export const DIFFUSION_TARGET_S = 1;
const CAPTION = 'a cat to the left of a tree';

export interface DiffusionBench {
  model: string;
  parameters: number;
  device: string;
  steps: number;
  cfg_scale: number;
  /** Batch of each denoiser call of one guided sampling, as counted on an untimed run. */
  denoiser_batches: number[];
  runs: { wall_s: number; cpu_s: number }[];
  wall_s: { median: number; min: number };
  cpu_s: { median: number; min: number };
  target_s: number;
  /** 1-minute load average at the start and the end, and the core count. */
  load: { start: number; end: number; cores: number };
}

/** The denoiser's batch per call during one sampling with the bench's options (checks the batch-2 CFG pass). */
async function denoiserBatches(m: LatentDiffusion): Promise<number[]> {
  const batches: number[] = [];
  const forward = m.denoiser.forward;
  m.denoiser.forward = (z, ...rest) => {
    batches.push(z.shape[0]);
    return forward.call(m.denoiser, z, ...rest);
  };
  try {
    await m.sample({ cond: CAPTION, cfgScale: DEFAULT_CFG_SCALE, steps: DEFAULT_STEPS });
  } finally {
    m.denoiser.forward = forward;
  }
  return batches;
}

export async function benchDiffusion(o: { quick: boolean; log: (s: string) => void }): Promise<DiffusionBench> {
  const loadStart = os.loadavg()[0];
  const dev = await initBackend();
  const config = defaultDiffusionConfig('small');
  const vq = VQVAE.load(checkpointDir('vqvae-emoji'));
  // unit latent statistics: they scale the latents, the amount of work is the same
  const stats = { shift: new Float32Array(config.latentChannels), scale: new Float32Array(config.latentChannels).fill(1) };
  const m = LatentDiffusion.create(config, { vq, stats, tokenizer: loadTextTokenizer(), seed: 1 });
  try {
    o.log(`diffusion: one image, ${DEFAULT_STEPS} DDIM steps with CFG ${DEFAULT_CFG_SCALE}, small preset (${m.numParams.total} parameters, untrained)`);
    const denoiser_batches = await denoiserBatches(m);
    const runs = (await timeSampling(m, CAPTION, { repeats: o.quick ? 2 : 5, steps: DEFAULT_STEPS, cfgScale: DEFAULT_CFG_SCALE })).map(({ wall_s, cpu_s }) => ({ wall_s, cpu_s }));
    const wall = runs.map((r) => r.wall_s);
    const cpu = runs.map((r) => r.cpu_s);
    return {
      model: 'LatentDiffusion small preset, untrained weights (seeded initialisation; speed depends on shapes only)',
      parameters: m.numParams.total,
      device: `${dev.backend}${dev.simd ? ' SIMD' : ''}, ${dev.threads} thread${dev.threads === 1 ? '' : 's'}`,
      steps: DEFAULT_STEPS,
      cfg_scale: DEFAULT_CFG_SCALE,
      denoiser_batches,
      runs,
      wall_s: { median: median(wall), min: Math.min(...wall) },
      cpu_s: { median: median(cpu), min: Math.min(...cpu) },
      target_s: DIFFUSION_TARGET_S,
      load: { start: loadStart, end: os.loadavg()[0], cores: os.cpus().length },
    };
  } finally {
    m.dispose();
  }
}

export function formatDiffusion(b: DiffusionBench): string {
  const s = (x: number) => `${x.toFixed(2)} s`;
  const verdict = (x: number) => (x <= b.target_s ? 'meets' : 'misses');
  const calls = b.denoiser_batches.length;
  const allTwo = b.denoiser_batches.every((n) => n === 2);
  return [
    `diffusion decoder: ${b.model}, ${b.parameters.toLocaleString('en-US')} parameters; ${b.device}`,
    `machine load (1-min average): ${b.load.start.toFixed(2)} at the start, ${b.load.end.toFixed(2)} at the end, on ${b.load.cores} cores` +
      (Math.max(b.load.start, b.load.end) > 0.5 ? ' — a busy machine: wall time is inflated, CPU time much less' : ''),
    `one image, ${b.steps} DDIM steps, CFG ${b.cfg_scale}: ${calls} denoiser calls, ${allTwo ? 'each one batch-2 pass (conditional + unconditional)' : `batches ${b.denoiser_batches.join(',')}`}`,
    `  wall  median ${s(b.wall_s.median)}, best ${s(b.wall_s.min)} of ${b.runs.length}  (target ≤ ${s(b.target_s)}: ${verdict(b.wall_s.median)})`,
    `  CPU   median ${s(b.cpu_s.median)}, best ${s(b.cpu_s.min)}  (target ≤ ${s(b.target_s)}: ${verdict(b.cpu_s.median)})`,
    '',
  ].join('\n');
}
