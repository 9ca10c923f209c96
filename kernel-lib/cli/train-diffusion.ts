/**
 * `switchboard train diffusion` (`npm run train:diffusion`): trains the latent diffusion decoder
 * (recipes/ldm-emoji.ts) on captioned emoji and scenes, resumably (Ctrl-C and run again to continue),
 * ships it as data/checkpoints/ldm-emoji and scores the reloaded checkpoint into its metrics.json
 * (recipes/ldm-eval.ts). --eval-only re-scores a checkpoint; with --baseline it also scores mm-moe-small on
 * the same gate.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../backend/backend';
import { checkpointDir, runDir as runDirOf } from '../paths';
import { trainLdmEmoji } from '../recipes/ldm-emoji';
import { evaluateLdm, evaluateMmBaseline } from '../recipes/ldm-eval';
import type { DiffusionTrainEvent } from '../diffusion/train';
import { CommandSpec, numberArg, parseCommand, seedArg, UsageError } from './args';
import { Io, throttledProgress } from './io';

const NAME = 'ldm-emoji';

export const TRAIN_DIFFUSION: CommandSpec = {
  usage: 'switchboard train diffusion',
  positionals: [],
  about:
    `Trains the latent diffusion decoder (${NAME}) on the VQ-VAE latents of captioned emoji and scenes; resumable from\n` +
    `.cache/runs/${NAME} (Ctrl-C, then run it again). Saves float16 to data/checkpoints/${NAME} and scores the reloaded\n` +
    'checkpoint (CLIP-T, scene checker, CLIP FID on 48 held-out scene captions, CFG and steps sweeps) into its metrics.json.',
  options: {
    steps: { type: 'string', arg: 'N', help: 'training steps (default 20000)' },
    batch: { type: 'string', arg: 'N', help: 'images per step (default 32)' },
    lr: { type: 'string', arg: 'X', help: 'peak learning rate (default 3e-4)' },
    seed: { type: 'string', arg: 'N', help: 'an integer in [0, 2^32) (default 0)' },
    out: { type: 'string', arg: 'DIR', help: `checkpoint to write (default data/checkpoints/${NAME})` },
    fresh: { type: 'boolean', help: 'delete the run directory first' },
    'eval-only': { type: 'boolean', help: 'no training: score the checkpoint in --out and rewrite its metrics.json' },
    baseline: { type: 'boolean', help: 'with --eval-only: also score mm-moe-small on the same gate (baseline_mm_moe_small)' },
  },
};

function progress(io: Io): (e: DiffusionTrainEvent) => void {
  return throttledProgress<DiffusionTrainEvent>(
    io,
    (e, eta) => `[diffusion] step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${(e.stepMs / 1000).toFixed(2)} s/step (${(e.stepCpuMs / 1000).toFixed(2)} s CPU)  ETA ${eta} min`,
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
  const ck = checkpointDir;
  await initBackend();
  const log = (s: string) => io.err(`[diffusion] ${s}`);
  if (values['eval-only']) {
    let m = await evaluateLdm(out, { clipDir: ck('clip-emoji'), log });
    if (values.baseline) {
      m = { ...m, baseline_mm_moe_small: await evaluateMmBaseline({ mmDir: ck('mm-moe-small'), vqvaeDir: ck('vqvae-emoji'), clipDir: ck('clip-emoji') }) };
      fs.writeFileSync(path.join(out, 'metrics.json'), JSON.stringify(m, null, 1) + '\n');
    }
    io.out(JSON.stringify(m, null, 1));
    return 0;
  }
  const runDir = runDirOf(NAME);
  if (values.fresh) fs.rmSync(runDir, { recursive: true, force: true });
  const metrics = await trainLdmEmoji({ outDir: out, runDir, steps, batchSize, lr, seed, vqvaeDir: ck('vqvae-emoji'), clipDir: ck('clip-emoji'), onProgress: progress(io), log });
  io.out(JSON.stringify(metrics, null, 1));
  return 0;
}
