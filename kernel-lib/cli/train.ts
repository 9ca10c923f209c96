/**
 * `switchboard train <recipe>` (`npm run train:<recipe>`): trains one shipped model by its recipe, resumably
 * (Ctrl-C and run again to continue), printing progress. Run directories live in .cache/runs/<recipe>/.
 * The language-model recipes (text-moe-small, mm-moe-small and the PLoRA paper's s1-*) share the options
 * below; vqvae, clip, diffusion, moss, minigpt5, mumu and liquid have their own (train-vqvae.ts, train-clip.ts,
 * train-diffusion.ts, train-moss.ts, train-minigpt5.ts, train-mumu.ts, train-liquid.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { trainTextMoeSmall, evaluateTextMoeSmall, RecipeOptions } from '../recipes/text-moe-small';
import { trainMmMoeSmall, evaluateMmMoeSmall } from '../recipes/mm-moe-small';
import { trainVariant as trainPloraVariant, INIT_ABLATION_FILE, ARM_NAMES } from '../papers/redundancy-aware-moe-plora';
import type { Arm } from '../papers/redundancy-aware-moe-plora';
import type { TrainEvent } from '../train/trainer';
import { checkpointDir, repoRoot, runDir as runDirOf } from '../paths';
import { choiceArg, CommandSpec, numberArg, parseCommand, UsageError } from './args';
import { Io, throttledProgress } from './io';
import { trainClipCommand } from './train-clip';
import { trainVqvaeCommand } from './train-vqvae';
import { trainDiffusionCommand } from './train-diffusion';
import { trainMossCommand } from './train-moss';
import { trainMinigpt5Command } from './train-minigpt5';
import { trainMumuCommand } from './train-mumu';
import { trainLiquidCommand } from './train-liquid';

/** The language-model recipes, in the order `train --help` lists them. */
const LM_RECIPES = ['text-moe-small', 'mm-moe-small', 's1-plora', 's1-lora', 's1-init-ablation'] as const;
type LmRecipe = (typeof LM_RECIPES)[number];

/** Every recipe `switchboard train` knows, with what it trains. */
export const RECIPES: Record<string, string> = {
  'text-moe-small': 'the text MoE on Brown + stories (data/checkpoints/text-moe-small)',
  'mm-moe-small': 'text-moe-small extended with the VQ-VAE image codes, trained on captioned emoji and scenes',
  's1-plora': 'the PLoRA paper: Gromov–Wasserstein init, low-res → high-res, Partial LoRA (notebooks/01-…)',
  's1-lora': 'the same with plain LoRA on every token',
  's1-init-ablation': 'the low-res stage with mean-initialised rows (metrics to notebooks/results/)',
  vqvae: 'the emoji VQ-VAE image tokenizer (data/checkpoints/vqvae-emoji)',
  clip: 'the workbench CLIP evaluator (data/checkpoints/clip-emoji)',
  diffusion: 'the latent diffusion decoder on the VQ-VAE latents (data/checkpoints/ldm-emoji)',
  moss: 'one arm of the MoSS paper on the frozen mm-moe-small (--arm, --rank, --seed; notebooks/02-…)',
  minigpt5: 'one stage of one arm of MiniGPT-5: vokens + feature mapper into the frozen ldm-emoji (--stage, --arm, --seed)',
  mumu: 'one arm of MUMU: multimodal prompts through mm-moe-small and a connector into ldm-emoji (--arm, --tokens-per-crop, --seed)',
  liquid: 'one arm of Liquid: a size’s text checkpoint, or a continuation with a mixture (--arm, --seed; --plan lists them)',
};

export const TRAIN: CommandSpec = {
  usage: 'switchboard train',
  positionals: ['RECIPE'],
  about: `Trains a shipped model by its recipe; \`switchboard train RECIPE --help\` lists its options. Recipes:\n${Object.entries(RECIPES)
    .map(([k, v]) => `  ${k.padEnd(17)} ${v}`)
    .join('\n')}`,
  options: {},
};

const lmSpec = (name: LmRecipe): CommandSpec => ({
  usage: `switchboard train ${name}`,
  positionals: [],
  about:
    `Trains ${name}: ${RECIPES[name]}. Resumable from .cache/runs/${name} (Ctrl-C, then run it again).\n` +
    (name.startsWith('s1-')
      ? 'Starts from data/checkpoints/text-moe-small and vqvae-emoji; --steps counts the high-res steps.'
      : name === 'mm-moe-small'
        ? 'Starts from data/checkpoints/text-moe-small, vqvae-emoji and clip-emoji.'
        : 'Prints the metrics as JSON at the end.'),
  options: {
    steps: { type: 'string', arg: 'N', help: 'training steps (default: the recipe’s)' },
    out: { type: 'string', arg: 'DIR', help: `checkpoint to write (default data/checkpoints/${name})` },
    fresh: { type: 'boolean', help: 'delete the run directory first' },
    'eval-tokens': { type: 'string', arg: 'N', help: 'tokens to evaluate on (text-moe-small, mm-moe-small)' },
    'eval-only': { type: 'boolean', help: 'no training: evaluate the checkpoint in --out (text-moe-small, mm-moe-small)' },
    'conditioning-steps': { type: 'string', arg: 'N', help: 'caption-conditioning steps (mm-moe-small)' },
    'lowres-steps': { type: 'string', arg: 'N', help: 'low-res steps (s1-*)' },
    arm: { type: 'string', arg: 'NAME', help: `mechanism arm (s1-plora, s1-lora; issue #18): ${ARM_NAMES.join(', ')} (default paper)` },
    seed: { type: 'string', arg: 'K', help: 'seed of the adapters, the new rows and the data order (s1-*; default 0)' },
  },
});

function progressPrinter(name: string, io: Io): (e: TrainEvent) => void {
  return throttledProgress<TrainEvent>(
    io,
    (e, eta) =>
      `[${name}] step ${e.step}/${e.totalSteps}  loss ${e.lmLoss.toFixed(3)}  aux ${e.auxLoss.toFixed(3)}  lr ${e.lr.toExponential(2)}  ` +
      `${e.tokensPerSec.toFixed(0)} tok/s (${e.threads} thread${e.threads === 1 ? '' : 's'})  ETA ${eta} min`,
  );
}

/** One language-model recipe; every option is checked before any work starts. */
async function trainLm(name: LmRecipe, argv: string[], io: Io): Promise<number> {
  const spec = lmSpec(name);
  const { values, help } = parseCommand(argv, spec);
  if (help) return io.help(spec);
  const positive = (k: string) => numberArg(values, k, { integer: true, min: 1 });
  const steps = positive('steps');
  const evalTokens = positive('eval-tokens');
  const conditioningSteps = positive('conditioning-steps');
  const lowResSteps = positive('lowres-steps');
  const seed = numberArg(values, 'seed', { integer: true, min: 0 });
  const armArg = values.arm as string | undefined;
  if (armArg !== undefined && name !== 's1-plora' && name !== 's1-lora') {
    throw new UsageError(`--arm is for s1-plora and s1-lora, not ${name}`);
  }
  if (seed !== undefined && !name.startsWith('s1-')) {
    throw new UsageError(`--seed is for s1-plora, s1-lora and s1-init-ablation, not ${name}`);
  }
  const arm: Arm = choiceArg(values, 'arm', ARM_NAMES) ?? 'paper';
  // Any arm or seed but the shipped one (paper, 0) trains into .cache/s1/, never over data/checkpoints/.
  const tag = arm === 'paper' && (seed ?? 0) === 0 ? name : name === 's1-init-ablation' ? `${name}-seed${seed}` : `${name}-${arm}-seed${seed ?? 0}`;
  const out = values.out as string | undefined;
  const ck = checkpointDir;
  const progress = progressPrinter(name, io);
  if (values['eval-only']) {
    const evals: Partial<Record<LmRecipe, (dir: string) => Promise<Record<string, unknown>>>> = {
      'text-moe-small': (dir) => evaluateTextMoeSmall(dir),
      'mm-moe-small': (dir) => evaluateMmMoeSmall(dir, { vqvaeDir: ck('vqvae-emoji'), clipDir: ck('clip-emoji'), baseDir: ck('text-moe-small') }),
    };
    const evaluate = evals[name];
    if (!evaluate) throw new UsageError(`--eval-only is for ${Object.keys(evals).join(', ')}; the ${name} recipe evaluates as it trains (metrics.json)`);
    io.out(JSON.stringify(await evaluate(out ?? ck(name)), null, 1));
    return 0;
  }
  const s1 = { baseDir: ck('text-moe-small'), vqvaeDir: ck('vqvae-emoji'), lowResSteps, arm, seed, onProgress: progress };
  const recipes: Record<LmRecipe, (o: RecipeOptions) => Promise<Record<string, unknown>>> = {
    'text-moe-small': trainTextMoeSmall,
    'mm-moe-small': (o) => trainMmMoeSmall({ ...o, conditioningSteps, baseDir: ck('text-moe-small'), vqvaeDir: ck('vqvae-emoji'), clipDir: ck('clip-emoji') }),
    's1-plora': (o) => trainPloraVariant({ ...s1, variant: 'plora', outDir: o.outDir, runDir: o.runDir, highResSteps: o.steps }),
    's1-lora': (o) => trainPloraVariant({ ...s1, variant: 'lora', outDir: o.outDir, runDir: o.runDir, highResSteps: o.steps }),
    // the initialisation ablation: the first low-res steps with mean-initialised rows (not shipped; its
    // metrics go to notebooks/results/, beside the notebook that reads them)
    's1-init-ablation': async (o) => {
      const m = await trainPloraVariant({ ...s1, variant: 'plora', init: 'mean', lowResOnly: true, outDir: o.outDir, runDir: o.runDir });
      // seed 0 is the notebook's committed ablation; other seeds (issue #18's init seeds) go to .cache/s1/
      const file = out ? path.join(out, 'metrics.json') : (seed ?? 0) === 0 ? path.join(repoRoot(), 'notebooks', 'results', INIT_ABLATION_FILE) : path.join(o.outDir, 'metrics.json');
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify(m, null, 1) + '\n');
      return m;
    },
  };
  const runDir = runDirOf(tag);
  if (values.fresh) fs.rmSync(runDir, { recursive: true, force: true });
  const outDir = out ?? (tag === name ? ck(name) : path.join(repoRoot(), '.cache', 's1', tag));
  const metrics = await recipes[name]({ outDir, runDir, steps, evalTokens, onProgress: progress });
  io.out(JSON.stringify(metrics, null, 1));
  return 0;
}

/** What a UsageError of `train <recipe>` is prefixed with (the wording each npm run train:* has used). */
export function trainPrefix(recipe: string | undefined): string {
  return recipe === 'vqvae' ? 'train:vqvae' : recipe === 'clip' ? 'train:clip' : 'train';
}

export async function train(argv: string[], io: Io): Promise<number> {
  const [recipe, ...rest] = argv;
  if (recipe === undefined || recipe === '--help' || recipe === '-h') {
    io.help(TRAIN);
    return recipe === undefined ? 2 : 0;
  }
  if (recipe === 'vqvae') return trainVqvaeCommand(rest, io);
  if (recipe === 'clip') return trainClipCommand(rest, io);
  if (recipe === 'diffusion') return trainDiffusionCommand(rest, io);
  if (recipe === 'moss') return trainMossCommand(rest, io);
  if (recipe === 'minigpt5') return trainMinigpt5Command(rest, io);
  if (recipe === 'mumu') return trainMumuCommand(rest, io);
  if (recipe === 'liquid') return trainLiquidCommand(rest, io);
  if ((LM_RECIPES as readonly string[]).includes(recipe)) return trainLm(recipe as LmRecipe, rest, io);
  throw new UsageError(`unknown model '${recipe}'; expected one of ${Object.keys(RECIPES).join(', ')}`);
}
