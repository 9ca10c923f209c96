/** Learning-rate schedule: linear warmup to `lr`, then cosine decay to `minLr` at `totalSteps`. */
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
