/**
 * The `vqvae-train` section of `switchboard bench` (`npm run bench -- --only vqvae-train [--workers 1,2]`):
 * wall and CPU ms per training step of the image tokenizer as `npm run train:vqvae` trains it — the
 * default config (32×32 and 16×16, 16 + 16 images a step) through trainVQVAE itself (batches, loss and
 * gradients, AdamW, the EMA codebook) — on this thread (1) and on data-parallel workers (2, …). The
 * images are synthetic discs (speed depends on the shapes only), so it needs no data preparation.
 *
 * The worker counts take turns in rounds, so a machine whose load drifts affects them alike; each
 * round's first step (which starts the workers) is not timed. Wall time is the number that matters, and
 * only on an idle machine; CPU time is the process's, every thread's.
 */
import { initBackend } from '../kernel-lib/backend/backend';
import type { VQVAEConfig } from '../kernel-lib/image/config';
import type { RGBImage } from '../kernel-lib/image/types';
import { trainVQVAE } from '../kernel-lib/train/vqvae/train-vqvae';
import { describeWorkerDevice, formatCountLine, formatLoad, MachineLoad, requireCounts, speedups, StepSamples, takeTurns, watchLoad } from './train-turns';

export interface VqvaeTrainBench {
  /** The config's overrides of the default (none in the benchmark itself). */
  config: Partial<VQVAEConfig>;
  device: string;
  /** Images per step at 32×32 and at 16×16. */
  batch: [number, number];
  /** Timed steps per worker count. */
  steps: number;
  /** Medians per worker count: wall and process CPU ms per step. */
  per_count: Record<string, { wall_ms: number; cpu_ms: number }>;
  /** Wall-clock steps/s of each count over one thread's (when 1 was measured). */
  speedup: Record<string, number>;
  load: MachineLoad;
}

/** A disc of colour on white, placed and coloured by i. */
function disc(i: number): RGBImage {
  const size = 32;
  const pixels = new Uint8Array(size * size * 3).fill(255);
  const [cx, cy, r] = [(i * 7) % size, (i * 13) % size, 4 + (i % 6)];
  const rgb = [(i * 50) % 256, (i * 90) % 256, (i * 140) % 256];
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) pixels.set(rgb, (y * size + x) * 3);
  return { height: size, width: size, pixels };
}

export async function benchVqvaeTrain(o: { quick: boolean; counts: number[]; log: (s: string) => void; config?: Partial<VQVAEConfig> }): Promise<VqvaeTrainBench> {
  requireCounts('vqvae-train', o.counts);
  const load = watchLoad();
  const dev = await initBackend();
  const train = Array.from({ length: 64 }, (_, i) => disc(i));
  const val = [disc(100)];
  const rounds = o.quick ? 1 : 3;
  const perRound = o.quick ? 3 : 9; // the first is not timed
  o.log(`VQ-VAE training: ${o.config ? 'config ' + JSON.stringify(o.config) : 'default config'}, 16 + 16 images a step; worker counts ${o.counts.join(', ')} taking turns, ${rounds} round(s) of ${perRound - 1} timed step(s)`);
  const med = await takeTurns({
    counts: o.counts,
    rounds,
    train: async (c, r) => {
      const run: StepSamples = { wall: [], cpu: [] };
      const res = await trainVQVAE({
        train,
        val,
        steps: perRound,
        seed: r,
        evalEvery: 0,
        logEvery: 1,
        workers: c,
        config: o.config,
        onEvent: (e) => {
          if (e.kind !== 'step' || e.step === 1) return;
          run.wall.push(e.msPerStep);
          run.cpu.push(e.cpuMsPerStep);
        },
      });
      res.model.dispose();
      return run;
    },
    logRun: (r, c, wall) => o.log(`round ${r + 1}: ${c} thread(s) ${wall.toFixed(0)} ms/step`),
  });
  return {
    config: o.config ?? {},
    device: describeWorkerDevice(dev),
    batch: [16, 16],
    steps: rounds * (perRound - 1),
    per_count: Object.fromEntries(Object.entries(med).map(([c, m]) => [c, { wall_ms: m.wall, cpu_ms: m.cpu }])),
    speedup: speedups(Object.fromEntries(Object.entries(med).map(([c, m]) => [c, m.wall]))),
    load: load(),
  };
}

export function formatVqvaeTrain(b: VqvaeTrainBench): string {
  return [
    `VQ-VAE training step (${Object.keys(b.config).length === 0 ? 'default config' : `config ${JSON.stringify(b.config)}`}, ${b.batch[0]} + ${b.batch[1]} images); ${b.device}`,
    formatLoad(b.load),
    ...Object.entries(b.per_count).map(([c, r]) => formatCountLine(c, r.wall_ms, r.cpu_ms, b.speedup[c], 'ms')),
    '',
  ].join('\n');
}
