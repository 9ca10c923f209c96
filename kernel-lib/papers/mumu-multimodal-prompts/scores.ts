/**
 * A finished run's held-out scores (`eval-heldout.json` in its output directory, beside metrics.json): the run
 * draws the held-out prompts of heldout.ts (DDIM with CFG, prompt i from the noise of seed + i), and every
 * drawing is scored per prompt by evaluate.ts (identity, crop CLIP-I, copy share, harmonised; null where a
 * score is undefined, e.g. identity of a prompt that names its objects). The notebook and the results builder
 * read only these files, so a shipped run is read exactly as a fresh one.
 *
 *   await scoreRun(outDir, { baseDir, ldmDir, tools });      // draws and scores, writes eval-heldout.json
 *   readHeldOutScores(outDir).sameSource.identity            // per prompt, NaN where undefined
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { arr, checkShape, Infer, int, keyed, num, numOrNull, obj, str } from '../shape';
import { ShapeError } from '../shape';
import { readJsonOf } from '../recipe-metrics';
import { atomicWriteFile } from '../../checkpoint/files';
import type { Example } from '../../data/example-list';
import type { MumuMeta } from '../../data/mumu-prompts';
import type { DataStore } from '../../data/store';
import type { ClipModel } from '../../eval/clip';
import type { SceneChecker } from '../../eval/scene-checker';
import { OTHER_SOURCES, OtherSource } from './claims';
import { copyScores, cropClipI, DrawParts, drawItems, harmonisedScores, identityScores } from './evaluate';
import { codeExamples, CropEncoder } from './items';
import { DRAW, DrawSettings, HELD_OUT, HeldOutSizes, heldOutSets } from './heldout';
import type { Measure, SeedSet } from './results';
import { readRunMetrics } from './run-metrics';
import { loadMumu } from './shipped';

export const SCORES_FILE = 'eval-heldout.json';

const SET = obj({ ids: arr(str), identity: arr(numOrNull), cropClipI: arr(numOrNull), copied: arr(numOrNull), harmonised: arr(numOrNull) });
export const HELD_OUT_SCORES = obj({
  run: str,
  split: str,
  draw: obj({ cfgScale: num, steps: int, seed: int }),
  sameSource: SET,
  otherSource: keyed(OTHER_SOURCES, SET),
  wall_time_s: num,
});
export type HeldOutScores = Infer<typeof HELD_OUT_SCORES>;
export type ScoredSet = Infer<typeof SET>;

/** What scoring reads besides the run: the data, the crop coder (the VQ-VAE), CLIP and the scene checker. */
export interface ScoreTools {
  store: DataStore;
  encode: CropEncoder;
  clip: ClipModel;
  checker: SceneChecker;
}

const MEASURE_KEYS = ['identity', 'cropClipI', 'copied', 'harmonised'] as const satisfies readonly Measure[];
const nullable = (xs: readonly number[]) => xs.map((x) => (Number.isFinite(x) ? Number(x.toFixed(6)) : null));

/** Draws a set of prompts with a run and scores each (the four measures, null where undefined). */
export async function scoreSet(parts: DrawParts, examples: ReadonlyArray<Example<MumuMeta>>, tools: ScoreTools, draw: DrawSettings, onDrawn?: (n: number) => void): Promise<ScoredSet> {
  const items = codeExamples(examples, tools.encode);
  const images = await drawItems(parts, items, { ...draw, onProgress: (d) => onDrawn?.(d) });
  const metas = examples.map((e) => e.meta);
  return {
    ids: examples.map((e) => e.id),
    identity: nullable(identityScores(tools.checker, images, metas)),
    cropClipI: nullable(cropClipI(tools.clip, images, examples)),
    copied: nullable(copyScores(images, examples)),
    harmonised: nullable(harmonisedScores(tools.checker, images, metas)),
  };
}

export interface ScoreRunOptions {
  baseDir: string;
  ldmDir: string;
  tools: ScoreTools;
  sizes?: HeldOutSizes;
  draw?: Partial<DrawSettings>;
  dataSeed?: number;
  /** Prompts drawn so far, of all. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * Scores the finished run in `dir` on the held-out prompts and writes its eval-heldout.json (atomically, so a
 * run stopped while scoring has none). Returns the scores, or null when `signal` stopped it first.
 */
export async function scoreRun(dir: string, o: ScoreRunOptions): Promise<HeldOutScores | null> {
  const t0 = Date.now();
  const m = readRunMetrics(dir);
  if (m.stopped !== 'done') throw new Error(`mumu.scoreRun: ${m.name} stopped early (${m.stopped}); only a finished run is scored`);
  const sets = heldOutSets(o.tools.store, o.sizes ?? HELD_OUT, o.dataSeed);
  const draw: DrawSettings = { ...DRAW, ...o.draw };
  const total = sets.sameSource.length + OTHER_SOURCES.reduce((n, k) => n + sets.otherSource[k].length, 0);
  const run = await loadMumu(dir, { baseDir: o.baseDir, ldmDir: o.ldmDir });
  try {
    let done = 0;
    const next = async (examples: ReadonlyArray<Example<MumuMeta>>): Promise<ScoredSet | null> => {
      if (o.signal?.aborted) return null;
      const s = await scoreSet(run, examples, o.tools, draw, (d) => o.onProgress?.(done + d, total));
      done += examples.length;
      return s;
    };
    const sameSource = await next(sets.sameSource);
    if (!sameSource) return null;
    const other: Partial<Record<OtherSource, ScoredSet>> = {};
    for (const k of OTHER_SOURCES) {
      const s = await next(sets.otherSource[k]);
      if (!s) return null;
      other[k] = s;
    }
    if (o.signal?.aborted) return null;
    const scores: HeldOutScores = { run: m.name, split: sets.split, draw, sameSource, otherSource: other as Record<OtherSource, ScoredSet>, wall_time_s: Number(((Date.now() - t0) / 1000).toFixed(1)) };
    checkHeldOutScores(scores, `${m.name} scores`);
    atomicWriteFile(path.join(dir, SCORES_FILE), `${JSON.stringify(scores, null, 1)}\n`);
    return scores;
  } finally {
    run.dispose();
  }
}

/** Checks scores: the shape, and every measure of a set as long as its ids. */
export function checkHeldOutScores(x: unknown, what: string): HeldOutScores {
  const s = checkShape(HELD_OUT_SCORES, x, what);
  const sets: Array<[string, ScoredSet]> = [['sameSource', s.sameSource], ...OTHER_SOURCES.map((k): [string, ScoredSet] => [`otherSource.${k}`, s.otherSource[k]])];
  for (const [name, set] of sets) {
    for (const k of MEASURE_KEYS) if (set[k].length !== set.ids.length) throw new ShapeError(`${what}: ${name}.${k} has ${set[k].length} scores for ${set.ids.length} prompts`);
  }
  return s;
}

/** Reads and checks a run's eval-heldout.json (the file, or the run's output directory). */
export function readHeldOutScores(fileOrDir: string): HeldOutScores {
  const file = fs.existsSync(fileOrDir) && fs.statSync(fileOrDir).isDirectory() ? path.join(fileOrDir, SCORES_FILE) : fileOrDir;
  return checkHeldOutScores(readJsonOf(file, 'mumu.readHeldOutScores'), file);
}

/** A scored set as the results builder takes it: per measure, per prompt, NaN where undefined. */
export function seedSetOf(s: ScoredSet): SeedSet {
  return Object.fromEntries(MEASURE_KEYS.map((k) => [k, s[k].map((x) => (x === null ? NaN : x))])) as SeedSet;
}
