/**
 * Kernel profile of one training step (`npm run bench -- --profile`): which TF.js kernels the time goes
 * to, split into forward (model + loss), backward (gradients) and optimizer (clipping + AdamW).
 *
 * The step is the trainer's (same forward, same loss, same AdamW) written out here so the phases can be
 * told apart: tf.profile records every kernel with its time (on wasm the kernels run synchronously, so
 * the backend's timer is the kernel's wall time), and the kernel count at the end of each phase marks
 * the boundary.
 */
import * as tf from '@tensorflow/tfjs';
import type { MoEModel } from '../kernel-lib/model/model';
import { AdamW } from '../kernel-lib/train/adamw';
import { trainingParams } from '../kernel-lib/train/trainer';
import { mulberry32 } from '../kernel-lib/util/random';

export type Phase = 'forward' | 'backward' | 'optimizer';
export const PHASES: Phase[] = ['forward', 'backward', 'optimizer'];

export interface KernelRow {
  kernel: string;
  calls: number;
  ms: number;
  /** Share of the phase's kernel time. */
  share: number;
}

export interface StepProfile {
  batch: [number, number];
  /** Kernel time per phase, ms. */
  phaseMs: Record<Phase, number>;
  /** Wall time of the profiled step, ms (includes the profiler's own overhead). */
  wallMs: number;
  /** All kernels of each phase by time, largest first. */
  kernels: Record<Phase, KernelRow[]>;
}

interface ProfiledKernel {
  name: string;
  kernelTimeMs: number | { error: string };
}

function activeKernels(): ProfiledKernel[] {
  // tf.profile keeps the kernels recorded so far in the engine's state; the count marks a phase boundary.
  const st = (tf.engine() as unknown as { state: { activeProfile: { kernels: ProfiledKernel[] } } }).state;
  return st.activeProfile.kernels;
}

function rows(ks: ProfiledKernel[]): { rows: KernelRow[]; total: number } {
  const by = new Map<string, { calls: number; ms: number }>();
  const backend = tf.getBackend();
  for (const k of ks) {
    // Custom-gradient ops and composite ops (recorded as 'forward', 'logSoftmax__op', …) are spans whose
    // time includes the real kernels they ran, which are recorded as well: count only registered kernels.
    if (!tf.getKernel(k.name, backend)) continue;
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const r = by.get(k.name) ?? { calls: 0, ms: 0 };
    r.calls++;
    r.ms += ms;
    by.set(k.name, r);
  }
  const total = [...by.values()].reduce((a, r) => a + r.ms, 0);
  const out = [...by.entries()].map(([kernel, r]) => ({ kernel, calls: r.calls, ms: r.ms, share: total > 0 ? r.ms / total : 0 }));
  return { rows: out.sort((a, b) => b.ms - a.ms), total };
}

/** One training step with AdamW on random ids [batch, seq+1]; the model's weights change (use a throwaway copy). */
export async function profileTrainStep(model: MoEModel, batch = 8, seq = 128, seed = 5): Promise<StepProfile> {
  const V = model.config.vocabSize;
  const rand = mulberry32(seed);
  const ids = Array.from({ length: batch }, () => Array.from({ length: seq + 1 }, () => Math.floor(rand() * V)));
  const inputs = ids.flatMap((r) => r.slice(0, seq));
  const targets = ids.flatMap((r) => r.slice(1));
  const params = trainingParams(model);
  const names = [...params.keys()];
  const opt = new AdamW(names, params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  const marks: number[] = [];
  const step = (): void =>
    tf.tidy(() => {
      const vars = names.map((n) => params.get(n) as tf.Variable);
      const { grads } = tf.engine().gradients(() => {
        const r = model.forwardTensors(tf.tensor2d(inputs, [batch, seq], 'int32'), { capture: 'none', training: true });
        const logp = tf.logSoftmax(r.logits);
        const oh = tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), V), 'float32');
        const lm = tf.mean(tf.neg(tf.sum(tf.mul(logp, oh), -1)));
        const loss = tf.add(lm, tf.mul(r.aux, model.config.routerAuxLossCoef)) as tf.Scalar;
        marks.push(activeKernels().length);
        return loss;
      }, vars, undefined, true);
      marks.push(activeKernels().length);
      const gm = new Map<string, tf.Tensor>(names.map((n, i) => [n, grads[i]]));
      const norm = Math.sqrt(tf.addN([...gm.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0]);
      if (norm > 1) for (const [n, g] of gm) gm.set(n, tf.mul(g, 1 / (norm + 1e-6)));
      opt.apply(gm, 1e-3);
    });
  try {
    step(); // warm-up: first calls of each kernel shape are slower
    marks.length = 0;
    const t0 = performance.now();
    const info = await tf.profile(step);
    const wallMs = performance.now() - t0;
    const ks = info.kernels as unknown as ProfiledKernel[];
    const parts: Record<Phase, ProfiledKernel[]> = { forward: ks.slice(0, marks[0]), backward: ks.slice(marks[0], marks[1]), optimizer: ks.slice(marks[1]) };
    const kernels = {} as Record<Phase, KernelRow[]>;
    const phaseMs = {} as Record<Phase, number>;
    for (const p of PHASES) {
      const r = rows(parts[p]);
      kernels[p] = r.rows;
      phaseMs[p] = r.total;
    }
    return { batch: [batch, seq], phaseMs, wallMs, kernels };
  } finally {
    opt.dispose();
  }
}

/** Markdown table: the top `n` kernels of each phase with their share of that phase. */
export function profileTable(p: StepProfile, n = 10): string {
  const total = PHASES.reduce((a, ph) => a + p.phaseMs[ph], 0);
  const lines = [
    `kernel time per phase (one step, ${p.batch[0]}×${p.batch[1]} tokens): ` +
      PHASES.map((ph) => `${ph} ${p.phaseMs[ph].toFixed(0)} ms (${((100 * p.phaseMs[ph]) / total).toFixed(0)} %)`).join(', ') +
      `; profiled step wall time ${p.wallMs.toFixed(0)} ms`,
    '',
    '| phase | kernel | calls | ms | share of phase |',
    '| --- | --- | ---: | ---: | ---: |',
  ];
  for (const ph of ['forward', 'backward'] as Phase[]) {
    for (const r of p.kernels[ph].slice(0, n)) {
      lines.push(`| ${ph} | ${r.kernel} | ${r.calls} | ${r.ms.toFixed(1)} | ${(100 * r.share).toFixed(1)} % |`);
    }
  }
  const opt = p.kernels.optimizer.slice(0, 3).map((r) => `${r.kernel} ${(100 * r.share).toFixed(0)} %`).join(', ');
  lines.push('', `optimizer: ${p.phaseMs.optimizer.toFixed(0)} ms over ${p.kernels.optimizer.reduce((a, r) => a + r.calls, 0)} kernels (top: ${opt})`);
  return lines.join('\n');
}
