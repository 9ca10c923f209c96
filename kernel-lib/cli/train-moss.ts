/**
 * `switchboard train moss --arm NAME --rank R --seed K` (`npm run train:moss -- …`): trains one arm of the
 * MoSS reproduction (papers/moss-modality-specialized-synergizers) on the frozen mm-moe-small, resumably
 * (Ctrl-C and run it again to continue), into `.cache/moss/<run>/` (PEFT adapter or checkpoint,
 * metrics.json with the per-step wall time, eval-test.json with the per-item held-out scores). Every
 * option is checked before any work starts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../backend/backend';
import { cachePath, checkpointDir, runDir as runDirOf } from '../paths';
import { trainArm, runName, ARMS, ARM_NAMES, RANKS, DEFAULTS } from '../papers/moss-modality-specialized-synergizers';
import type { Arm } from '../papers/moss-modality-specialized-synergizers';
import type { TrainEvent } from '../train/trainer';
import { CommandSpec, numberArg, parseCommand, seedArg, UsageError } from './args';
import { Io, throttledProgress, withInterrupt, EXIT_INTERRUPTED } from './io';

export const TRAIN_MOSS: CommandSpec = {
  usage: 'switchboard train moss',
  positionals: [],
  about:
    'Trains one arm of the MoSS reproduction (notebook 02) on the frozen data/checkpoints/mm-moe-small with the\n' +
    'instruction data (story completion, scene edits, continue with an image; train split). Resumable from\n' +
    '.cache/runs/<run> (Ctrl-C, then run it again); writes .cache/moss/<run>/ (the adapter in PEFT format, or the\n' +
    'fine-tuned checkpoint for full; metrics.json; eval-test.json), <run> = moss-<arm>-r<rank>-seed<seed>. Arms:\n' +
    ARM_NAMES.map((a) => `  ${a.padEnd(17)} ${ARMS[a]}`).join('\n'),
  options: {
    arm: { type: 'string', arg: 'NAME', help: `the arm (required): ${ARM_NAMES.join(', ')}` },
    rank: { type: 'string', arg: 'R', help: `adapter rank: ${RANKS.join(', ')} (default ${DEFAULTS.rank}; not for full)` },
    seed: { type: 'string', arg: 'K', help: `seed of the adapter and the data order (default ${DEFAULTS.seed})` },
    steps: { type: 'string', arg: 'N', help: `training steps (default ${DEFAULTS.steps})` },
    batch: { type: 'string', arg: 'N', help: `items per step (default ${DEFAULTS.batchSize})` },
    lr: { type: 'string', arg: 'X', help: `peak learning rate (default ${DEFAULTS.lr} for adapters, ${DEFAULTS.fullLr} for full)` },
    'probe-items': { type: 'string', arg: 'N', help: `held-out val items per task probed before and after (default ${DEFAULTS.probeItems}; 0: none)` },
    'test-items': { type: 'string', arg: 'N', help: `held-out test items per task scored into eval-test.json (default ${DEFAULTS.testItems}; 0: none)` },
    out: { type: 'string', arg: 'DIR', help: 'output directory (default .cache/moss/<run>)' },
    fresh: { type: 'boolean', help: 'delete the run directory first' },
  },
};

/** The checked options of a command line (exported for tests: every error is raised here, before any work). */
export function mossOptions(argv: string[]): { help: true } | { help: false; arm: Arm; rank: number; seed: number; steps?: number; batchSize?: number; lr?: number; probeItems?: number; testItems?: number; out?: string; fresh: boolean } {
  const { values, help } = parseCommand(argv, TRAIN_MOSS);
  if (help) return { help: true };
  const armArg = values.arm as string | undefined;
  if (armArg === undefined) throw new UsageError(`--arm is required: one of ${ARM_NAMES.join(', ')}`);
  if (!(ARM_NAMES as readonly string[]).includes(armArg)) throw new UsageError(`--arm must be one of ${ARM_NAMES.join(', ')}, got '${armArg}'`);
  const arm = armArg as Arm;
  const rankArg = numberArg(values, 'rank', { integer: true, min: 1 });
  if (rankArg !== undefined && arm === 'full') throw new UsageError('--rank does not apply to --arm full (full fine-tuning has no adapter)');
  if (rankArg !== undefined && !(RANKS as readonly number[]).includes(rankArg)) throw new UsageError(`--rank must be one of ${RANKS.join(', ')}, got '${String(values.rank)}'`);
  const count = (k: string) => numberArg(values, k, { integer: true, min: 0 });
  const lr = numberArg(values, 'lr', { min: 0 });
  if (lr === 0) throw new UsageError("--lr must be a number > 0, got '0'");
  return {
    help: false,
    arm,
    rank: rankArg ?? DEFAULTS.rank,
    seed: seedArg(values) ?? DEFAULTS.seed,
    steps: numberArg(values, 'steps', { integer: true, min: 1 }),
    batchSize: numberArg(values, 'batch', { integer: true, min: 1 }),
    lr,
    probeItems: count('probe-items'),
    testItems: count('test-items'),
    out: values.out as string | undefined,
    fresh: values.fresh === true,
  };
}

export async function trainMossCommand(argv: string[], io: Io): Promise<number> {
  const o = mossOptions(argv);
  if (o.help) return io.help(TRAIN_MOSS);
  const name = runName(o.arm, o.rank, o.seed);
  await initBackend();
  const runDir = runDirOf(name);
  if (o.fresh) fs.rmSync(runDir, { recursive: true, force: true });
  const outDir = o.out !== undefined ? path.resolve(o.out) : cachePath('moss', name);
  const progress = throttledProgress<TrainEvent>(
    io,
    (e, eta) => `[${name}] step ${e.step}/${e.totalSteps}  loss ${e.lmLoss.toFixed(3)}  lr ${e.lr.toExponential(2)}  ${(e.elapsedMs / e.step / 1000).toFixed(2)} s/step  ETA ${eta} min`,
  );
  return withInterrupt(async (signal, interrupted) => {
    const metrics = await trainArm({
      arm: o.arm, rank: o.rank, seed: o.seed, steps: o.steps, batchSize: o.batchSize, lr: o.lr, probeItems: o.probeItems, testItems: o.testItems,
      baseDir: checkpointDir('mm-moe-small'), vqvaeDir: checkpointDir('vqvae-emoji'), outDir, runDir, onProgress: progress, signal,
      log: (s) => io.err(s),
    });
    if (interrupted()) {
      io.err(`[${name}] interrupted after step ${metrics.lossCurve.at(-1)?.[0] ?? 0}; the same command resumes from the last snapshot (every ${DEFAULTS.checkpointEvery} steps)`);
      return EXIT_INTERRUPTED;
    }
    io.out(JSON.stringify(metrics, null, 1));
    return 0;
  });
}
