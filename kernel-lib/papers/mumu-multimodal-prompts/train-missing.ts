/**
 * One MUMU run end to end, as `npm run train:mumu` runs it and notebook 05's full mode trains what is missing:
 * train it (resumably: the run directory keeps snapshots), then score it on the held-out prompts
 * (scores.ts, eval-heldout.json). A run already trained to the end with the same settings is not trained again,
 * only scored, so running the same command after an interruption while scoring finishes the scoring.
 *
 *   await trainRun({ arm: 'mumu', tokensPerCrop: 16, seed: 0 }, tools, { outDir, runDir });
 *   places = await trainMissing(places, runsDir, tools, { runDirOf });   // every run not finished there
 */
import type { Arm } from './arms';
import type { TokensPerCrop } from './pooler';
import type { MumuEvent, RunMetrics } from './run-metrics';
import { readRunMetrics } from './run-metrics';
import { runName } from './arms';
import { placeRuns, RunPlace } from './run-places';
import { HeldOutScores, scoreRun } from './scores';
import { trainMumu } from './shipped';
import type { MumuTools } from './tools';
import { finishedRunMetrics, TrainMissingCommon, trainUnfinished } from '../run-places';

/** Recipe settings a run may change (default: the recipe's). */
export interface RunSettings {
  steps?: number;
  batchSize?: number;
  lr?: number;
  probeItems?: number;
  checkpointEvery?: number;
}

export interface TrainRunOptions extends RunSettings {
  outDir: string;
  runDir: string;
  /** Train again even when outDir holds the finished run (--fresh). */
  retrain?: boolean;
  onProgress?: (e: MumuEvent) => void;
  /** Held-out prompts drawn so far, of all. */
  onScore?: (done: number, total: number) => void;
  log?: (s: string) => void;
  signal?: AbortSignal;
}

/** The finished run's metrics in outDir when its settings are the ones asked for; else null. */
function finishedAlready(outDir: string, name: string, o: RunSettings): RunMetrics | null {
  const m = finishedRunMetrics(outDir, name, readRunMetrics);
  if (!m) return null;
  const same = (o.steps === undefined || o.steps === m.steps) && (o.batchSize === undefined || o.batchSize === m.optimizer.batchSize) && (o.lr === undefined || o.lr === m.optimizer.lr);
  return same ? m : null;
}

/**
 * Trains (unless already trained) and scores one run (see the file comment). Returns its metrics, and its
 * scores when it finished and was scored (null when stopped by `signal` first).
 */
export async function trainRun(w: { arm: Arm; tokensPerCrop: TokensPerCrop | null; seed: number }, tools: MumuTools, o: TrainRunOptions): Promise<{ metrics: RunMetrics; scores: HeldOutScores | null }> {
  const name = runName(w.arm, w.tokensPerCrop, w.seed);
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  let metrics = o.retrain ? null : finishedAlready(o.outDir, name, o);
  if (metrics) log(`[${name}] already trained (${o.outDir}); scoring it`);
  else {
    metrics = await trainMumu({
      arm: w.arm, tokensPerCrop: w.tokensPerCrop ?? undefined, seed: w.seed, steps: o.steps, batchSize: o.batchSize, lr: o.lr, probeItems: o.probeItems, checkpointEvery: o.checkpointEvery,
      baseDir: tools.baseDir, ldmDir: tools.ldmDir, vqvaeDir: tools.vqvaeDir, store: tools.store, outDir: o.outDir, runDir: o.runDir, onProgress: o.onProgress, log, signal: o.signal,
    });
  }
  if (metrics.stopped !== 'done' || o.signal?.aborted) return { metrics, scores: null };
  const scores = await scoreRun(o.outDir, { baseDir: tools.baseDir, ldmDir: tools.ldmDir, tools, sizes: tools.sizes, draw: tools.draw, onProgress: o.onScore, signal: o.signal });
  if (scores) log(`[${name}] scored ${scores.sameSource.ids.length} same-source and ${Object.values(scores.otherSource).reduce((n, s) => n + s.ids.length, 0)} other-source held-out prompts in ${scores.wall_time_s} s`);
  return { metrics, scores };
}

export interface TrainMissingOptions extends RunSettings, TrainMissingCommon<RunPlace, MumuEvent> {
  onScore?: (done: number, total: number) => void;
}

/**
 * Full mode's training: every run among `places` not finished is trained (or resumed, or scored) as
 * `npm run train:mumu` would, into the same output directory (`<runsDir>/<run>`) and run directory. Finished
 * runs are left as they are. Returns the places afterwards.
 */
export async function trainMissing(places: readonly RunPlace[], runsDir: string, tools: MumuTools, o: TrainMissingOptions): Promise<RunPlace[]> {
  await trainUnfinished(places, o, (p) => trainRun(p, tools, { ...o, outDir: p.dir, runDir: o.runDirOf(p.name) }));
  return placeRuns(runsDir, places, o.runDirOf);
}
