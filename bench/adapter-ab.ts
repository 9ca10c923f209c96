/**
 * A/B of one training step between two builds of kernel-lib in one process (README, "Training kernels"):
 *
 *   node dist/bench/adapter-ab.js --a <dist dir> --b <dist dir> [--arm moss] [--rank 8] [--steps 6] [--batch 8] [--fixed k]
 *
 * Each build loads its own copy of the shipped mm-moe-small (and attaches the arm's adapter with the same
 * seed); both share this process's TF.js and backend. The two then train on the same MoSS instruction
 * batches in one `session.train` call each, taking turns step by step (A, B, A, B, …) so load that drifts
 * affects both alike; a step is the trainer's own (forward, gradients, clipping, AdamW). CPU time
 * (process.cpuUsage) per step, not wall time: the machine is shared. Step 0 (kernel set-up) is not counted. Since both copies start from the same
 * weights and see the same batches, equal gradients keep them equal: the script also reports whether every
 * step's loss and the final trained weights are bit-identical between A and B.
 * `--arm full` trains every weight of the base (no adapter) instead.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { TrainBatch } from '../kernel-lib/train/trainer';
import { checkpointDir } from '../kernel-lib/paths';
import { median } from '../kernel-lib/util/stats';
import { ensureData } from '../kernel-lib/data/store';
import { instructionData } from '../kernel-lib/data/instructions';
import { VQVAE } from '../kernel-lib/image';
import { CodedItems, instructionBatches } from '../kernel-lib/papers/moss-modality-specialized-synergizers/items';

type Lib = typeof import('../kernel-lib');
type Sess = import('../kernel-lib/session').Session;

interface Side {
  label: string;
  lib: Lib;
  s: Sess;
  freeze: string[];
  trained: () => Map<string, Float32Array>;
  cpuMs: number[];
  losses: number[];
}

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (fallback === undefined) throw new Error(`adapter-ab: --${name} is required`);
  return fallback;
}

function intArg(name: string, fallback: number): number {
  const v = arg(name, String(fallback));
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`adapter-ab: --${name} must be a positive integer, got '${v}'`);
  return n;
}

async function side(label: string, dir: string, arm: string, rank: number): Promise<Side> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lib = require(path.resolve(dir, 'kernel-lib')) as Lib;
  const s = await lib.Session.load(checkpointDir('mm-moe-small'), { backend: 'wasm' });
  const spec = lib.moss.armAdapter(s.config, arm as never, { rank, seed: 0, grid: s.tokenizer.hasImages ? s.tokenizer.imageGrid : null });
  const adapter = spec ? lib.attachLoRA(s, spec) : null;
  const freeze = adapter ? [...s.model.params.keys()] : [];
  const trained = (): Map<string, Float32Array> => {
    const vars = adapter ? adapter.parameters() : s.model.params;
    return new Map([...vars].map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));
  };
  return { label, lib, s, freeze, trained, cpuMs: [], losses: [] };
}

/**
 * Trains both sides for `steps` steps at once. The loop awaits setImmediate before every step, so the two
 * runs take turns step by step (A, B, A, B, …). A step's CPU time runs from its batch being asked for to
 * its onStep: the trainer's work for that step only, none of the other side's.
 */
async function trainBoth(sides: Side[], batches: TrainBatch[]): Promise<void> {
  await Promise.all(
    sides.map(async (x) => {
      let c0 = process.cpuUsage();
      const r = await x.s.train({
        steps: batches.length,
        batches: (i) => {
          c0 = process.cpuUsage();
          return batches[i];
        },
        lr: 1e-3,
        freeze: x.freeze,
        seed: 0,
        onStep: () => {
          const c = process.cpuUsage(c0);
          x.cpuMs.push((c.user + c.system) / 1000);
        },
      });
      x.losses.push(...r.history.map((e) => e.loss));
    }),
  );
}

async function main(): Promise<void> {
  const arm = arg('arm', 'moss');
  const rank = intArg('rank', 8);
  const steps = intArg('steps', 6);
  const batchSize = intArg('batch', 8);
  const a = await side('A', arg('a'), arm, rank);
  const b = await side('B', arg('b'), arm, rank);
  const store = await ensureData();
  const vq = VQVAE.load(checkpointDir('vqvae-emoji'));
  const items = new CodedItems(instructionData(store, { split: 'train' }), (imgs) => vq.encodeImages(imgs));
  const next = instructionBatches(b.s.tokenizer, items, { batchSize, seed: 0 });
  // --fixed k: every step trains on batch k (same length every step: less spread between steps)
  const fixed = process.argv.includes('--fixed') ? intArg('fixed', 1) : null;
  const batches = Array.from({ length: steps + 1 }, (_, i) => next(fixed ?? i));
  vq.dispose();
  const tensors0 = tf.memory().numTensors;
  await trainBoth([a, b], batches);
  batches.forEach((batch, i) => {
    process.stderr.write(`[ab] step ${i}${i === 0 ? ' (warm-up, not counted)' : ''}: ${batch.ids.length}×${batch.ids[0].length - 1} tokens, A ${a.cpuMs[i].toFixed(0)} ms, B ${b.cpuMs[i].toFixed(0)} ms CPU; loss A ${a.losses[i]} B ${b.losses[i]}\n`);
  });
  const wa = a.trained();
  const wb = b.trained();
  let maxDiff = 0;
  for (const [n, va] of wa) {
    const vb = wb.get(n);
    if (!vb || vb.length !== va.length) throw new Error(`adapter-ab: '${n}' differs in presence or size between A and B`);
    for (let j = 0; j < va.length; j++) maxDiff = Math.max(maxDiff, Math.abs(va[j] - vb[j]));
  }
  const result = {
    arm,
    rank: arm === 'full' ? undefined : rank,
    batch: batchSize,
    tokens: batches.slice(1).map((x) => `${x.ids.length}×${x.ids[0].length - 1}`),
    steps,
    medianCpuMs: { A: median(a.cpuMs.slice(1)), B: median(b.cpuMs.slice(1)) },
    cpuMs: { A: a.cpuMs.slice(1).map(Math.round), B: b.cpuMs.slice(1).map(Math.round) },
    lossesBitIdentical: a.losses.every((l, i) => Object.is(l, b.losses[i])),
    trainedWeightsMaxAbsDiff: maxDiff,
    tensorsAfterMinusBefore: tf.memory().numTensors - tensors0,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
  process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
  a.s.dispose();
  b.s.dispose();
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
