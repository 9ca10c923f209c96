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
import { initBackend } from '../kernel-lib/backend/backend';
import { checkpointDir } from '../kernel-lib/paths';
import { VQVAE } from '../kernel-lib/image/model';
import { loadTextTokenizer } from '../kernel-lib/data/text-tokenizer';
import { LatentDiffusion } from '../kernel-lib/diffusion/model';
import { defaultDiffusionConfig, DiffusionPreset } from '../kernel-lib/diffusion/config';
import { trainDiffusion } from '../kernel-lib/diffusion/train';
import { mulberry32, normalArray } from '../kernel-lib/util/random';
import { LDM_BUDGETS } from '../kernel-lib/recipes/ldm-emoji';
import { describeWorkerDevice, formatCountLine, formatLoad, MachineLoad, requireCounts, speedups, takeTurns, watchLoad } from './train-turns';

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
  load: MachineLoad;
}

export async function benchDiffusionTrain(o: { quick: boolean; counts: number[]; log: (s: string) => void; preset?: DiffusionPreset; batch?: number }): Promise<DiffusionTrainBench> {
  requireCounts('diffusion-train', o.counts);
  const load = watchLoad();
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
  let med: Record<string, { wall: number; cpu: number }>;
  try {
    o.log(`diffusion training: ${m.numParams.total} parameters (${o.preset ?? 'small'} preset, untrained), batch ${batch}; worker counts ${o.counts.join(', ')} taking turns, ${rounds} round(s) of ${perRound - 1} timed step(s)`);
    med = await takeTurns({
      counts: o.counts,
      rounds,
      train: async (c, r) => {
        const res = await trainDiffusion(m, { data, steps: perRound, batchSize: batch, lr: 1e-4, seed: r, workers: c });
        const timed = res.history.slice(1);
        return { wall: timed.map((e) => e.stepMs / 1000), cpu: timed.map((e) => e.stepCpuMs / 1000) };
      },
      logRun: (r, c, wall) => o.log(`round ${r + 1}: ${c} thread(s) ${wall.toFixed(2)} s/step`),
    });
  } finally {
    m.dispose();
  }
  const perCount = Object.fromEntries(Object.entries(med).map(([c, x]) => [c, { wall_s: x.wall, cpu_s: x.cpu }]));
  return {
    model: `LatentDiffusion ${o.preset ?? 'small'} preset, untrained weights, synthetic latents (speed depends on shapes only)`,
    parameters: m.numParams.total,
    device: describeWorkerDevice(dev),
    batch,
    steps: rounds * (perRound - 1),
    per_count: perCount,
    speedup: speedups(Object.fromEntries(Object.entries(med).map(([c, x]) => [c, x.wall]))),
    budgets_h: Object.fromEntries(Object.entries(LDM_BUDGETS).map(([name, b]) => [name, Object.fromEntries(o.counts.map((c) => [String(c), (b.steps * perCount[String(c)].wall_s) / 3600]))])),
    load: load(),
  };
}

export function formatDiffusionTrain(b: DiffusionTrainBench): string {
  const hours = (h: number) => (h < 3 ? `${(h * 60).toFixed(0)} min` : `${h.toFixed(1)} h`);
  return [
    `diffusion training step: ${b.model}, ${b.parameters.toLocaleString('en-US')} parameters, batch ${b.batch}; ${b.device}`,
    formatLoad(b.load),
    ...Object.entries(b.per_count).map(([c, r]) => formatCountLine(c, r.wall_s, r.cpu_s, b.speedup[c], 's')),
    `  training time at these rates: ${Object.entries(b.budgets_h)
      .map(([budget, per]) => `${budget} (${LDM_BUDGETS[budget as keyof typeof LDM_BUDGETS].steps} steps) ${Object.entries(per).map(([c, h]) => `${hours(h)} on ${c}`).join(', ')}`)
      .join('; ')}`,
    '',
  ].join('\n');
}
