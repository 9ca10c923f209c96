/**
 * Where the MUMU runs are and whether each is finished: one directory per run under a runs folder (the cache's
 * `.cache/mumu/`, where `npm run train:mumu` writes, or the shipped `data/checkpoints/mumu/`, which
 * `npm run ship:mumu` fills with the same layout). Notebook 05, the shipping and full mode's training of what
 * is missing all ask the same questions here:
 *
 *   wantedRuns   every run the verdicts read: `mumu` at 1, 4, 16 and 64 tokens per crop, `no-augment` and
 *                `caption-only` (VERDICT_RUNS), and `decoder-full` (§7 Question 1), each at seeds 0, 1, 2
 *   runProblem   null for a finished run (trained to its last step AND scored on the held-out prompts);
 *                otherwise what is missing, in words, with the command that finishes it
 *   placeRuns    each wanted run's directory under a runs folder, its state and its command
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Arm, runName, VERDICT_RUNS } from './arms';
import type { TokensPerCrop } from './pooler';
import { readRunMetrics } from './run-metrics';
import { readHeldOutScores, SCORES_FILE } from './scores';
import { checkTrainedRun, Placed } from '../run-places';

/** Seeds of every wanted run (issue #17: 3 seeds where a run is ≤ 15 min). */
export const SEEDS = [0, 1, 2] as const;

/** The run sets (arm × tokens per crop) the notebook reads: the verdict runs, then decoder-full (§7 Q1). */
export const RUN_SETS: ReadonlyArray<{ arm: Arm; tokensPerCrop: TokensPerCrop | null }> = [...VERDICT_RUNS, { arm: 'decoder-full', tokensPerCrop: 64 }];

/** A run the notebook reads. */
export interface WantedRun {
  /** `mumu-<arm>-t<N>-seed<k>` (`mumu-caption-only-seed<k>`). */
  name: string;
  arm: Arm;
  tokensPerCrop: TokensPerCrop | null;
  seed: number;
}

/** The command that trains (or resumes, or scores) one run. */
export function trainCommand(w: Pick<WantedRun, 'arm' | 'tokensPerCrop' | 'seed'>): string {
  return `npm run train:mumu -- --arm ${w.arm}${w.tokensPerCrop === null ? '' : ` --tokens-per-crop ${w.tokensPerCrop}`} --seed ${w.seed}`;
}

/** Every wanted run, run set by run set, seeds in order. */
export function wantedRuns(seeds: readonly number[] = SEEDS, sets = RUN_SETS): WantedRun[] {
  return sets.flatMap((s) => seeds.map((seed) => ({ name: runName(s.arm, s.tokensPerCrop, seed), arm: s.arm, tokensPerCrop: s.tokensPerCrop, seed })));
}

/** The run directory of a run whose output is `<runsDir>/<run>`: `<runsDir>/../runs/<run>` (.cache/runs/<run> for .cache/mumu, as train:mumu). */
export function runDirIn(runsDir: string, run: string): string {
  return path.join(path.dirname(runsDir), 'runs', run);
}

/**
 * Null when `dir` holds the finished run `w`: its metrics.json (written last when training ends) of a run
 * that stopped 'done', and its eval-heldout.json (written when its held-out prompts are scored). Otherwise
 * what is missing and the command that finishes it. A run started but not trained to the end has only its
 * run directory `runDir` (snapshots), no output directory yet.
 */
export function runProblem(dir: string, w: WantedRun, runDir?: string): string | null {
  const again = trainCommand(w);
  if (!fs.existsSync(dir) && runDir !== undefined && fs.existsSync(runDir)) {
    return `${w.name} is not finished: ${runDir} holds its snapshots, ${dir} is written when training ends; if it is still training, wait; if it was interrupted, run ${again} again to resume it`;
  }
  const trained = checkTrainedRun(dir, w.name, again, readRunMetrics);
  if (trained.problem !== null) return trained.problem;
  if (!fs.existsSync(path.join(dir, SCORES_FILE))) {
    return `${w.name} is trained but not scored: ${dir} has no ${SCORES_FILE} (the held-out prompts' scores); if it is being scored, wait; otherwise run ${again} again to score it`;
  }
  try {
    const s = readHeldOutScores(dir);
    if (s.run !== w.name) return `${path.join(dir, SCORES_FILE)} scores ${s.run}, not ${w.name}; score it again with ${again}`;
  } catch (e) {
    return `${w.name}: ${(e as Error).message}`;
  }
  return null;
}

/** A wanted run under a runs folder; missing: neither its output nor its run directory is there. */
export type RunPlace = Placed<WantedRun>;

/** Each wanted run's directory under `runsDir` and its state (see the file comment); `runDirOf` says where a run's snapshots are. */
export function placeRuns(runsDir: string, wanted: readonly WantedRun[] = wantedRuns(), runDirOf: (run: string) => string = (r) => runDirIn(runsDir, r)): RunPlace[] {
  return wanted.map((w) => {
    const dir = path.join(runsDir, w.name);
    const problem = runProblem(dir, w, runDirOf(w.name));
    const state = problem === null ? 'finished' : fs.existsSync(dir) || fs.existsSync(runDirOf(w.name)) ? 'unfinished' : 'missing';
    return { ...w, dir, state, problem, command: trainCommand(w) };
  });
}
