/**
 * The `diffusion-train` section of `switchboard bench` (`npm run bench -- --only diffusion-train [--workers 1,2]`):
 * seconds per training step of the latent diffusion decoder as `npm run train:diffusion` trains it — the
 * `small` preset at batch 32 through trainDiffusion itself (tokenizing, loss and gradients, clipping,
 * AdamW) — on this thread (1) and on data-parallel workers (2, …), and what each rate makes of the
 * recipe's budgets (recipes/ldm-emoji.ts LDM_BUDGETS). The weights are untrained (speed depends on the
 * shapes) and the latents synthetic, so it needs no data preparation and no checkpoint but the VQ-VAE.
 *
 * The worker counts take turns in rounds, so a machine whose load drifts affects them alike; each
 * round's first step (which starts the workers) is not timed. Wall time is the number that matters, and
 * only on an idle machine; CPU time is the process's, every thread's (the workers do more work together
 * than one thread: two half-batches cost more than one whole).
 */
import * as os from 'node:os';
import { initBackend } from '../kernel-lib/backend/backend';
import { checkpointDir } from '../kernel-lib/paths';
import { VQVAE } from '../kernel-lib/image/model';
import { loadTextTokenizer } from '../kernel-lib/data/text-tokenizer';
import { LatentDiffusion } from '../kernel-lib/diffusion/model';
import { defaultDiffusionConfig, DiffusionPreset } from '../kernel-lib/diffusion/config';
import { trainDiffusion } from '../kernel-lib/diffusion/train';
import { mulberry32, normalArray } from '../kernel-lib/util/random';
import { LDM_BUDGETS } from '../kernel-lib/recipes/ldm-emoji';

/** Emoji-like and scene-like captions (the training mix: ~23 % emoji, short; ~77 % scenes, long). */
const CAPTIONS = [
  'a grinning face with big eyes',
  'a cat to the left of a tree, and a red apple below the cat',
  'a dog above a flower; a sun to the right of the dog',
  'a tiger face',
  'a car below a cloud and a fish to the left of the car',
  'an apple to the right of a house, a star above the apple',
  'a mushroom to the left of a bird',
  'a train below a moon and a tree to the right of the train',
];

export interface DiffusionTrainBench {
  model: string;
  parameters: number;
  device: string;
  batch: number;
  /** Timed steps per worker count. */
  steps: number;
  /** Medians per worker count: wall and process CPU seconds per step. */
  per_count: Record<string, { wall_s: number; cpu_s: number }>;
  /** Wall-clock steps/s of each count over one thread's (when 1 was measured). */
  speedup: Record<string, number>;
  /** Hours each budget would take at each count's median wall time per step (training only). */
  budgets_h: Record<string, Record<string, number>>;
  load: { start: number; end: number; cores: number };
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function benchDiffusionTrain(o: { quick: boolean; counts: number[]; log: (s: string) => void; preset?: DiffusionPreset; batch?: number }): Promise<DiffusionTrainBench> {
  if (o.counts.length === 0) throw new Error('bench diffusion-train: no worker counts to measure');
  const loadStart = os.loadavg()[0];
  const dev = await initBackend();
  const config = defaultDiffusionConfig(o.preset ?? 'small');
  const batch = o.batch ?? LDM_BUDGETS.full.batchSize;
  const vq = VQVAE.load(checkpointDir('vqvae-emoji'));
  const stats = { shift: new Float32Array(config.latentChannels), scale: new Float32Array(config.latentChannels).fill(1) };
  const m = LatentDiffusion.create(config, { vq, stats, tokenizer: loadTextTokenizer(), seed: 1 });
  const rows = 2 * batch;
  const data = {
    latents: normalArray(rows * config.latentSize ** 2 * config.latentChannels, 1, mulberry32(3)),
    captions: Array.from({ length: rows }, (_, i) => [CAPTIONS[i % CAPTIONS.length]]),
  };
  const rounds = o.quick ? 1 : 3;
  const perRound = o.quick ? 2 : 5; // the first is not timed
  const wall = new Map<number, number[]>(o.counts.map((c) => [c, []]));
  const cpu = new Map<number, number[]>(o.counts.map((c) => [c, []]));
  try {
    o.log(`diffusion training: ${m.numParams.total} parameters (${o.preset ?? 'small'} preset, untrained), batch ${batch}; worker counts ${o.counts.join(', ')} taking turns, ${rounds} round(s) of ${perRound - 1} timed step(s)`);
    for (let r = 0; r < rounds; r++) {
      for (const c of o.counts) {
        const res = await trainDiffusion(m, { data, steps: perRound, batchSize: batch, lr: 1e-4, seed: r, workers: c });
        for (const e of res.history.slice(1)) {
          (wall.get(c) as number[]).push(e.stepMs / 1000);
          (cpu.get(c) as number[]).push(e.stepCpuMs / 1000);
        }
        o.log(`round ${r + 1}: ${c} thread(s) ${median((wall.get(c) as number[]).slice(-(perRound - 1))).toFixed(2)} s/step`);
      }
    }
  } finally {
    m.dispose();
  }
  const perCount = Object.fromEntries(o.counts.map((c) => [String(c), { wall_s: median(wall.get(c) as number[]), cpu_s: median(cpu.get(c) as number[]) }]));
  const one = perCount['1']?.wall_s;
  return {
    model: `LatentDiffusion ${o.preset ?? 'small'} preset, untrained weights, synthetic latents (speed depends on shapes only)`,
    parameters: m.numParams.total,
    device: `${dev.backend}${dev.simd ? ' SIMD' : ''}, ${dev.threads} thread${dev.threads === 1 ? '' : 's'} per worker`,
    batch,
    steps: rounds * (perRound - 1),
    per_count: perCount,
    speedup: one === undefined ? {} : Object.fromEntries(o.counts.map((c) => [String(c), one / perCount[String(c)].wall_s])),
    budgets_h: Object.fromEntries(Object.entries(LDM_BUDGETS).map(([name, b]) => [name, Object.fromEntries(o.counts.map((c) => [String(c), (b.steps * perCount[String(c)].wall_s) / 3600]))])),
    load: { start: loadStart, end: os.loadavg()[0], cores: os.cpus().length },
  };
}

export function formatDiffusionTrain(b: DiffusionTrainBench): string {
  const name = (c: string) => (c === '1' ? '1 thread ' : `${c} workers`);
  const hours = (h: number) => (h < 3 ? `${(h * 60).toFixed(0)} min` : `${h.toFixed(1)} h`);
  return [
    `diffusion training step: ${b.model}, ${b.parameters.toLocaleString('en-US')} parameters, batch ${b.batch}; ${b.device}`,
    `machine load (1-min average): ${b.load.start.toFixed(2)} at the start, ${b.load.end.toFixed(2)} at the end, on ${b.load.cores} cores` +
      (Math.max(b.load.start, b.load.end) > 0.5 ? ' — a busy machine: these wall times say little about an idle one' : ''),
    ...Object.entries(b.per_count).map(
      ([c, r]) => `  ${name(c)}: wall ${r.wall_s.toFixed(2)} s/step${b.speedup[c] !== undefined && c !== '1' ? ` (${b.speedup[c].toFixed(2)}× one thread)` : ''}, CPU ${r.cpu_s.toFixed(2)} s/step (all threads)`,
    ),
    `  training time at these rates: ${Object.entries(b.budgets_h)
      .map(([budget, per]) => `${budget} (${LDM_BUDGETS[budget as keyof typeof LDM_BUDGETS].steps} steps) ${Object.entries(per).map(([c, h]) => `${hours(h)} on ${c}`).join(', ')}`)
      .join('; ')}`,
    '',
  ].join('\n');
}
