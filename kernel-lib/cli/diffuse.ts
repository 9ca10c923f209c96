/**
 * `switchboard diffuse --prompt TEXT --out FILE.png …`: draws images from a caption with the latent diffusion
 * decoder (diffusion/, data/checkpoints/ldm-emoji by default) and writes them as one PNG through the grid
 * writer every preview uses. Every option is checked before the checkpoint loads; Ctrl-C stops within one
 * denoising step and exits 130 without writing, as `generate` does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../backend/backend';
import { checkpointDir } from '../paths';
import { LatentDiffusion, DEFAULT_CFG_SCALE, DEFAULT_STEPS } from '../diffusion/model';
import type { SamplerName } from '../diffusion/sample';
import { imageGridPng, PREVIEW_BACKGROUND } from '../image/png';
import { CommandSpec, numberArg, parseCommand, seedArg, UsageError } from './args';
import { EXIT_INTERRUPTED, Io, withInterrupt } from './io';

const DEFAULT_CHECKPOINT = 'ldm-emoji';
const DEFAULT_SCALE = 4;

export const DIFFUSE: CommandSpec = {
  usage: 'switchboard diffuse',
  positionals: [],
  about:
    `Draws images from a caption with the latent diffusion decoder (default data/checkpoints/${DEFAULT_CHECKPOINT}, made by\n` +
    '`npm run train:diffusion`) and writes them side by side as one PNG, nearest-neighbour upscaled.\n' +
    'Image i starts from the noise of seed + i: the same seed gives the same PNG.\n' +
    'Ctrl-C stops within one step (exit 130, nothing written). Exit codes: 0 ok, 1 error, 2 usage, 130 interrupted.',
  options: {
    prompt: { type: 'string', arg: 'TEXT', help: 'the caption to draw' },
    out: { type: 'string', arg: 'FILE.png', help: 'the PNG to write' },
    checkpoint: { type: 'string', arg: 'DIR', help: `the latent diffusion checkpoint (default data/checkpoints/${DEFAULT_CHECKPOINT})` },
    steps: { type: 'string', arg: 'N', help: `denoising steps (default ${DEFAULT_STEPS} for ddim, every timestep for ddpm)` },
    'cfg-scale': { type: 'string', arg: 'S', help: `classifier-free guidance scale (default ${DEFAULT_CFG_SCALE}; 1 = conditional only)` },
    seed: { type: 'string', arg: 'K', help: 'noise seed, an integer in [0, 2^32) (default 0)' },
    sampler: { type: 'string', arg: 'NAME', help: 'ddim (deterministic, default) or ddpm' },
    'num-images': { type: 'string', arg: 'N', help: 'images of the caption, side by side (default 1)' },
    scale: { type: 'string', arg: 'P', help: `upscaling factor of the PNG (default ${DEFAULT_SCALE})` },
  },
};

interface DiffuseArgs {
  prompt: string;
  out: string;
  dir: string;
  /** Whether --checkpoint was given (a missing default gets the message saying it ships and how to get it back). */
  explicitDir: boolean;
  steps?: number;
  cfgScale?: number;
  seed: number;
  sampler: SamplerName;
  numImages: number;
  scale: number;
}

/** Every flag judged before any work: a UsageError names the first bad one. */
function checkArgs(values: Record<string, string | boolean | undefined>): DiffuseArgs {
  const str = (k: string) => values[k] as string | undefined;
  const prompt = str('prompt');
  if (prompt === undefined) throw new UsageError('diffuse needs --prompt TEXT');
  const out = str('out');
  if (out === undefined) throw new UsageError('diffuse needs --out FILE.png');
  if (!/\.png$/i.test(out)) throw new UsageError(`--out must name a .png file, got '${out}'`);
  const outDir = path.dirname(path.resolve(out));
  if (!fs.existsSync(outDir)) throw new UsageError(`--out ${out}: no directory ${outDir}`);
  const sampler = str('sampler') ?? 'ddim';
  if (sampler !== 'ddim' && sampler !== 'ddpm') throw new UsageError(`--sampler must be ddim or ddpm, got '${sampler}'`);
  const dir = str('checkpoint');
  return {
    prompt,
    out,
    dir: dir === undefined ? checkpointDir(DEFAULT_CHECKPOINT) : path.resolve(dir),
    explicitDir: dir !== undefined,
    steps: numberArg(values, 'steps', { integer: true, min: 1 }),
    cfgScale: numberArg(values, 'cfg-scale'),
    seed: seedArg(values) ?? 0,
    sampler,
    numImages: numberArg(values, 'num-images', { integer: true, min: 1 }) ?? 1,
    scale: numberArg(values, 'scale', { integer: true, min: 1 }) ?? DEFAULT_SCALE,
  };
}

/** Refuses a checkpoint directory that is not there, saying how the default one is made. */
export function checkCheckpointExists(a: Pick<DiffuseArgs, 'dir' | 'explicitDir'>): void {
  if (fs.existsSync(a.dir)) return; // present: LatentDiffusion.load names any file that is wrong inside it
  if (!a.explicitDir) {
    throw new Error(`no latent diffusion checkpoint at ${a.dir}: ${DEFAULT_CHECKPOINT} ships with the repository (restore it with \`git checkout -- data/checkpoints/${DEFAULT_CHECKPOINT}\`), or make it with \`npm run train:diffusion\` (or give --checkpoint DIR)`);
  }
  throw new Error(`--checkpoint ${a.dir}: no such directory (the default, data/checkpoints/${DEFAULT_CHECKPOINT}, is made by \`npm run train:diffusion\`)`);
}

export async function diffuse(argv: string[], io: Io): Promise<number> {
  const { values, help } = parseCommand(argv, DIFFUSE);
  if (help) return io.help(DIFFUSE);
  const a = checkArgs(values);
  checkCheckpointExists(a);
  await initBackend();
  const m = LatentDiffusion.load(a.dir);
  try {
    // the upper bound of --steps is the checkpoint's, so it is judged once the config is read (still before sampling)
    const T = m.config.timesteps;
    if (a.steps !== undefined && a.steps > T) throw new UsageError(`--steps must be at most ${T} (the checkpoint's timesteps), got '${a.steps}'`);
    return await withInterrupt(async (signal, interrupted) => {
      const steps = a.steps ?? (a.sampler === 'ddim' ? DEFAULT_STEPS : T);
      io.err(`drawing ${a.numImages} image${a.numImages === 1 ? '' : 's'} of '${a.prompt}': ${a.sampler}, ${steps} steps, CFG ${a.cfgScale ?? DEFAULT_CFG_SCALE}, seed ${a.seed} (Ctrl-C stops)`);
      const r = await m.sample({ cond: a.prompt, steps: a.steps, cfgScale: a.cfgScale, seed: a.seed, sampler: a.sampler, numImages: a.numImages, signal });
      io.err(`[${r.stepsRun} of ${r.timesteps.length} ${a.sampler} steps, stopped: ${r.stopped}, ${(r.elapsedMs / 1000).toFixed(2)} s]`);
      if (interrupted() || r.stopped === 'aborted') return EXIT_INTERRUPTED;
      // one image fills the PNG; several sit in a row on the previews' grey, 2 px apart
      const padding = r.images.length === 1 ? 0 : 2;
      fs.writeFileSync(a.out, await imageGridPng(r.images, { columns: r.images.length, padding, scale: a.scale, background: PREVIEW_BACKGROUND }));
      io.err(`wrote ${a.out} (${r.images.length} image${r.images.length === 1 ? '' : 's'}, ×${a.scale})`);
      return 0;
    });
  } finally {
    m.dispose();
  }
}
