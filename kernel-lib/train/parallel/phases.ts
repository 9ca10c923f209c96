/**
 * Per-phase wall times of a data-parallel step (where a step's time goes: weights in, forward and
 * backward, gradients out, barrier waits, the sum, AdamW). Off by default: a disabled timer is one
 * shared object whose methods do nothing, so the step pays no clock reads.
 */

export interface PhaseTimer {
  /** Adds the time since the previous lap (or start) to `phase`. */
  lap(phase: string): void;
  /** The accumulated ms by phase, in first-lap order (empty when disabled). */
  result(): Record<string, number>;
}

const OFF: PhaseTimer = { lap: () => undefined, result: () => ({}) };

export function phaseTimer(enabled: boolean): PhaseTimer {
  if (!enabled) return OFF;
  const ms: Record<string, number> = {};
  let last = performance.now();
  return {
    lap(phase) {
      const now = performance.now();
      ms[phase] = (ms[phase] ?? 0) + (now - last);
      last = now;
    },
    result: () => ms,
  };
}
