/**
 * What a trainer built on the loop (loop.ts) keeps of its steps: each step's numbers with its wall and CPU
 * time, the step a resumed run continued from, and a loss curve thinned for a metrics file. The history
 * travels in the run directory's record, so a resumed run's clock and curve continue where they stopped.
 */
import type { LoopStep } from './loop';

/** A finished step as a trainer reports it (onProgress) and records it. */
export interface TimedStep {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Wall time and process CPU time of the step (ms), and the time since the run began. */
  stepMs: number;
  stepCpuMs: number;
  elapsedMs: number;
}

export class StepHistory<E extends { elapsedMs: number }> {
  readonly events: E[] = [];
  /** The step a resumed run continued from (0: a fresh run). */
  resumedFrom = 0;
  private t0 = performance.now();

  /** `who` starts the error when a loss is not finite ("<who>: the loss became NaN at step 12"). */
  constructor(private readonly who: string) {}

  /** The timing of a loop step that just finished; a non-finite loss stops the run here. */
  timed(s: LoopStep): Pick<TimedStep, 'stepMs' | 'stepCpuMs' | 'elapsedMs'> {
    if (!Number.isFinite(s.loss)) throw new Error(`${this.who}: the loss became ${s.loss} at step ${s.step}`);
    const now = performance.now();
    const cpu = process.cpuUsage(s.cpuAtStart);
    return { stepMs: now - s.startedAt, stepCpuMs: (cpu.user + cpu.system) / 1000, elapsedMs: now - this.t0 };
  }

  /** Continues from a snapshot: its events, the step it holds, the clock (elapsed time counts on from its last event). */
  resume(events: readonly E[], step: number): void {
    this.events.push(...events);
    this.resumedFrom = step;
    this.t0 = performance.now() - (this.events.at(-1)?.elapsedMs ?? 0);
  }

  /** Milliseconds of training so far (the last event's elapsed time). */
  get trainMs(): number {
    return this.events.at(-1)?.elapsedMs ?? 0;
  }
}

/** At most `n` entries of a history, evenly spaced (every ⌈len/n⌉-th), the last always kept: a loss curve for a metrics file. */
export function thinned<T>(history: readonly T[], n = 200): T[] {
  const every = Math.max(1, Math.ceil(history.length / n));
  return history.filter((_e, i) => i % every === 0 || i === history.length - 1);
}
