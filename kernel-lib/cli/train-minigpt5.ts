/**
 * `switchboard train minigpt5 --stage 1|2 --arm NAME --seed K` (`npm run train:minigpt5 -- …`): trains one stage
 * of one arm of the MiniGPT-5 reproduction (papers/minigpt5-generative-vokens) on data/checkpoints/mm-moe-small
 * against the frozen diffusion decoder data/checkpoints/ldm-emoji, resumably (Ctrl-C and run it again), into
 * `.cache/minigpt5/<run>/` (vokens.safetensors, mapper/, adapter/ in stage 2, metrics.json). Stage 2 starts
 * from stage 1 of the same arm and seed (`--from` to name another). Every option is checked before any work
 * starts, and a missing decoder is refused with what to run first.
 */
import * as path from 'node:path';
import { cachePath, checkpointDir } from '../paths';
import { trainStage, runName, requireDecoder, requireStage1, ARMS, ARM_NAMES, DEFAULTS, checkArm } from '../papers/minigpt5-generative-vokens';
import type { Arm, Stage, StageEvent } from '../papers/minigpt5-generative-vokens';
import { choiceArg, CommandSpec, parseCommand, UsageError } from './args';
import type { Io } from './io';
import { recipeArgs, RecipeArgs, runRecipe } from './recipe-command';

export const TRAIN_MINIGPT5: CommandSpec = {
  usage: 'switchboard train minigpt5',
  positionals: [],
  about:
    'Trains one stage of one arm of the MiniGPT-5 reproduction (notebook 04): generative vokens in\n' +
    'data/checkpoints/mm-moe-small and the feature mapper into the frozen diffusion decoder data/checkpoints/ldm-emoji.\n' +
    'Stage 1: scene captions → scenes (voken rows + mapper; L_text + L_LDM + L_CAP). Stage 2: stories (LoRA + voken rows +\n' +
    "the mapper's enc-dec; L_text + L_LDM), starting from stage 1 of the same arm and seed. Resumable from .cache/runs/<run>\n" +
    '(Ctrl-C, then run it again); writes .cache/minigpt5/<run>/, <run> = minigpt5-s<stage>-<arm>-seed<seed>. Arms:\n' +
    ARM_NAMES.map((a) => `  ${a.padEnd(14)} ${ARMS[a]}`).join('\n'),
  options: {
    stage: { type: 'string', arg: 'S', help: 'the stage (required): 1 or 2' },
    arm: { type: 'string', arg: 'NAME', help: `the arm (default full): ${ARM_NAMES.join(', ')}` },
    seed: { type: 'string', arg: 'K', help: `seed of the mapper, the LoRA, the data order, dropout and noise (default ${DEFAULTS.seed})` },
    steps: { type: 'string', arg: 'N', help: `training steps (default ${DEFAULTS.steps[1]} in stage 1, ${DEFAULTS.steps[2]} in stage 2)` },
    batch: { type: 'string', arg: 'N', help: `items per step (default ${DEFAULTS.batchSize[1]} / ${DEFAULTS.batchSize[2]})` },
    lr: { type: 'string', arg: 'X', help: `peak learning rate (default ${DEFAULTS.lr[1]} / ${DEFAULTS.lr[2]}; the mapper ×${DEFAULTS.mapperLrScale[2]} in stage 2)` },
    'probe-items': { type: 'string', arg: 'N', help: `held-out val items whose losses are probed before and after (default ${DEFAULTS.probeItems}; 0: none)` },
    from: { type: 'string', arg: 'DIR', help: 'stage 2: the stage-1 output to start from (default .cache/minigpt5/minigpt5-s1-<arm>-seed<seed>)' },
    decoder: { type: 'string', arg: 'DIR', help: 'the frozen diffusion decoder (default data/checkpoints/ldm-emoji)' },
    out: { type: 'string', arg: 'DIR', help: 'output directory (default .cache/minigpt5/<run>)' },
    fresh: { type: 'boolean', help: 'delete the run directory first and train again (even a stage already finished in the output)' },
  },
};

export interface Minigpt5Options extends RecipeArgs {
  help: false;
  stage: Stage;
  arm: Arm;
  seed: number;
  from?: string;
  decoder?: string;
}

/** The checked options of a command line (exported for tests: every usage error is raised here, before any work). */
export function minigpt5Options(argv: string[]): { help: true } | Minigpt5Options {
  const { values, help } = parseCommand(argv, TRAIN_MINIGPT5);
  if (help) return { help: true };
  const stageArg = values.stage as string | undefined;
  if (stageArg === undefined) throw new UsageError('--stage is required: 1 (caption → scene pairs) or 2 (stories)');
  if (stageArg !== '1' && stageArg !== '2') throw new UsageError(`--stage must be 1 or 2, got '${stageArg}'`);
  const stage = Number(stageArg) as Stage;
  const armArg = choiceArg(values, 'arm', ARM_NAMES) ?? 'full';
  try {
    checkArm(armArg, stage);
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^minigpt5: /, ''));
  }
  const arm = armArg as Arm;
  if (values.from !== undefined && (stage === 1 || arm === 'text-only')) throw new UsageError(`--from is for stage 2 of an arm with vokens (it names the stage-1 output to start from), not ${stage === 1 ? 'stage 1' : 'text-only'}`);
  const a = recipeArgs(values);
  return { help: false, stage, arm, ...a, seed: a.seed ?? DEFAULTS.seed, from: values.from as string | undefined, decoder: values.decoder as string | undefined };
}

export async function trainMinigpt5Command(argv: string[], io: Io): Promise<number> {
  const o = minigpt5Options(argv);
  if (o.help) return io.help(TRAIN_MINIGPT5);
  const name = runName(o.stage, o.arm, o.seed);
  const ldmDir = o.decoder !== undefined ? path.resolve(o.decoder) : checkpointDir('ldm-emoji');
  requireDecoder(ldmDir); // before anything loads: MiniGPT-5 needs a trained decoder
  const stage1Dir = o.stage === 2 && o.arm !== 'text-only' ? (o.from !== undefined ? path.resolve(o.from) : cachePath('minigpt5', runName(1, o.arm, o.seed))) : undefined;
  if (stage1Dir) requireStage1(stage1Dir);
  return runRecipe<StageEvent, Awaited<ReturnType<typeof trainStage>>>(io, {
    name,
    folder: 'minigpt5',
    out: o.out,
    fresh: o.fresh,
    checkpointEvery: DEFAULTS.checkpointEvery,
    line: (e, eta) =>
      `[${name}] step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(4)}  text ${e.text.toFixed(3)}  LDM ${e.ldm?.toFixed(4) ?? '—'}  CAP ${e.cap?.toFixed(4) ?? '—'}  ` +
      `lr ${e.lr.toExponential(2)}  ${(e.stepMs / 1000).toFixed(2)} s/step (${(e.stepCpuMs / 1000).toFixed(2)} s CPU)  ETA ${eta} min`,
    train: (p) =>
      trainStage({
        stage: o.stage, arm: o.arm, seed: o.seed, steps: o.steps, batchSize: o.batchSize, lr: o.lr, probeItems: o.probeItems,
        baseDir: checkpointDir('mm-moe-small'), ldmDir, vqvaeDir: checkpointDir('vqvae-emoji'), stage1Dir, fresh: o.fresh, ...p,
      }),
  });
}
