/**
 * Where the MiniGPT-5 runs are and whether each is finished: one directory per run under a runs folder (the
 * cache's `.cache/minigpt5/`, where `npm run train:minigpt5` writes, or the shipped `data/checkpoints/minigpt5/`,
 * which `npm run ship:minigpt5` fills with the same layout). Notebook 04, the shipping and full mode's training
 * of what is missing all ask the same questions here:
 *
 *   wantedRuns   every run the notebook reads: stage 1 of Tables 5 and 7's arms, then stage 2 of `full` and
 *                `text-only` (Tables 6 and 2), each at seeds 0, 1, 2
 *   runProblem   null for a finished run (metrics.json of a run that stopped 'done' and its eval.json);
 *                otherwise what is missing, in words, with the command that finishes it
 *   placeRuns    each wanted run's directory under a runs folder, its state and its command
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Arm, Stage, TABLE5_ARMS, TABLE7_ARMS } from './arms';
import { runName } from './recipe';
import { readRunMetrics } from './run-metrics';
import { EVAL_FILE, readEval } from './eval-file';
import { checkTrainedRun, Placed } from '../run-places';

/** The folder of .cache (and of data/checkpoints) that holds one directory per run. */
export const RUNS_FOLDER = 'minigpt5';
/** Seeds of every arm (issue #15: 3 seeds where a run takes ≤ 15 min). */
export const SEEDS: readonly number[] = [0, 1, 2];

/** The command that trains (or resumes, or finishes evaluating) one run. */
export function trainCommand(stage: Stage, arm: Arm, seed: number): string {
  return `npm run train:minigpt5 -- --stage ${stage} --arm ${arm} --seed ${seed}`;
}

/** A run the notebook reads. */
export interface WantedRun {
  /** `minigpt5-s<stage>-<arm>-seed<k>` (runName). */
  name: string;
  stage: Stage;
  arm: Arm;
  seed: number;
}

/** The stage-1 arms (Table 5's, then Table 7's not already there) and the stage-2 arms, in training order. */
export const STAGE1_ARMS: readonly Arm[] = [...new Set<Arm>([...TABLE5_ARMS, ...TABLE7_ARMS])];
export const STAGE2_ARMS: readonly Arm[] = ['full', 'text-only'];

/** Every run the notebook reads (stage 1 first: stage 2 starts from it), at `seeds`. */
export function wantedRuns(seeds: readonly number[] = SEEDS): WantedRun[] {
  const runs = (stage: Stage, arms: readonly Arm[]) => arms.flatMap((arm) => seeds.map((seed) => ({ name: runName(stage, arm, seed), stage, arm, seed })));
  return [...runs(1, STAGE1_ARMS), ...runs(2, STAGE2_ARMS)];
}

/**
 * Null when `dir` holds the finished and evaluated run `w`; otherwise what is missing, with the command that
 * finishes it. The output directory is written when training ends, so a run still training (or interrupted)
 * shows only in its run directory (`runDir`, when given).
 */
export function runProblem(dir: string, w: WantedRun, runDir?: string): string | null {
  const again = trainCommand(w.stage, w.arm, w.seed);
  if (!fs.existsSync(dir) && runDir !== undefined && fs.existsSync(runDir)) {
    return `${w.name} is not finished: ${runDir} holds its snapshots but ${dir} does not exist yet (written when training ends); if it is still training, wait; if it was interrupted, run ${again} again to resume it`;
  }
  const trained = checkTrainedRun(dir, w.name, again, readRunMetrics);
  if (trained.problem !== null) return trained.problem;
  if (!fs.existsSync(path.join(dir, EVAL_FILE))) {
    return `${w.name} is trained but not evaluated: ${dir} has no ${EVAL_FILE} (its held-out scores, written after training); if its evaluation is running, wait; otherwise run ${again} again to finish it`;
  }
  try {
    const e = readEval(dir);
    if (e.run !== w.name) return `${path.join(dir, EVAL_FILE)} scores ${e.run}, not ${w.name}`;
  } catch (e) {
    return `${w.name}: ${(e as Error).message}`;
  }
  return null;
}

/** A wanted run under a runs folder; missing: neither its directory nor its run directory is there. */
export type RunPlace = Placed<WantedRun>;

/**
 * Each wanted run's directory under `runsDir` and its state (see the file comment); `runDirOf` names a run's
 * run directory (.cache/runs/<run>), so a run still training counts as started.
 */
export function placeRuns(runsDir: string, wanted: readonly WantedRun[] = wantedRuns(), runDirOf?: (run: string) => string): RunPlace[] {
  return wanted.map((w) => {
    const dir = path.join(runsDir, w.name);
    const runDir = runDirOf?.(w.name);
    const problem = runProblem(dir, w, runDir);
    const started = fs.existsSync(dir) || (runDir !== undefined && fs.existsSync(runDir));
    return { ...w, dir, state: problem === null ? 'finished' : started ? 'unfinished' : 'missing', problem, command: trainCommand(w.stage, w.arm, w.seed) };
  });
}
