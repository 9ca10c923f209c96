/**
 * `switchboard train diffusion` (`npm run train:diffusion`): trains the latent diffusion decoder
 * (recipes/ldm-emoji.ts) on captioned emoji and scenes, resumably (Ctrl-C or a kill, then the same command
 * again continues from the last snapshot), ships it as data/checkpoints/ldm-emoji and scores the reloaded
 * checkpoint into its metrics.json (recipes/ldm-eval.ts). --budget session picks the schedule that fits one
 * work session on two cores; --skip-eval stops after saving; --eval-only re-scores a checkpoint, with
 * --baseline also mm-moe-small on the same gate. Workers: SWITCHBOARD_TRAIN_WORKERS, as every trainer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../backend/backend';
import { checkpointDir, runDir as runDirOf } from '../paths';
import { CAPTION_INITS, LDM_BUDGETS, LdmBudget, trainLdmEmoji } from '../recipes/ldm-emoji';
import { evaluateLdm, evaluateMmBaseline } from '../recipes/ldm-eval';
import { GateVerdict, judgeLdmGateMetrics } from '../recipes/ldm-gate';
import type { DiffusionTrainEvent } from '../diffusion/train';
import { LOSS_TARGETS } from '../diffusion/loss';
import { choiceArg, CommandSpec, numberArg, parseCommand, seedArg, UsageError } from './args';
import { Io, throttledProgress } from './io';

const NAME = 'ldm-emoji';

export const TRAIN_DIFFUSION: CommandSpec = {
  usage: 'switchboard train diffusion',
  positionals: [],
  about:
    `Trains the latent diffusion decoder (${NAME}) on the VQ-VAE latents of captioned emoji and scenes; resumable from\n` +
    `.cache/runs/${NAME} (--budget session: .cache/runs/${NAME}-session; Ctrl-C or a kill, then the same command again\n` +
    `continues from the last snapshot, every 200 steps). Saves float16 to data/checkpoints/${NAME} and scores the reloaded\n` +
    'checkpoint (CLIP-T, scene checker, CLIP FID on 48 held-out scene captions, CFG and steps sweeps) into its metrics.json.\n' +
    'SWITCHBOARD_TRAIN_WORKERS=2 computes the gradients on two worker threads (both cores).',
  options: {
    budget: { type: 'string', arg: 'NAME', help: `schedule: ${Object.entries(LDM_BUDGETS).map(([k, b]) => `${k} (${b.steps} steps of ${b.batchSize})`).join(', ')}; default full; session fits ~150 min on 2 cores` },
    steps: { type: 'string', arg: 'N', help: "training steps (default: the budget's)" },
    batch: { type: 'string', arg: 'N', help: "images per step (default: the budget's, 32)" },
    lr: { type: 'string', arg: 'X', help: 'peak learning rate (default 3e-4)' },
    seed: { type: 'string', arg: 'N', help: 'an integer in [0, 2^32) (default 0)' },
    out: { type: 'string', arg: 'DIR', help: `checkpoint to write (default data/checkpoints/${NAME})` },
    'run-dir': { type: 'string', arg: 'DIR', help: 'resumable run state (default .cache/runs/<name of --out>, + -<budget> for a budget other than full)' },
    fresh: { type: 'boolean', help: 'delete the run directory first' },
    'caption-init': { type: 'string', arg: 'NAME', help: `the caption encoder's token embedding: ${CAPTION_INITS.join(' or ')} (default clip-emoji: its text tower's, same tokenizer)` },
    'loss-target': { type: 'string', arg: 'NAME', help: `what the loss compares: ${LOSS_TARGETS.join(' or ')} (default v: every noise level weighs alike; ε starves the caption at high noise)` },
    'probe-every': { type: 'string', arg: 'N', help: 'conditioning probe (own / shuffled / null caption loss on 48 val scenes) every N steps; 0: never (default 1000)' },
    'skip-eval': { type: 'boolean', help: 'stop after saving the checkpoint (score it later with --eval-only)' },
    'eval-only': { type: 'boolean', help: 'no training: score the checkpoint in --out and rewrite its metrics.json' },
    baseline: { type: 'boolean', help: 'with --eval-only: also score mm-moe-small on the same gate (baseline_mm_moe_small)' },
  },
};

function progress(io: Io): (e: DiffusionTrainEvent) => void {
  return throttledProgress<DiffusionTrainEvent>(
    io,
    (e, eta) =>
      `[diffusion] step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${(e.stepMs / 1000).toFixed(2)} s/step (${(e.stepCpuMs / 1000).toFixed(2)} s CPU, ` +
      `${e.threads} thread${e.threads === 1 ? '' : 's'})  ${(e.elapsedMs / 60000).toFixed(1)} min  ETA ${eta} min`,
  );
}

export async function trainDiffusionCommand(argv: string[], io: Io): Promise<number> {
  const { values, help } = parseCommand(argv, TRAIN_DIFFUSION);
  if (help) return io.help(TRAIN_DIFFUSION);
  const steps = numberArg(values, 'steps', { integer: true, min: 1 });
  const batchSize = numberArg(values, 'batch', { integer: true, min: 1 });
  const lr = numberArg(values, 'lr', { min: 0 });
  const seed = seedArg(values);
  const out = values.out !== undefined ? path.resolve(values.out as string) : checkpointDir(NAME);
  if (values.baseline && !values['eval-only']) throw new UsageError('--baseline goes with --eval-only');
  const budget = choiceArg(values, 'budget', Object.keys(LDM_BUDGETS));
  const captionInit = choiceArg(values, 'caption-init', CAPTION_INITS);
  const probeEvery = numberArg(values, 'probe-every', { integer: true, min: 0 });
  const lossTarget = choiceArg(values, 'loss-target', LOSS_TARGETS);
  for (const flag of ['budget', 'steps', 'batch', 'lr', 'seed', 'fresh', 'skip-eval', 'run-dir', 'caption-init', 'probe-every', 'loss-target'] as const) {
    if (values['eval-only'] && values[flag] !== undefined) throw new UsageError(`--${flag} is a training option; --eval-only does not train`);
  }
  const ck = checkpointDir;
  await initBackend();
  const log = (s: string) => io.err(`[diffusion] ${s}`);
  if (values['eval-only']) {
    let m = await evaluateLdm(out, { clipDir: ck('clip-emoji'), log });
    if (values.baseline) {
      const baseline = await evaluateMmBaseline({ mmDir: ck('mm-moe-small'), vqvaeDir: ck('vqvae-emoji'), clipDir: ck('clip-emoji') });
      m = { ...m, baseline_mm_moe_small: baseline, gate_verdict: judgeLdmGateMetrics(m, baseline) };
      fs.writeFileSync(path.join(out, 'metrics.json'), JSON.stringify(m, null, 1) + '\n');
      for (const c of (m.gate_verdict as GateVerdict).criteria) log(`gate: ${c.pass ? 'PASS' : 'FAIL'} ${c.metric}: ${c.decoder} vs mm-moe-small ${c.baseline} (${c.criterion})`);
    }
    io.out(JSON.stringify(m, null, 1));
    return 0;
  }
  // one run directory per checkpoint and budget: a session run and a full run never meet (their step
  // counts differ, which resume would refuse), and --fresh on one leaves the other
  const runDir = values['run-dir'] !== undefined ? path.resolve(values['run-dir'] as string) : runDirOf(path.basename(out) + (budget === undefined || budget === 'full' ? '' : `-${budget}`));
  if (values.fresh) fs.rmSync(runDir, { recursive: true, force: true });
  const metrics = await trainLdmEmoji({
    outDir: out, runDir, budget: budget as LdmBudget | undefined, steps, batchSize, lr, seed, skipEval: values['skip-eval'] === true,
    captionInit, probeEvery, lossTarget,
    vqvaeDir: ck('vqvae-emoji'), clipDir: ck('clip-emoji'), onProgress: progress(io), log,
  });
  io.out(JSON.stringify(metrics, null, 1));
  return 0;
}
