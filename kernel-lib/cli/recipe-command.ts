/**
 * What the paper recipes' commands (train moss, train minigpt5, train mumu) share: the training options each
 * takes (--seed --steps --batch --lr --probe-items --out --fresh), checked the same way before any work, and
 * the run: the run directory (--fresh clears it), the output directory (default .cache/<folder>/<run>),
 * throttled progress, Ctrl-C as a clean stop that the same command resumes, the metrics on stdout.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../backend/backend';
import { cachePath, runDir as runDirOf } from '../paths';
import { numberArg, Parsed, seedArg, UsageError } from './args';
import { Io, throttledProgress, withInterrupt, EXIT_INTERRUPTED } from './io';

/** The checked training options (absent: the recipe's default). */
export interface RecipeArgs {
  seed?: number;
  steps?: number;
  batchSize?: number;
  lr?: number;
  probeItems?: number;
  out?: string;
  fresh: boolean;
}

/** Reads and checks the training options (in this order: --lr, --seed, --steps, --batch, --probe-items). */
export function recipeArgs(values: Parsed['values']): RecipeArgs {
  const lr = numberArg(values, 'lr', { min: 0 });
  if (lr === 0) throw new UsageError("--lr must be a number > 0, got '0'");
  return {
    seed: seedArg(values),
    steps: numberArg(values, 'steps', { integer: true, min: 1 }),
    batchSize: numberArg(values, 'batch', { integer: true, min: 1 }),
    lr,
    probeItems: numberArg(values, 'probe-items', { integer: true, min: 0 }),
    out: values.out as string | undefined,
    fresh: values.fresh === true,
  };
}

/** Where a recipe run reads and writes, and what it reports with. */
export interface RecipeRunPlaces<E> {
  outDir: string;
  runDir: string;
  onProgress: (e: E) => void;
  signal: AbortSignal;
  log: (s: string) => void;
}

export interface RecipeRun<E, M> {
  /** The run's name (its run directory, its default output directory, the progress lines). */
  name: string;
  /** The default output directory is .cache/<folder>/<name>. */
  folder: string;
  out?: string;
  /** The run directory (default .cache/runs/<name>) and the default output directory (default .cache/<folder>/<name>), when a command keeps them elsewhere. */
  runDir?: string;
  defaultOut?: string;
  fresh: boolean;
  /** Steps between snapshots (named when Ctrl-C stops the run). */
  checkpointEvery: number;
  /** A progress line for a step, with the minutes left. */
  line: (e: E, etaMinutes: number) => string;
  train: (p: RecipeRunPlaces<E>) => Promise<M>;
}

/** Runs a recipe (see the file comment); returns the exit code: 0, or EXIT_INTERRUPTED after Ctrl-C. */
export async function runRecipe<E extends { step: number; totalSteps: number; elapsedMs: number }, M extends { lossCurve: ReadonlyArray<readonly [number, ...unknown[]]> }>(io: Io, r: RecipeRun<E, M>): Promise<number> {
  await initBackend();
  const runDir = r.runDir ?? runDirOf(r.name);
  if (r.fresh) fs.rmSync(runDir, { recursive: true, force: true });
  const outDir = r.out !== undefined ? path.resolve(r.out) : (r.defaultOut ?? cachePath(r.folder, r.name));
  const onProgress = throttledProgress<E>(io, r.line);
  return withInterrupt(async (signal, interrupted) => {
    const metrics = await r.train({ outDir, runDir, onProgress, signal, log: (s) => io.err(s) });
    if (interrupted()) {
      io.err(`[${r.name}] interrupted after step ${metrics.lossCurve.at(-1)?.[0] ?? 0}; the same command resumes from the last snapshot (every ${r.checkpointEvery} steps)`);
      return EXIT_INTERRUPTED;
    }
    io.out(JSON.stringify(metrics, null, 1));
    return 0;
  });
}
