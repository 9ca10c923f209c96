/**
 * Learning-rate schedule: linear warmup to `lr`, then cosine decay to `minLr` at `totalSteps`; and the
 * project's default optimiser settings (one place for the LM trainer and the paper recipes).
 */
import type { AdamWOptions } from './adamw';

export interface ScheduleOptions {
  lr: number;
  minLr: number;
  warmupSteps: number;
  totalSteps: number;
}

/** LR for 0-based step `step` (the update that produces step+1). */
export function learningRate(step: number, o: ScheduleOptions): number {
  if (o.warmupSteps > 0 && step < o.warmupSteps) return (o.lr * (step + 1)) / o.warmupSteps;
  const decaySteps = Math.max(1, o.totalSteps - o.warmupSteps);
  const t = Math.min(1, (step - o.warmupSteps) / decaySteps);
  return o.minLr + 0.5 * (o.lr - o.minLr) * (1 + Math.cos(Math.PI * t));
}

/** Optimisation options shared by every trainer (LM, CLIP): AdamW and the warmup + cosine schedule. */
export interface OptimOptions {
  lr?: number;
  minLr?: number;
  warmupSteps?: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
}

/** The project's default AdamW (the LM trainer's and the paper recipes'): β 0.9/0.95, ε 1e-8, weight decay 0.1 on matrices. */
export const DEFAULT_ADAMW: Readonly<AdamWOptions> = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
/** The default clip of the global gradient norm. */
export const DEFAULT_CLIP_NORM = 1;

/** The default warmup: 10 % of the steps, at most 100. */
export function defaultWarmupSteps(steps: number): number {
  return Math.min(100, Math.floor(steps / 10));
}

/** Optimiser settings as trainLoop takes them. */
export interface DefaultOptimizer {
  lr: number;
  minLr: number;
  warmupSteps: number;
  adam: AdamWOptions;
  clipNorm: number;
}

/** The default optimiser for `steps` updates at peak `lr`: warmup + cosine to lr/10, DEFAULT_ADAMW, DEFAULT_CLIP_NORM. */
export function defaultOptimizer(steps: number, lr: number): DefaultOptimizer {
  return { lr, minLr: lr / 10, warmupSteps: defaultWarmupSteps(steps), adam: { ...DEFAULT_ADAMW }, clipNorm: DEFAULT_CLIP_NORM };
}
