/**
 * `switchboard train liquid --arm NAME [--seed K]` (`npm run train:liquid -- …`): trains one arm of the
 * Liquid reproduction (papers/liquid-unified-vq-language-model, plan.ts): a size's text checkpoint
 * (`text-<size>`, into .cache/liquid/text-<size>/) or a continuation arm from it (into
 * .cache/liquid/<arm>-seed<k>/: float16 checkpoints at the 5 evaluation steps, their held-out scores in
 * eval/, metrics.json). Resumable (Ctrl-C, then the same command; run directories .cache/runs/liquid-<run>).
 * `--plan` prints every arm with its budget and the plan's estimated CPU-hours, and trains nothing. Every
 * option is checked before any work starts.
 */
import * as path from 'node:path';
import { liquid } from '../papers';
import type { TrainEvent } from '../train/trainer';
import { defaultMoEConfig } from '../model/config';
import { loadTextTokenizer } from '../data/text-tokenizer';
import { MultimodalTokenizer } from '../tokenizer';
import { VQVAE } from '../image/model';
import { cachePath, checkpointDir } from '../paths';
import { initBackend } from '../backend/backend';
import { TEXT_LM_DEFAULTS } from '../recipes/text-moe-small';
import { CommandSpec, numberArg, parseCommand, UsageError } from './args';
import type { Io } from './io';
import { recipeArgs, RecipeArgs, runRecipe } from './recipe-command';

const { CONTINUE, PRETRAIN } = liquid;

export const TRAIN_LIQUID: CommandSpec = {
  usage: 'switchboard train liquid',
  positionals: [],
  about:
    'Trains one arm of the Liquid reproduction (notebook 03): a size’s text checkpoint on Brown (text-<size>,\n' +
    'into .cache/liquid/text-<size>/; moe-h128’s is the shipped text-moe-small) or a continuation of a size from it\n' +
    'with one mixture over disjoint pools, vocabulary unified with the VQ codes (into .cache/liquid/<arm>-seed<k>/:\n' +
    'checkpoints at 5 evaluation steps, their held-out scores in eval/, metrics.json). Resumable from\n' +
    '.cache/runs/liquid-<run> (Ctrl-C, then run it again). --plan lists every arm and the estimated CPU-hours.',
  options: {
    arm: { type: 'string', arg: 'NAME', help: 'the arm (required; --plan lists them)' },
    seed: { type: 'string', arg: 'K', help: 'seed of the data order and caption dropout (continuation arms; default 0)' },
    steps: { type: 'string', arg: 'N', help: 'training steps instead of the plan’s (quick runs; the budget then differs)' },
    lr: { type: 'string', arg: 'X', help: `peak learning rate of a continuation (default ${CONTINUE.lr})` },
    'text-tokens': { type: 'string', arg: 'N', help: `text tokens of every text-matched arm (default ${CONTINUE.textTokens.toLocaleString('en-US')}; the same for every arm of a sweep)` },
    out: { type: 'string', arg: 'DIR', help: 'output directory (default .cache/liquid/<run>; a text checkpoint elsewhere is not found by its continuations)' },
    fresh: { type: 'boolean', help: 'delete the run directory first' },
    plan: { type: 'boolean', help: 'print the plan and its estimated CPU-hours (a measured step of the tiny preset scaled by FLOPs); train nothing' },
  },
};

/** What the command runs against (tests give a tiny one). */
export interface LiquidEnv {
  /** Root of liquid/<run>/ and runs/liquid-<run>/ (default the repository's .cache). */
  cacheRoot?: string;
  tools: () => Promise<liquid.LiquidTools>;
  /** The plan for a text budget (default liquidPlan). */
  plan?: (textTokens?: number) => liquid.LiquidPlan;
  /** Snapshot and evaluation spacing (default the plan's). */
  checkpointEvery?: number;
  evalPoints?: number;
  /** --plan's calibration and vocabulary (default: measure the tiny preset; the project tokenizer and VQ-VAE). */
  calibrate?: () => Promise<{ calibration: liquid.StepCalibration; textVocab: number; numCodes: number }>;
}

export const DEFAULT_LIQUID_ENV: LiquidEnv = { tools: () => liquid.openTools() };

export interface LiquidCliOptions extends RecipeArgs {
  help: false;
  arm: string | null;
  seed: number;
  textTokens?: number;
  plan: boolean;
}

/** The checked options of a command line (exported for tests: every error is raised here, before any work). */
export function liquidOptions(argv: string[], planOf: (textTokens?: number) => liquid.LiquidPlan = (t) => liquid.liquidPlan({ textTokens: t })): { help: true } | LiquidCliOptions {
  const { values, help } = parseCommand(argv, TRAIN_LIQUID);
  if (help) return { help: true };
  const a = recipeArgs(values);
  const textTokens = numberArg(values, 'text-tokens', { integer: true, min: 1 });
  const plan = values.plan === true;
  if (values.arm === undefined) {
    if (plan) return { help: false, ...a, arm: null, seed: 0, textTokens, plan };
    throw new UsageError('--arm is required (npm run train:liquid -- --plan lists the arms)');
  }
  const arm = values.arm as string;
  const p = planOf(textTokens);
  if (!liquid.armNames(p).includes(arm)) {
    const shipped = p.pretrain.find((x) => x.name === arm && x.shipped);
    if (shipped) throw new UsageError(`--arm ${arm} is the shipped ${shipped.shipped} (data/checkpoints/${shipped.shipped}): nothing to train`);
    throw new UsageError(`--arm must be one of ${liquid.armNames(p).join(', ')}, got '${arm}'`);
  }
  if (arm.startsWith('text-')) {
    for (const [flag, v] of [['seed', a.seed], ['lr', a.lr], ['text-tokens', textTokens]] as const) {
      if (v !== undefined) throw new UsageError(`--${flag} is for the continuation arms, not ${arm} (each size has one text checkpoint, trained as text-moe-small was)`);
    }
  }
  return { help: false, ...a, arm, seed: a.seed ?? 0, textTokens, plan };
}

const h = (s: number) => (s / 3600).toFixed(2);

/** --plan: every arm's budget and the estimate (plan.ts planCost), as lines. */
export async function planLines(env: LiquidEnv, textTokens?: number): Promise<string[]> {
  const plan = (env.plan ?? ((t) => liquid.liquidPlan({ textTokens: t })))(textTokens);
  const { calibration: c, textVocab, numCodes } = await (env.calibrate ?? measureTiny)();
  const cost = liquid.planCost(plan, c, { textVocab, numCodes });
  const lines = [`Liquid plan: text pretraining ${PRETRAIN.steps} steps of ${PRETRAIN.batchSize}×${PRETRAIN.seqLen} per size; continuations ${plan.textTokens.toLocaleString('en-US')} text tokens each (text-matched arms)`];
  lines.push(`${'arm'.padEnd(22)} ${'seeds'.padStart(5)} ${'steps'.padStart(6)} ${'tokens'.padStart(10)}  CPU-hours (train + eval, all seeds)`);
  for (const a of cost.arms) {
    const p = plan.pretrain.find((x) => x.name === a.name);
    const arm = plan.arms.find((x) => x.name === a.name);
    const steps = p?.steps ?? arm?.steps ?? 0;
    const tokens = p?.tokens ?? arm?.totalTokens ?? 0;
    lines.push(`${a.name.padEnd(22)} ${String(a.seeds).padStart(5)} ${String(steps).padStart(6)} ${tokens.toLocaleString('en-US').padStart(10)}  ${h(a.seeds * (a.trainSeconds + a.evalSeconds))}`);
  }
  const cfg = c.config;
  lines.push(`total: ${h(cost.totalSeconds)} CPU-hours on one core`);
  lines.push(
    `(estimated from ${c.cpuMs} ms CPU per step of a tiny config — hidden ${cfg.hiddenSize}, ${cfg.numLayers} layers, ${cfg.numExperts} experts top-${cfg.topK}, ` +
      `vocabulary ${cfg.vocabSize} — at ${c.batchSize}×${c.seqLen}, scaled by training FLOPs; larger configs run at a higher FLOP rate, so this is an upper bound)`,
  );
  return lines;
}

async function measureTiny(): Promise<{ calibration: liquid.StepCalibration; textVocab: number; numCodes: number }> {
  await initBackend();
  const textVocab = MultimodalTokenizer.createTextOnly(loadTextTokenizer()).vocabSize;
  const vq = VQVAE.load(checkpointDir('vqvae-emoji'));
  const numCodes = vq.numCodes;
  vq.dispose();
  const cfg = defaultMoEConfig('tiny', { vocabSize: liquid.unifiedVocab(textVocab, numCodes), maxPositions: 256 });
  const calibration = await liquid.measureStepCpuMs(cfg, { batchSize: CONTINUE.batchSize, seqLen: CONTINUE.seqLen, steps: 4, warmup: 2 });
  return { calibration, textVocab, numCodes };
}

export async function trainLiquidCommand(argv: string[], io: Io, env: LiquidEnv = DEFAULT_LIQUID_ENV): Promise<number> {
  const planOf = env.plan ?? ((t?: number) => liquid.liquidPlan({ textTokens: t }));
  const o = liquidOptions(argv, planOf);
  if (o.help) return io.help(TRAIN_LIQUID);
  if (o.plan) {
    for (const line of await planLines(env, o.textTokens)) io.out(line);
    return 0;
  }
  const found = liquid.findArm(o.arm as string, planOf(o.textTokens));
  const name = liquid.runName(found.arm.name, o.seed);
  const root = env.cacheRoot ?? cachePath();
  const line = (e: TrainEvent, eta: number) => `[${name}] step ${e.step}/${e.totalSteps}  loss ${e.lmLoss.toFixed(3)}  lr ${e.lr.toExponential(2)}  ${(e.elapsedMs / e.step / 1000).toFixed(2)} s/step  ETA ${eta} min`;
  return runRecipe<TrainEvent, { lossCurve: ReadonlyArray<readonly [number, ...unknown[]]> }>(io, {
    name,
    folder: 'liquid',
    out: o.out,
    fresh: o.fresh,
    runDir: path.join(root, 'runs', `liquid-${name}`),
    defaultOut: path.join(root, 'liquid', name),
    checkpointEvery: found.kind === 'pretrain' ? TEXT_LM_DEFAULTS.checkpointEvery : (env.checkpointEvery ?? CONTINUE.checkpointEvery),
    line,
    train: async (p) => {
      const tools = await env.tools();
      try {
        if (found.kind === 'pretrain') {
          const m = await liquid.pretrainSize(found.arm, tools, { ...p, steps: o.steps });
          return { ...m, lossCurve: (m.lossCurve ?? []) as Array<[number, number]> };
        }
        return await liquid.trainContinuation(found.arm, tools, { ...p, seed: o.seed, steps: o.steps, lr: o.lr, checkpointEvery: env.checkpointEvery, evalPoints: env.evalPoints });
      } finally {
        tools.dispose();
      }
    },
  });
}
