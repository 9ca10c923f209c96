/**
 * `switchboard train moss --arm NAME --rank R --seed K` (`npm run train:moss -- …`): trains one arm of the
 * MoSS reproduction (papers/moss-modality-specialized-synergizers) on the frozen mm-moe-small, resumably
 * (Ctrl-C and run it again to continue), into `.cache/moss/<run>/` (PEFT adapter or checkpoint,
 * metrics.json with the per-step wall time, eval-test.json with the per-item held-out scores). Every
 * option is checked before any work starts.
 */
import { checkpointDir } from '../paths';
import { trainArm, runName, ARMS, ARM_NAMES, RANKS, DEFAULTS } from '../papers/moss-modality-specialized-synergizers';
import type { Arm } from '../papers/moss-modality-specialized-synergizers';
import type { TrainEvent } from '../train/trainer';
import { choiceArg, CommandSpec, numberArg, numberChoice, parseCommand, UsageError } from './args';
import type { Io } from './io';
import { recipeArgs, RecipeArgs, runRecipe } from './recipe-command';

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

export interface MossCliOptions extends RecipeArgs {
  help: false;
  arm: Arm;
  rank: number;
  seed: number;
  testItems?: number;
}

/** The checked options of a command line (exported for tests: every error is raised here, before any work). */
export function mossOptions(argv: string[]): { help: true } | MossCliOptions {
  const { values, help } = parseCommand(argv, TRAIN_MOSS);
  if (help) return { help: true };
  if (values.arm === undefined) throw new UsageError(`--arm is required: one of ${ARM_NAMES.join(', ')}`);
  const arm = choiceArg(values, 'arm', ARM_NAMES) as Arm;
  const rankArg = numberArg(values, 'rank', { integer: true, min: 1 });
  if (rankArg !== undefined && arm === 'full') throw new UsageError('--rank does not apply to --arm full (full fine-tuning has no adapter)');
  const rank = numberChoice(values, 'rank', rankArg, RANKS);
  const a = recipeArgs(values);
  return { help: false, arm, rank: rank ?? DEFAULTS.rank, ...a, seed: a.seed ?? DEFAULTS.seed, testItems: numberArg(values, 'test-items', { integer: true, min: 0 }) };
}

export async function trainMossCommand(argv: string[], io: Io): Promise<number> {
  const o = mossOptions(argv);
  if (o.help) return io.help(TRAIN_MOSS);
  const name = runName(o.arm, o.rank, o.seed);
  return runRecipe<TrainEvent, Awaited<ReturnType<typeof trainArm>>>(io, {
    name,
    folder: 'moss',
    out: o.out,
    fresh: o.fresh,
    checkpointEvery: DEFAULTS.checkpointEvery,
    line: (e, eta) => `[${name}] step ${e.step}/${e.totalSteps}  loss ${e.lmLoss.toFixed(3)}  lr ${e.lr.toExponential(2)}  ${(e.elapsedMs / e.step / 1000).toFixed(2)} s/step  ETA ${eta} min`,
    train: (p) =>
      trainArm({
        arm: o.arm, rank: o.rank, seed: o.seed, steps: o.steps, batchSize: o.batchSize, lr: o.lr, probeItems: o.probeItems, testItems: o.testItems,
        baseDir: checkpointDir('mm-moe-small'), vqvaeDir: checkpointDir('vqvae-emoji'), ...p,
      }),
  });
}
