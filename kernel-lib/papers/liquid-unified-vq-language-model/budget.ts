/**
 * What the Liquid plan costs: training FLOPs per token of a config, and the plan's CPU time estimated
 * from ONE measured step time scaled by FLOPs (issue #16's "≤ 8 CPU-hours for every arm").
 *
 *   forward multiply-adds per token, per layer: q, k, v, o projections  H·(nH + 2·nKV)·d + nH·d·H
 *                                               router                   H·E
 *                                               top-k SwiGLU experts     k·3·H·I  (+ 3·H·S shared)
 *                                               attention scores + mix   2·T·H    (full T×T: no causal saving)
 *   plus the LM head H·V (the embedding lookup is free). Training FLOPs = 3 × forward (backward ≈ 2×),
 *   2 FLOPs per multiply-add: 6 · MACs per token (Kaplan et al.'s 6·N, with the attention term).
 *
 * The estimate scales a step time measured on a small config by the FLOPs ratio. On this machine's wasm
 * backend small matrices run at a lower FLOP rate than large ones (dispatch and softmax over the vocabulary
 * weigh more), so an estimate from a small config is an upper bound for the larger ones (README, "Liquid").
 */
import { headDim, MoEConfig } from '../../model/config';
import { MoEModel } from '../../model/model';
import { train } from '../../train/trainer';
import { mulberry32 } from '../../util/random';

/** Forward multiply-adds per token of `cfg` at sequence length `seqLen` (see the file comment). */
export function forwardMacsPerToken(cfg: MoEConfig, seqLen: number): number {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new Error(`forwardMacsPerToken: seqLen must be a positive integer, got ${seqLen}`);
  const H = cfg.hiddenSize;
  const d = headDim(cfg);
  const attnProj = H * (cfg.numHeads + 2 * cfg.numKvHeads) * d + cfg.numHeads * d * H;
  const experts = cfg.topK * 3 * H * cfg.intermediateSize + 3 * H * cfg.sharedExpertSize;
  const layer = attnProj + H * cfg.numExperts + experts + 2 * seqLen * H;
  return cfg.numLayers * layer + H * cfg.vocabSize;
}

/** Training FLOPs per token: 6 · forward multiply-adds. */
export function trainFlopsPerToken(cfg: MoEConfig, seqLen: number): number {
  return 6 * forwardMacsPerToken(cfg, seqLen);
}

/** A measured step: its config, batch shape and CPU milliseconds (the first steps, kernel set-up, left out). */
export interface StepCalibration {
  config: MoEConfig;
  batchSize: number;
  seqLen: number;
  cpuMs: number;
}

/** Seconds per training FLOP of a calibration. */
export function secondsPerFlop(c: StepCalibration): number {
  if (!(c.cpuMs > 0)) throw new Error(`secondsPerFlop: cpuMs must be > 0, got ${c.cpuMs}`);
  return c.cpuMs / 1000 / (c.batchSize * c.seqLen * trainFlopsPerToken(c.config, c.seqLen));
}

/** CPU seconds of `tokens` training tokens of `cfg` at `seqLen`, scaled from a calibration by FLOPs. */
export function trainSeconds(cfg: MoEConfig, seqLen: number, tokens: number, c: StepCalibration): number {
  return tokens * trainFlopsPerToken(cfg, seqLen) * secondsPerFlop(c);
}

/**
 * Measures training CPU milliseconds per step of a fresh `cfg` model on random ids (one thread, the
 * project's trainer): the median of `steps` steps after `warmup` unmeasured ones (the first steps compile
 * kernels). CPU time rather than wall time, so a busy machine inflates it less.
 */
export async function measureStepCpuMs(cfg: MoEConfig, o: { batchSize: number; seqLen: number; steps?: number; warmup?: number; seed?: number }): Promise<StepCalibration> {
  const steps = o.steps ?? 4;
  const warmup = o.warmup ?? 2;
  for (const [k, v] of [['batchSize', o.batchSize], ['seqLen', o.seqLen], ['steps', steps]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`measureStepCpuMs: ${k} must be a positive integer, got ${v}`);
  }
  const model = MoEModel.init(cfg, o.seed ?? 0);
  const rand = mulberry32(o.seed ?? 0);
  const cpu: number[] = [];
  let last = process.cpuUsage();
  try {
    await train(model, {
      steps: warmup + steps,
      batches: () => ({ ids: Array.from({ length: o.batchSize }, () => Array.from({ length: o.seqLen + 1 }, () => Math.floor(rand() * cfg.vocabSize))) }),
      lr: 1e-3,
      minLr: 1e-4,
      warmupSteps: 1,
      workers: 1,
      onStep: () => {
        const now = process.cpuUsage();
        cpu.push((now.user - last.user + now.system - last.system) / 1000);
        last = now;
      },
    });
  } finally {
    model.dispose();
  }
  const kept = cpu.slice(warmup).sort((a, b) => a - b);
  const m = kept.length % 2 ? kept[(kept.length - 1) / 2] : (kept[kept.length / 2 - 1] + kept[kept.length / 2]) / 2;
  return { config: cfg, batchSize: o.batchSize, seqLen: o.seqLen, cpuMs: Number(m.toFixed(1)) };
}
