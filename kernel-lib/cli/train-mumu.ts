/**
 * `switchboard train mumu --arm NAME --tokens-per-crop N --seed K` (`npm run train:mumu -- …`): trains one arm
 * of the MUMU reproduction (papers/mumu-multimodal-prompts) — multimodal prompts read by the frozen
 * data/checkpoints/mm-moe-small, a connector into the diffusion decoder data/checkpoints/ldm-emoji — resumably
 * (Ctrl-C and run it again), into `.cache/mumu/<run>/` (connector/, decoder-lora/ or denoiser.safetensors,
 * metrics.json), then scores it on the held-out prompts (eval-heldout.json, what notebook 05 reads; a run
 * already trained is only scored). Every option is checked before any work starts, and a missing decoder is
 * refused with what to run first.
 */
import * as path from 'node:path';
import { checkpointDir } from '../paths';
import { runName, requireDecoder, openTools, trainRun, ARMS, ARM_NAMES, DEFAULTS, HELD_OUT, TOKENS_PER_CROP } from '../papers/mumu-multimodal-prompts';
import type { Arm, MumuEvent, RunMetrics, TokensPerCrop } from '../papers/mumu-multimodal-prompts';
import { choiceArg, CommandSpec, numberArg, numberChoice, parseCommand, UsageError } from './args';
import type { Io } from './io';
import { recipeArgs, RecipeArgs, runRecipe } from './recipe-command';

export const TRAIN_MUMU: CommandSpec = {
  usage: 'switchboard train mumu',
  positionals: [],
  about:
    'Trains one arm of the MUMU reproduction (notebook 05): multimodal prompts (crops before the words that name\n' +
    'them) read by the frozen data/checkpoints/mm-moe-small, its states of every prompt position through a\n' +
    'non-causal connector into the diffusion decoder data/checkpoints/ldm-emoji (rank-8 LoRA on its attention,\n' +
    'fully trained or frozen). Resumable from .cache/runs/<run> (Ctrl-C, then run it again); writes\n' +
    '.cache/mumu/<run>/, <run> = mumu-<arm>-t<tokens>-seed<seed> (mumu-caption-only-seed<seed>), then scores it\n' +
    'on the held-out prompts (eval-heldout.json; a run already trained is only scored). Arms:\n' +
    ARM_NAMES.map((a) => `  ${a.padEnd(15)} ${ARMS[a]}`).join('\n'),
  options: {
    arm: { type: 'string', arg: 'NAME', help: `the arm (default mumu): ${ARM_NAMES.join(', ')}` },
    'tokens-per-crop': { type: 'string', arg: 'N', help: `tokens each crop enters the LM as: ${TOKENS_PER_CROP.join(', ')} (default 64, all its codes; fewer are pooled; not for caption-only)` },
    seed: { type: 'string', arg: 'K', help: `seed of the connector, the pooling, the LoRA, the data order, the drops and the noise (default ${DEFAULTS.seed})` },
    steps: { type: 'string', arg: 'N', help: `training steps (default ${DEFAULTS.steps})` },
    batch: { type: 'string', arg: 'N', help: `prompts per step (default ${DEFAULTS.batchSize})` },
    lr: { type: 'string', arg: 'X', help: `peak learning rate of the connector (default ${DEFAULTS.lr}; the decoder at ×${DEFAULTS.decoderLrScale.lora} with LoRA, ×${DEFAULTS.decoderLrScale.full} fully trained)` },
    'probe-items': { type: 'string', arg: 'N', help: `held-out val prompts whose loss is probed before and after (default ${DEFAULTS.probeItems}; 0: none)` },
    'eval-items': { type: 'string', arg: 'N', help: `held-out same-source prompts scored after training (default ${HELD_OUT.sameSource})` },
    'other-items': { type: 'string', arg: 'N', help: `held-out prompts scored per other-source set (default ${HELD_OUT.otherSource})` },
    decoder: { type: 'string', arg: 'DIR', help: 'the diffusion decoder (default data/checkpoints/ldm-emoji)' },
    out: { type: 'string', arg: 'DIR', help: 'output directory (default .cache/mumu/<run>)' },
    fresh: { type: 'boolean', help: 'delete the run directory first' },
  },
};

export interface MumuCliOptions extends RecipeArgs {
  help: false;
  arm: Arm;
  tokensPerCrop: number | null;
  seed: number;
  decoder?: string;
  evalItems: number;
  otherItems: number;
}

/** The checked options of a command line (exported for tests: every usage error is raised here, before any work). */
export function mumuOptions(argv: string[]): { help: true } | MumuCliOptions {
  const { values, help } = parseCommand(argv, TRAIN_MUMU);
  if (help) return { help: true };
  const arm: Arm = choiceArg(values, 'arm', ARM_NAMES) ?? 'mumu';
  const tokensArg = numberArg(values, 'tokens-per-crop', { integer: true, min: 1 });
  if (tokensArg !== undefined && arm === 'caption-only') throw new UsageError('--tokens-per-crop does not apply to --arm caption-only (it has no crops)');
  const tokens = numberChoice(values, 'tokens-per-crop', tokensArg, TOKENS_PER_CROP);
  const a = recipeArgs(values);
  const evalItems = numberArg(values, 'eval-items', { integer: true, min: 2 }) ?? HELD_OUT.sameSource;
  const otherItems = numberArg(values, 'other-items', { integer: true, min: 2 }) ?? HELD_OUT.otherSource;
  return { help: false, arm, tokensPerCrop: arm === 'caption-only' ? null : (tokens ?? 64), ...a, seed: a.seed ?? DEFAULTS.seed, decoder: values.decoder as string | undefined, evalItems, otherItems };
}

export async function trainMumuCommand(argv: string[], io: Io): Promise<number> {
  const o = mumuOptions(argv);
  if (o.help) return io.help(TRAIN_MUMU);
  const name = runName(o.arm, o.tokensPerCrop, o.seed);
  const ldmDir = o.decoder !== undefined ? path.resolve(o.decoder) : checkpointDir('ldm-emoji');
  requireDecoder(ldmDir); // before anything loads: MUMU needs a trained decoder
  return runRecipe<MumuEvent, RunMetrics>(io, {
    name,
    folder: 'mumu',
    out: o.out,
    fresh: o.fresh,
    checkpointEvery: DEFAULTS.checkpointEvery,
    line: (e, eta) => `[${name}] step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${e.tokens} tokens  ${(e.stepMs / 1000).toFixed(2)} s/step (${(e.stepCpuMs / 1000).toFixed(2)} s CPU)  ETA ${eta} min`,
    train: async (p) => {
      const tools = await openTools({ ldmDir });
      let shown = 0;
      try {
        const r = await trainRun({ arm: o.arm, tokensPerCrop: o.tokensPerCrop as TokensPerCrop | null, seed: o.seed }, { ...tools, sizes: { sameSource: o.evalItems, otherSource: o.otherItems } }, {
          steps: o.steps, batchSize: o.batchSize, lr: o.lr, probeItems: o.probeItems, retrain: o.fresh, ...p,
          onScore: (done, total) => {
            if (done - shown < 25 && done < total) return;
            shown = done;
            io.err(`[${name}] scoring held-out prompts: ${done}/${total} drawn`);
          },
        });
        return r.metrics;
      } finally {
        tools.dispose();
      }
    },
  });
}
