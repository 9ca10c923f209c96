/**
 * What the training-step sections of `switchboard bench` share (vqvae-train, diffusion-train, clip-train):
 * worker counts that take turns in rounds, so a machine whose load drifts affects them alike; medians of
 * each count's wall and process CPU time per step; wall-clock speed-ups over one thread; the machine's
 * load around the run and the lines that print all of these.
 */
import * as os from 'node:os';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import type { DeviceInfo } from '../kernel-lib/backend/backend';
import { upperMedian } from '../kernel-lib/util/stats';

/** The median every bench section reports: util/stats upperMedian (one measured sample: the upper middle one for an even count). */
export const median = upperMedian;

/** V8's full garbage collection, exposed at run time (as --expose-gc would); null where the flag cannot be set. */
const collect: (() => void) | null = (() => {
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
})();

/**
 * A full garbage collection before a timed call (not timed): V8 collects a previous call's garbage on helper
 * threads, whose CPU time process.cpuUsage would bill to whatever runs next. Nothing where gc cannot be exposed.
 */
export function collectGarbage(): void {
  collect?.();
}

/** The 1-minute load average at the start and the end of a section, and the core count. */
export interface MachineLoad {
  start: number;
  end: number;
  cores: number;
}

/** Notes the load now; the returned function notes it again and gives both. */
export function watchLoad(): () => MachineLoad {
  const start = os.loadavg()[0];
  return () => ({ start, end: os.loadavg()[0], cores: os.cpus().length });
}

/** The load line, with a warning when other work shared the cores (wall times then say little). */
export function formatLoad(load: MachineLoad): string {
  return (
    `machine load (1-min average): ${load.start.toFixed(2)} at the start, ${load.end.toFixed(2)} at the end, on ${load.cores} cores` +
    (Math.max(load.start, load.end) > 0.5 ? ' — a busy machine: these wall times say little about an idle one' : '')
  );
}

/** The backend as the workers run it (each worker starts the same backend with the same threads). */
export function describeWorkerDevice(dev: DeviceInfo): string {
  return `${dev.backend}${dev.simd ? ' SIMD' : ''}, ${dev.threads} thread${dev.threads === 1 ? '' : 's'} per worker`;
}

/** Throws unless there is at least one worker count to measure. */
export function requireCounts(section: string, counts: number[]): void {
  if (counts.length === 0) throw new Error(`bench ${section}: no worker counts to measure`);
}

/** The timed steps of one training run: wall and process CPU time of each, in the section's unit. */
export interface StepSamples {
  wall: number[];
  cpu: number[];
}

/**
 * Calls `train(count, round)` for every count in turn, `rounds` times, and logs each run's median wall
 * time; returns each count's medians over all its runs' timed steps, keyed by the count.
 */
export async function takeTurns(o: {
  counts: number[];
  rounds: number;
  train: (count: number, round: number) => Promise<StepSamples>;
  logRun: (round: number, count: number, wallMedian: number) => void;
}): Promise<Record<string, { wall: number; cpu: number }>> {
  const all = new Map<number, StepSamples>(o.counts.map((c) => [c, { wall: [], cpu: [] }]));
  for (let r = 0; r < o.rounds; r++) {
    for (const c of o.counts) {
      const run = await o.train(c, r);
      if (run.wall.length === 0) throw new Error(`bench: a run on ${c} thread(s) timed no steps`);
      const into = all.get(c) as StepSamples;
      into.wall.push(...run.wall);
      into.cpu.push(...run.cpu);
      o.logRun(r, c, median(run.wall));
    }
  }
  return Object.fromEntries(o.counts.map((c) => [String(c), { wall: median((all.get(c) as StepSamples).wall), cpu: median((all.get(c) as StepSamples).cpu) }]));
}

/** Each count's steps/s over one thread's, from median wall times per step ({} when 1 was not measured). */
export function speedups(wall: Record<string, number>): Record<string, number> {
  const one = wall['1'];
  return one === undefined ? {} : Object.fromEntries(Object.entries(wall).map(([c, w]) => [c, one / w]));
}

/** One count's line: wall per step (and its speed-up over one thread), CPU per step of all threads. */
export function formatCountLine(count: string, wall: number, cpu: number, speedup: number | undefined, unit: 'ms' | 's'): string {
  const name = count === '1' ? '1 thread ' : `${count} workers`;
  const f = (x: number) => x.toFixed(unit === 'ms' ? 0 : 2);
  return `  ${name}: wall ${f(wall)} ${unit}/step${speedup !== undefined && count !== '1' ? ` (${speedup.toFixed(2)}× one thread)` : ''}, CPU ${f(cpu)} ${unit}/step (all threads)`;
}
