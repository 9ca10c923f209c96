/**
 * The `moss-train` section of `switchboard bench` (`npm run bench -- --only moss-train [--moss-arms a,b]
 * [--moss-rounds N] [--moss-profile]`): one MoSS training step of each adapter arm — the recipe's real batches
 * (the instruction data's train split, 8 items a step, the first window of 4 length-sorted batches of seed 0),
 * the arm's real adapter (arms.ts: r 8, α 8, dropout 0.05 on) on the shipped, frozen mm-moe-small, gradients of
 * the adapter's weights, global-norm clipping and AdamW (the trainer's updater, train/loop.ts localUpdater) — in
 * three forms, same weights (bench/adapter-legacy.ts keeps what was replaced):
 *
 *   old     the adapters' delta as before (per target, ConvLoRA's im2col built per sequence with TF.js ops) and
 *           attention's per-batch products cut and pasted through host arrays
 *   heap    the adapters as before, the per-batch products inside the wasm heap (the base's change alone)
 *   new     the fused adapters (kernel-lib/adapters), per-batch products inside the wasm heap (what the
 *           library runs): new ÷ heap is the adapters' change alone
 *
 * The adapters' zero-initialised B's get seeded random values (std 0.02), so every weight has a gradient, as
 * after the first steps; the learning rate is 0, so the weights stay what both paths read (AdamW's work is the
 * same). Before timing, on the window's longest batch: the final-norm states of a training forward (dropout on),
 * the loss parts and every adapter gradient, old against new (max |Δ| relative to the old tensor's max |value|).
 * Then rounds: round r runs batch r mod 4 of the window with the three forms back to back (their order rotating
 * from round to round), a full garbage collection before each (not timed), process CPU and wall time of
 * `updater.step`; each round also compares the steps' losses and gradient norms. Reported per arm: the mean CPU
 * and wall seconds per step over the rounds (with 4k rounds, the window's mix of one story batch and three
 * shorter ones), and the median and quartiles of the rounds' new ÷ old and new ÷ heap CPU. `--moss-profile` adds the kernels of one gradient step of each
 * path on the longest batch (tf.profile: count, kernel ms, the largest by time).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../kernel-lib/backend/backend';
import { ensureData } from '../kernel-lib/data/store';
import { Session } from '../kernel-lib/session';
import { checkpointDir } from '../kernel-lib/paths';
import { VQVAE } from '../kernel-lib/image';
import { localGradients, localUpdater } from '../kernel-lib/train/loop';
import type { Updater } from '../kernel-lib/train/loop';
import { lmTrainLoss, prepareBatch, trainingParams } from '../kernel-lib/train/trainer';
import { DEFAULT_ADAMW, DEFAULT_CLIP_NORM } from '../kernel-lib/train/schedule';
import { attachLoRA } from '../kernel-lib/adapters';
import type { LoRAHandle } from '../kernel-lib/adapters';
import { instructionData } from '../kernel-lib/data/instructions';
import { armAdapter } from '../kernel-lib/papers/moss-modality-specialized-synergizers/arms';
import { CodedItems, instructionBatches, LENGTH_WINDOW } from '../kernel-lib/papers/moss-modality-specialized-synergizers/items';
import { mulberry32, normalArray } from '../kernel-lib/util/random';
import { useHostRoute, useLegacyDelta } from './adapter-legacy';
import { collectGarbage, median } from './train-turns';

export const MOSS_TRAIN_ARMS = ['lora', 'moe-lora', 'moss', 'sam-convlora'] as const;
export type MossTrainArm = (typeof MOSS_TRAIN_ARMS)[number];

type Path = 'old' | 'heap' | 'new';
const PATHS: readonly Path[] = ['old', 'heap', 'new'];
type Batch = ReturnType<typeof prepareBatch>;

/** Old against new: max |Δ| over a tensor's values relative to the old tensor's max |value| (worst over tensors). */
export interface MossExactness {
  /** The longest batch's shape. */
  rows: number;
  seqLen: number;
  statesRel: number;
  /** Loss parts (total, LM, aux): max |Δ| / |old|. */
  lossRel: number;
  grads: number;
  gradsRel: number;
  /** The gradient with the largest relative difference. */
  worst: string;
  /** Whether old and heap (per-batch products through host arrays and in the wasm heap) agree bit for bit: states, loss parts, every gradient. */
  heapBitIdentical: boolean;
  /** Rounds whose steps gave the same loss and gradient norm to 1e-5 relative, of all rounds. */
  roundsAgree: number;
}

export interface KernelProfile {
  kernels: number;
  kernelMs: number;
  /** The largest kernels by time: name, calls, ms. */
  top: Array<[string, number, number]>;
}

export interface MossTrainResult {
  arm: MossTrainArm;
  rank: number;
  params: number;
  /** Rows × tokens of the window's batches, in window order. */
  batches: Array<[number, number]>;
  exact: MossExactness;
  rounds: number;
  /** Mean seconds per step over the rounds, process CPU and wall (null when not timed). */
  cpuS: Record<Path, number> | null;
  wallS: Record<Path, number> | null;
  /** Median over rounds of new ÷ old (everything) and new ÷ heap (the adapters' change alone) CPU, and their quartiles. */
  cpuRatio: { all: number; adapters: number } | null;
  cpuRatioQuartiles: { all: [number, number]; adapters: [number, number] } | null;
  /** Every timed step's CPU seconds, per path, and the window batch each round ran. */
  samples: (Record<Path, number[]> & { batch: number[] }) | null;
  profile?: Record<Path, KernelProfile>;
}

const relDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(a[i]));
  }
  return m === 0 ? d : d / m;
};

/** Runs `f` with the adapter and the per-batch products in `path`'s form. */
function inPath<R>(h: LoRAHandle, path: Path, f: () => R): R {
  const restore = [path === 'new' ? null : useLegacyDelta(h), path === 'old' ? useHostRoute() : null];
  try {
    return f();
  } finally {
    for (const r of restore) r?.();
  }
}

interface ArmCase {
  h: LoRAHandle;
  names: string[];
  params: Map<string, tf.Variable>;
  loss: (b: Batch, seed: number) => { total: tf.Scalar; lm: tf.Scalar; aux: tf.Scalar };
}

function exactness(s: Session, c: ArmCase, b: Batch): Omit<MossExactness, 'roundsAgree'> {
  const run = (path: Path) =>
    inPath(c.h, path, () => {
      let states!: Float32Array;
      let loss!: Float32Array;
      const grads = new Map<string, Float32Array>();
      tf.tidy(() => {
        const o = s.model.forwardStates(tf.tensor2d(b.inputs, [b.B, b.T], 'int32'), { capture: 'none', positions: b.positions, training: true, dropoutSeed: 7 });
        states = Float32Array.from(o.states.dataSync() as Float32Array);
        const g = localGradients(c.params, () => {
          const l = c.loss(b, 7);
          loss = Float32Array.of(l.total.dataSync()[0], l.lm.dataSync()[0], l.aux.dataSync()[0]);
          return l.total;
        })(null, 0, c.names);
        for (const [n, t] of g.grads) grads.set(n, Float32Array.from(t.dataSync() as Float32Array));
      });
      return { states, loss, grads };
    });
  const old = run('old'); // old against new: the adapters' rounding; old against heap: the heap copies (exact)
  const neu = run('new');
  const heap = run('heap');
  const bits = (a: Float32Array, b: Float32Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  const heapBitIdentical = bits(old.states, heap.states) && bits(old.loss, heap.loss) && c.names.every((n) => bits(old.grads.get(n)!, heap.grads.get(n)!));
  if (old.grads.size !== c.names.length || neu.grads.size !== c.names.length) throw new Error(`bench moss-train: ${c.h.name}: ${old.grads.size} / ${neu.grads.size} gradients for ${c.names.length} weights`);
  let gradsRel = 0;
  let worst = '';
  for (const n of c.names) {
    const r = relDiff(old.grads.get(n)!, neu.grads.get(n)!);
    if (r >= gradsRel) (gradsRel = r), (worst = n);
  }
  const lossRel = Math.max(...Array.from(old.loss, (x, i) => Math.abs(x - neu.loss[i]) / Math.abs(x)));
  return { rows: b.B, seqLen: b.T, statesRel: relDiff(old.states, neu.states), lossRel, grads: c.names.length, gradsRel, worst, heapBitIdentical };
}

async function profileStep(c: ArmCase, b: Batch, path: Path): Promise<KernelProfile> {
  const info = await inPath(c.h, path, () => tf.profile(() => tf.tidy(() => void localGradients(c.params, () => c.loss(b, 7).total)(null, 0, c.names))));
  const by = new Map<string, [number, number]>();
  let kernels = 0;
  let kernelMs = 0;
  for (const k of info.kernels) {
    if (!tf.getKernel(k.name, tf.getBackend())) continue; // spans of composite and custom ops: their kernels are recorded too
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = by.get(k.name) ?? [0, 0];
    by.set(k.name, [e[0] + 1, e[1] + ms]);
    kernels++;
    kernelMs += ms;
  }
  const top = [...by].sort((x, y) => y[1][1] - x[1][1]).slice(0, 6).map(([n, [calls, ms]]): [string, number, number] => [n, calls, Number(ms.toFixed(1))]);
  return { kernels, kernelMs: Number(kernelMs.toFixed(1)), top };
}

/**
 * The section: per arm, the adapter attached to the shipped base, checked old against new, then timed in
 * `rounds` paired rounds (0: exactness only). `check` picks the window batch the exactness check runs on.
 */
export async function benchMossTrain(o: { arms: readonly MossTrainArm[]; rounds: number; profile?: boolean; check?: 'longest' | 'shortest'; log: (s: string) => void }): Promise<MossTrainResult[]> {
  if (!Number.isInteger(o.rounds) || o.rounds < 0) throw new Error(`bench moss-train: rounds must be an integer ≥ 0, got ${o.rounds}`);
  for (const a of o.arms) if (!MOSS_TRAIN_ARMS.includes(a)) throw new Error(`bench moss-train: unknown arm '${a}' (expected ${MOSS_TRAIN_ARMS.join(', ')})`);
  await initBackend();
  const store = await ensureData();
  const s = await Session.load(checkpointDir('mm-moe-small'));
  const vq = VQVAE.load(checkpointDir('vqvae-emoji'));
  const out: MossTrainResult[] = [];
  try {
    const items = new CodedItems(instructionData(store, { split: 'train' }), (imgs) => vq.encodeImages(imgs));
    const next = instructionBatches(s.tokenizer, items, { batchSize: 8, seed: 0 });
    const window = Array.from({ length: LENGTH_WINDOW }, (_, i) => prepareBatch(next(i), { modalityOf: (id) => s.tokenizer.modalityOf(id), positionsOf: (rows) => s.positions(rows) }, s.config.vocabSize));
    const byLength = window.map((b, i) => [b.T, i]).sort((x, y) => x[0] - y[0]);
    const checkOn = window[(o.check === 'shortest' ? byLength[0] : byLength[byLength.length - 1])[1]];
    for (const b of window) tf.tidy(() => void s.model.forwardStates(tf.tensor2d(b.inputs, [b.B, b.T], 'int32'), { capture: 'none', positions: b.positions })); // the model's kept tables per length
    o.log(`moss-train: window of ${window.map((b) => `${b.B}×${b.T}`).join(', ')}; arms ${o.arms.join(', ')}; ${o.rounds} paired round(s)`);
    for (const arm of o.arms) {
      const spec = armAdapter(s.config, arm, { rank: 8, seed: 0, grid: s.tokenizer.imageGrid });
      if (!spec) throw new Error(`bench moss-train: arm '${arm}' has no adapter`);
      const h = attachLoRA(s, spec);
      const updaters: Updater<Batch>[] = [];
      try {
        const rand = mulberry32(11);
        for (const [n, v] of h.parameters()) if (n.endsWith('.B')) tf.tidy(() => v.assign(tf.tensor(normalArray(v.size, 0.02, rand), v.shape))); // the assigned tensor is freed with the tidy
        const params = trainingParams(s.model);
        const names = [...h.parameters().keys()];
        const c: ArmCase = { h, names, params, loss: (b, seed) => lmTrainLoss(s.model, b, { auxCoef: s.config.routerAuxLossCoef, dropoutSeed: seed }) };
        const n0 = tf.memory().numTensors;
        const exact = exactness(s, c, checkOn);
        if (tf.memory().numTensors !== n0) throw new Error(`bench moss-train: ${arm}'s check left ${tf.memory().numTensors - n0} tensors`);
        const setup = { names, settings: new Map(), masks: new Map(), adam: { ...DEFAULT_ADAMW }, clipNorm: DEFAULT_CLIP_NORM };
        const mk = () => localUpdater<Batch>(params, localGradients(params, (b, step) => c.loss(b, step).total), setup);
        const upd: Record<Path, Updater<Batch>> = { old: mk(), heap: mk(), new: mk() };
        updaters.push(...Object.values(upd));
        const samples = { old: [] as number[], heap: [] as number[], new: [] as number[], batch: [] as number[] };
        const wall = { old: [] as number[], heap: [] as number[], new: [] as number[] };
        let agree = 0;
        for (let r = o.rounds > 0 ? -1 : 0; r < o.rounds; r++) {
          const bi = Math.max(r, 0) % LENGTH_WINDOW;
          const got: Partial<Record<Path, { loss: number; gradNorm: number; cpu: number; wall: number }>> = {};
          const shift = ((r % PATHS.length) + PATHS.length) % PATHS.length;
          for (const path of [...PATHS.slice(shift), ...PATHS.slice(0, shift)]) {
            collectGarbage();
            const c0 = process.cpuUsage();
            const w0 = performance.now();
            const st = inPath(h, path, () => upd[path].step(window[bi], 1000 + r, 0)); // lr 0: the weights stay as every path reads them
            const w = performance.now() - w0;
            const cu = process.cpuUsage(c0);
            got[path] = { ...st, cpu: (cu.user + cu.system) / 1e6, wall: w / 1000 };
          }
          if (r < 0) continue; // warm-up
          for (const p of PATHS) {
            samples[p].push(got[p]!.cpu);
            wall[p].push(got[p]!.wall);
          }
          samples.batch.push(bi);
          const a = got.old!;
          if (PATHS.every((p) => Math.abs(got[p]!.loss - a.loss) <= 1e-5 * Math.abs(a.loss) && Math.abs(got[p]!.gradNorm - a.gradNorm) <= 1e-5 * Math.abs(a.gradNorm))) agree++;
          o.log(`moss-train ${arm} round ${r + 1}/${o.rounds} (batch ${window[bi].B}×${window[bi].T}): CPU s ${PATHS.map((p) => `${p} ${got[p]!.cpu.toFixed(2)}`).join(', ')}`);
        }
        const mean = (xs: number[]) => Number((xs.reduce((x, y) => x + y, 0) / xs.length).toFixed(3));
        const ratioStats = (over: Path): { median: number; q: [number, number] } => {
          const ratios = samples.new.map((x, i) => x / samples[over][i]).sort((x, y) => x - y);
          const q = (f: number) => Number(ratios[Math.min(ratios.length - 1, Math.floor(f * ratios.length))].toFixed(3));
          return { median: Number((median(ratios) as number).toFixed(3)), q: [q(0.25), q(0.75)] };
        };
        const timed = o.rounds > 0;
        const rn = timed ? ratioStats('old') : null;
        const rf = timed ? ratioStats('heap') : null;
        const per = (xs: Record<Path, number[]>) => ({ old: mean(xs.old), heap: mean(xs.heap), new: mean(xs.new) });
        const r3 = (xs: number[]) => xs.map((x) => Number(x.toFixed(3)));
        out.push({
          arm, rank: 8, params: h.numParams, batches: window.map((b) => [b.B, b.T]), exact: { ...exact, roundsAgree: agree }, rounds: o.rounds,
          cpuS: timed ? per(samples) : null,
          wallS: timed ? per(wall) : null,
          cpuRatio: rn && rf ? { all: rn.median, adapters: rf.median } : null,
          cpuRatioQuartiles: rn && rf ? { all: rn.q, adapters: rf.q } : null,
          samples: timed ? { old: r3(samples.old), heap: r3(samples.heap), new: r3(samples.new), batch: samples.batch } : null,
          ...(o.profile ? { profile: { old: await profileStep(c, checkOn, 'old'), heap: await profileStep(c, checkOn, 'heap'), new: await profileStep(c, checkOn, 'new') } } : {}),
        });
      } finally {
        for (const u of updaters) u.dispose();
        h.detach();
      }
    }
  } finally {
    vq.dispose();
    s.dispose();
  }
  return out;
}

export function formatMossTrain(rs: readonly MossTrainResult[]): string {
  const e = (x: number) => x.toExponential(1);
  const f = (x: number) => x.toFixed(2);
  const lines = [
    'MoSS training step (r 8; gradients, clipping, AdamW; the first window of the recipe): old (adapters and per-batch products as before), heap (old adapters, per-batch products in the wasm heap), new (fused adapters, per-batch products in the wasm heap):',
    '',
    '| arm | adapter weights | CPU s/step old → heap → new | wall s/step old → heap → new | CPU new ÷ old (quartiles) | CPU new ÷ heap: the adapters (quartiles) | states, loss, gradients max rel. Δ | rounds agreeing |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  ];
  for (const r of rs) {
    const x = r.exact;
    const t = r.cpuS && r.wallS && r.cpuRatio && r.cpuRatioQuartiles
      ? [
          PATHS.map((p) => f(r.cpuS![p])).join(' → '),
          PATHS.map((p) => f(r.wallS![p])).join(' → '),
          `${f(r.cpuRatio.all)}× (${r.cpuRatioQuartiles.all.map(f).join('–')})`,
          `${f(r.cpuRatio.adapters)}× (${r.cpuRatioQuartiles.adapters.map(f).join('–')})`,
        ]
      : ['—', '—', '—', '—'];
    lines.push(`| ${r.arm} | ${r.params.toLocaleString('en-US')} | ${t.join(' | ')} | ${e(x.statesRel)}, ${e(x.lossRel)}, ${e(x.gradsRel)} (${x.grads} tensors, on ${x.rows}×${x.seqLen}; heap = old ${x.heapBitIdentical ? 'bit for bit' : 'NOT bit for bit'}) | ${x.roundsAgree} / ${r.rounds} |`);
  }
  const prof = rs.filter((r) => r.profile);
  if (prof.length > 0) {
    lines.push('', 'kernels of one gradient step on the longest batch (tf.profile), old → heap → new:');
    for (const r of prof) {
      const p = r.profile!;
      const top = (k: KernelProfile) => k.top.map(([n, c, ms]) => `${n} ${c}× ${ms.toFixed(0)} ms`).join(', ');
      lines.push(`  ${r.arm}: ${PATHS.map((q) => p[q].kernels).join(' → ')} kernels, ${PATHS.map((q) => p[q].kernelMs.toFixed(0)).join(' → ')} kernel ms; ${PATHS.map((q) => `${q}: ${top(p[q])}`).join('; ')}`);
    }
  }
  return lines.join('\n') + '\n';
}
