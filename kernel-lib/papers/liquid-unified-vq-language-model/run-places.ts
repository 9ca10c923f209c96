/**
 * Where the Liquid runs are and whether each is finished: one directory per run under a runs folder (the
 * cache's `.cache/liquid/`, where `npm run train:liquid` writes, or the shipped `data/checkpoints/liquid/`,
 * which `npm run ship:liquid` fills with the same layout), and each size's text checkpoint in `text-<size>/`
 * there (moe-h128's is the shipped text-moe-small). Notebook 03, the shipping and full mode's training of
 * what is missing all ask the same questions here:
 *
 *   wantedRuns   every run the plan trains: each size's text checkpoint that is not shipped, then every
 *                continuation arm × its seeds
 *   runProblem   null for a finished run; otherwise what is missing, in words, with the command that finishes it
 *   placeRuns    each wanted run's directory under a runs folder, its state and its command
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SizePresetName } from '../../model/config';
import { ArmGroup, liquidPlan, LiquidPlan } from './plan';
import { runName } from './recipe';
import { evalName, METRICS_FILE, readEvalFile, readRunMetrics } from './run-metrics';
import { readTextRecord } from './results';
import { textDirIn } from './tools';
import { checkTrainedRun, Placed } from '../run-places';

/** The command that trains (or resumes, or finishes evaluating) one run. */
export function trainCommand(arm: string, seed = 0): string {
  return arm.startsWith('text-') ? `npm run train:liquid -- --arm ${arm}` : `npm run train:liquid -- --arm ${arm} --seed ${seed}`;
}

/** A run of the plan. */
export interface WantedRun {
  /** `<arm>-seed<k>`, or `text-<size>` for a text checkpoint. */
  name: string;
  arm: string;
  seed: number;
  size: SizePresetName;
  kind: 'pretrain' | 'continue';
  /** The continuation's group (experiment); absent for a text checkpoint. */
  group?: ArmGroup;
}

/** Every run the plan trains, text checkpoints first (continuations need them), then the arms in plan order. */
export function wantedRuns(plan: LiquidPlan = liquidPlan()): WantedRun[] {
  return [
    ...plan.pretrain.filter((p) => !p.shipped).map((p) => ({ name: p.name, arm: p.name, seed: 0, size: p.size, kind: 'pretrain' as const })),
    ...plan.arms.flatMap((a) => a.seeds.map((seed) => ({ name: runName(a.name, seed), arm: a.name, seed, size: a.size, kind: 'continue' as const, group: a.group }))),
  ];
}

/**
 * Null when `dir` holds the finished continuation run `name` (metrics.json of a run that stopped 'done', an
 * evaluation file for every evaluation step and the probes written after them); otherwise what is missing.
 * A run's metrics.json is first written when training ends, and again with its probes when every checkpoint
 * is scored, so a run still training has none and a run being evaluated has probes missing.
 */
export function continuationProblem(dir: string, w: Pick<WantedRun, 'name' | 'arm' | 'seed'>): string | null {
  const again = trainCommand(w.arm, w.seed);
  const trained = checkTrainedRun(dir, w.name, again, readRunMetrics);
  if (trained.problem !== null) return trained.problem;
  const m = trained.metrics;
  const missing = m.evalSteps.filter((k) => !fs.existsSync(path.join(dir, evalName(k))));
  if (missing.length > 0 || m.probes.length !== m.evalSteps.length) {
    const what = missing.length > 0 ? `${missing.map(evalName).join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing` : `its ${METRICS_FILE} has no probes yet`;
    return `${w.name} is trained but not fully evaluated (${what}); if its evaluation is running, wait; otherwise run ${again} again to finish it`;
  }
  for (const k of m.evalSteps) {
    try {
      readEvalFile(dir, k);
    } catch (e) {
      return `${w.name}: ${(e as Error).message}`;
    }
  }
  return null;
}

/** Null when `dir` holds an evaluated text checkpoint record (metrics.json with its held-out perplexities); otherwise what is missing. */
export function textProblem(dir: string, w: Pick<WantedRun, 'name' | 'size'>): string | null {
  const again = trainCommand(w.name);
  if (!fs.existsSync(path.join(dir, METRICS_FILE))) return `${w.name} is not trained: ${dir} has no ${METRICS_FILE} (${again}; a run still training writes it when it ends)`;
  try {
    readTextRecord(w.size, dir);
  } catch (e) {
    return `${w.name} is not finished: ${(e as Error).message}; if it is still being evaluated, wait; otherwise run ${again} again`;
  }
  return null;
}

/** A wanted run under a runs folder; missing: no directory, or a text checkpoint without metrics. */
export type RunPlace = Placed<WantedRun>;

/** Each wanted run's directory under `runsDir` and its state (see the file comment). */
export function placeRuns(runsDir: string, wanted: readonly WantedRun[] = wantedRuns()): RunPlace[] {
  return wanted.map((w) => {
    const dir = w.kind === 'pretrain' ? textDirIn(runsDir, w.size) : path.join(runsDir, w.name);
    const problem = w.kind === 'pretrain' ? textProblem(dir, w) : continuationProblem(dir, w);
    const state = problem === null ? 'finished' : fs.existsSync(dir) && (w.kind === 'continue' || fs.existsSync(path.join(dir, METRICS_FILE))) ? 'unfinished' : 'missing';
    return { ...w, dir, state, problem, command: trainCommand(w.arm, w.seed) };
  });
}
