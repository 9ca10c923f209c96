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
import * as os from 'node:os';
import { initBackend } from '../kernel-lib/backend/backend';
import type { VQVAEConfig } from '../kernel-lib/image/config';
import type { RGBImage } from '../kernel-lib/image/types';
import { trainVQVAE } from '../kernel-lib/train/vqvae/train-vqvae';

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
  load: { start: number; end: number; cores: number };
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
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
  if (o.counts.length === 0) throw new Error('bench vqvae-train: no worker counts to measure');
  const loadStart = os.loadavg()[0];
  const dev = await initBackend();
  const train = Array.from({ length: 64 }, (_, i) => disc(i));
  const val = [disc(100)];
  const rounds = o.quick ? 1 : 3;
  const perRound = o.quick ? 3 : 9; // the first is not timed
  const wall = new Map<number, number[]>(o.counts.map((c) => [c, []]));
  const cpu = new Map<number, number[]>(o.counts.map((c) => [c, []]));
  o.log(`VQ-VAE training: ${o.config ? 'config ' + JSON.stringify(o.config) : 'default config'}, 16 + 16 images a step; worker counts ${o.counts.join(', ')} taking turns, ${rounds} round(s) of ${perRound - 1} timed step(s)`);
  for (let r = 0; r < rounds; r++) {
    for (const c of o.counts) {
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
          (wall.get(c) as number[]).push(e.msPerStep);
          (cpu.get(c) as number[]).push(e.cpuMsPerStep);
        },
      });
      res.model.dispose();
      o.log(`round ${r + 1}: ${c} thread(s) ${median((wall.get(c) as number[]).slice(-(perRound - 1))).toFixed(0)} ms/step`);
    }
  }
  const perCount = Object.fromEntries(o.counts.map((c) => [String(c), { wall_ms: median(wall.get(c) as number[]), cpu_ms: median(cpu.get(c) as number[]) }]));
  const one = perCount['1']?.wall_ms;
  return {
    config: o.config ?? {},
    device: `${dev.backend}${dev.simd ? ' SIMD' : ''}, ${dev.threads} thread${dev.threads === 1 ? '' : 's'} per worker`,
    batch: [16, 16],
    steps: rounds * (perRound - 1),
    per_count: perCount,
    speedup: one === undefined ? {} : Object.fromEntries(o.counts.map((c) => [String(c), one / perCount[String(c)].wall_ms])),
    load: { start: loadStart, end: os.loadavg()[0], cores: os.cpus().length },
  };
}

export function formatVqvaeTrain(b: VqvaeTrainBench): string {
  const name = (c: string) => (c === '1' ? '1 thread ' : `${c} workers`);
  return [
    `VQ-VAE training step (${Object.keys(b.config).length === 0 ? 'default config' : `config ${JSON.stringify(b.config)}`}, ${b.batch[0]} + ${b.batch[1]} images); ${b.device}`,
    `machine load (1-min average): ${b.load.start.toFixed(2)} at the start, ${b.load.end.toFixed(2)} at the end, on ${b.load.cores} cores` +
      (Math.max(b.load.start, b.load.end) > 0.5 ? ' — a busy machine: these wall times say little about an idle one' : ''),
    ...Object.entries(b.per_count).map(
      ([c, r]) => `  ${name(c)}: wall ${r.wall_ms.toFixed(0)} ms/step${b.speedup[c] !== undefined && c !== '1' ? ` (${b.speedup[c].toFixed(2)}× one thread)` : ''}, CPU ${r.cpu_ms.toFixed(0)} ms/step (all threads)`,
    ),
    '',
  ].join('\n');
}
