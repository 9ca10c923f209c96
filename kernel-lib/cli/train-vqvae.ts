/**
 * `switchboard train vqvae` (`npm run train:vqvae`): trains the emoji VQ-VAE and writes the shipped checkpoint.
 * Resumable: run the same command again after an interruption and it continues from the last snapshot in
 * the run directory.
 */
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../backend/backend';
import { openDataset, imagesOf } from '../data/dataset';
import { IMAGE_SIZE } from '../data/image';
import type { RGBImage } from '../image/types';
import { downscale2x, imageGrid } from '../image/rgb';
import { checkpointDir, cachePath, runDir as runDirOf } from '../paths';
import { atomicWriteFile } from '../checkpoint/files';
import { VQVAE } from '../image/model';
import { trainVQVAE, VQVAETrainEvent, VQVAETrainOptions } from '../train/vqvae/train-vqvae';
import { evaluateVQVAE, SizeEval } from '../image/evaluate';
import { writePng } from '../image/png';
import { METRICS_FILE } from '../image/checkpoint';
import { psnr } from '../image/metrics';
import { gridSize, defaultVQVAEConfig, validateVQVAEConfig, VQVAEConfig } from '../image/config';
import { CommandSpec, numberArg, parseCommand, seedArg, UsageError } from './args';
import type { Io } from './io';

export const TRAIN_VQVAE: CommandSpec = {
  usage: 'switchboard train vqvae',
  positionals: [],
  about:
    'Trains the emoji VQ-VAE (32×32 → 8×8 codes and 16×16 → 4×4 with one set of weights) and writes the checkpoint with\n' +
    'its metrics.json, README.md and held-out sample. Resumable: run it again after Ctrl-C to continue.',
  options: {
    out: { type: 'string', arg: 'DIR', help: 'checkpoint to write (default data/checkpoints/vqvae-emoji; with --quick, .cache/vqvae-quick)' },
    'run-dir': { type: 'string', arg: 'DIR', help: 'resumable run state (default .cache/runs/<name of --out>)' },
    steps: { type: 'string', arg: 'N', help: 'training steps (default 8000)' },
    batch: { type: 'string', arg: 'N', help: '32×32 images per step (default 16)' },
    'low-res-batch': { type: 'string', arg: 'N', help: '16×16 images per step (default 16)' },
    seed: { type: 'string', arg: 'N', help: 'an integer in [0, 2^32) (default 0)' },
    lr: { type: 'string', arg: 'X', help: 'peak learning rate (default 5e-3)' },
    config: { type: 'string', arg: 'JSON', help: `architecture overrides, e.g. '{"hidden2": 128}' (VQVAEConfig fields)` },
    fresh: { type: 'boolean', help: 'delete the run directory first' },
    quick: { type: 'boolean', help: 'a tiny run for checking the pipeline (80 steps, small model) unless overridden' },
  },
  // the wording npm run train:vqvae has always used (tests/integration/vqvae-cli.test.ts)
  unknownOrIncomplete: (flag) => `unknown or incomplete argument ${flag}`,
};

/** Held-out images the shipped-checkpoint test re-scores (stored with the checkpoint as a PNG grid). */
export const FIXED_BATCH_FILE = 'heldout-sample.png';
export const FIXED_BATCH_SIZE = 64;
export const FIXED_BATCH_COLS = 8;

const log = (msg: string): void => void process.stdout.write(`[vqvae] ${msg}\n`);

async function emojiImages(split: 'train' | 'val' | 'test'): Promise<RGBImage[]> {
  const ds = await openDataset('emoji', { split });
  const out: RGBImage[] = [];
  for (const ex of ds) for (const im of imagesOf(ex.parts)) out.push({ ...im, pixels: im.pixels.slice() });
  return out;
}

const fmtEval = (r: SizeEval): string =>
  `${r.size}px→${r.grid}×${r.grid}: PSNR ${r.psnr.toFixed(2)} dB (mean/image ${r.meanImagePsnr.toFixed(2)}), ` +
  `perplexity ${r.usage.perplexity.toFixed(1)}, live ${(100 * r.usage.liveFraction).toFixed(1)}%`;

function progress(ev: VQVAETrainEvent): void {
  if (ev.kind === 'step') {
    if (ev.step % 50 !== 0 && ev.step !== ev.totalSteps) return;
    const eta = ((ev.totalSteps - ev.step) * ev.msPerStep) / 60000;
    const mse = Object.entries(ev.mse).map(([s, m]) => `${s}px ${(10 * Math.log10(1 / m)).toFixed(2)} dB`).join(', ');
    log(
      `step ${ev.step}/${ev.totalSteps} loss ${ev.loss.toFixed(4)} (train PSNR ${mse}) commit ${ev.commitment.toFixed(4)} ` +
        `batch ppl ${ev.batchPerplexity.toFixed(0)} restarts ${ev.restarts} lr ${ev.lr.toExponential(2)} ` +
        `${ev.msPerStep.toFixed(0)} ms/step (cpu ${ev.cpuMsPerStep.toFixed(0)}, ${ev.threads} thread${ev.threads === 1 ? '' : 's'}), ${(ev.elapsedMs / 60000).toFixed(1)} min, ETA ${eta.toFixed(1)} min`,
    );
  } else if (ev.kind === 'eval') {
    log(`eval @${ev.step} (val): ${ev.results.map(fmtEval).join('; ')}`);
  } else if (ev.kind === 'resume') {
    log(`resuming from step ${ev.step}`);
  }
}

function readme(name: string, metrics: Record<string, unknown>, test: SizeEval[]): string {
  const rows = test.map((r) => `| ${r.size}×${r.size} → ${r.grid}×${r.grid} | ${r.psnr.toFixed(2)} | ${r.meanImagePsnr.toFixed(2)} | ${r.usage.perplexity.toFixed(1)} | ${(100 * r.usage.liveFraction).toFixed(1)}% |`);
  return [
    `# ${name}`,
    '',
    'VQ-VAE image tokenizer for Switchboard (`kernel-lib/image`): 32×32 RGB → 8×8 codes and 16×16 → 4×4 codes with one',
    `set of weights, codebook of ${(metrics.config as { numCodes: number }).numCodes} codes. Made by \`npm run train:vqvae\`; load with \`VQVAE.load(dir)\`.`,
    '',
    `Held-out (test split, ${test[0].images} emoji whose base emoji are not in training):`,
    '',
    '| image → codes | PSNR (dB, pooled MSE) | mean per-image PSNR (dB) | code perplexity | live codes |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Files: `config.json` (architecture, codebook size, grid sizes), `model.safetensors` (float16), `metrics.json` (loss',
    `curves, evaluations, wall time, backend), \`${FIXED_BATCH_FILE}\` (the fixed held-out batch the tests re-score),`,
    '`reconstructions.png` (held-out originals above their reconstructions, 32×32 then 16×16).',
    '',
    '## Training data and licence',
    '',
    'Trained on the Twemoji images in the `emoji-datasource-twitter` npm package (32 px sheet), alpha composited on white.',
    'Twemoji graphics: Copyright 2019 Twitter, Inc. and other contributors, licensed under CC-BY 4.0',
    '(https://creativecommons.org/licenses/by/4.0/). The images in this folder are Twemoji images and reconstructions of them.',
    '',
  ].join('\n');
}

export async function trainVqvaeCommand(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(argv, TRAIN_VQVAE);
  if (parsed.help) return io.help(TRAIN_VQVAE);
  const values = parsed.values;
  const a = new Map(Object.entries(values).filter(([, v]) => typeof v === 'string').map(([k, v]) => [`--${k}`, v as string]));
  const quick = values.quick === true;
  // Every option is checked before the backend starts or data loads, and a bad one is named.
  const int = (k: string, def: number, min = 0): number => numberArg(values, k, { integer: true, min }) ?? def;
  let overrides: Partial<VQVAEConfig>;
  try {
    overrides = JSON.parse(a.get('--config') ?? '{}') as Partial<VQVAEConfig>;
  } catch (e) {
    throw new UsageError(`--config is not valid JSON (${(e as Error).message}): ${a.get('--config')}`);
  }
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) throw new UsageError(`--config must be a JSON object, got ${a.get('--config')}`);
  const known = Object.keys(defaultVQVAEConfig());
  const unknownKey = Object.keys(overrides).find((k) => !known.includes(k));
  if (unknownKey !== undefined) throw new UsageError(`--config: unknown field '${unknownKey}'; VQVAEConfig fields are ${known.join(', ')}`);
  const archConfig = { ...(quick ? { numCodes: 64, codeDim: 8, hidden1: 8, hidden2: 16 } : {}), ...overrides };
  try {
    validateVQVAEConfig(defaultVQVAEConfig(archConfig));
  } catch (e) {
    throw new UsageError(`--config: ${(e as Error).message}`);
  }
  const lr = a.has('--lr') ? Number(a.get('--lr')) : undefined;
  if (lr !== undefined && !(lr > 0 && Number.isFinite(lr))) throw new UsageError(`--lr must be a positive number, got '${a.get('--lr')}'`);
  const steps = int('steps', quick ? 80 : 8000, 1);
  const batchSize = int('batch', quick ? 8 : 16, 1);
  const lowResBatchSize = int('low-res-batch', quick ? 8 : 16);
  int('seed', 0); // a negative seed keeps its old wording ('must be a non-negative integer')
  const seed = seedArg(values) ?? 0;
  // --quick writes under .cache (gitignored): a pipeline check is not a checkpoint to ship
  const out = path.resolve(a.get('--out') ?? (quick ? cachePath('vqvae-quick') : checkpointDir('vqvae-emoji')));
  const name = path.basename(out);
  const runDir = path.resolve(a.get('--run-dir') ?? runDirOf(name));
  if (values.fresh === true) fs.rmSync(runDir, { recursive: true, force: true });

  const device = await initBackend();
  log(`backend ${device.backend} (${device.threads} thread${device.threads === 1 ? '' : 's'}${device.simd ? ', SIMD' : ''}); run dir ${path.relative(process.cwd(), runDir)}`);
  const [train, val, test] = [await emojiImages('train'), await emojiImages('val'), await emojiImages('test')];
  log(`emoji images: ${train.length} train, ${val.length} val, ${test.length} test (${IMAGE_SIZE}×${IMAGE_SIZE})`);

  const opts: VQVAETrainOptions = {
    train,
    val: quick ? val.slice(0, 64) : val,
    steps,
    batchSize,
    lowResBatchSize,
    seed,
    config: archConfig,
    ...(lr !== undefined ? { lr } : {}),
    evalEvery: quick ? 40 : 500,
    checkpointEvery: quick ? 20 : 250,
    runDir,
    onEvent: progress,
  };
  const abort = new AbortController();
  const onSignal = (): void => {
    log('stopping after this step (snapshot kept in the run directory; run again to resume)');
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const res = await trainVQVAE({ ...opts, signal: abort.signal });
  if (res.stopped === 'aborted') {
    res.model.dispose();
    return 130;
  }
  log(`trained ${opts.steps} steps in ${(res.elapsedMs / 60000).toFixed(1)} min wall, ${(res.cpuMs / 60000).toFixed(1)} min CPU (median ${res.msPerStep.toFixed(0)} ms/step this session)`);

  // Ship float16, then measure the shipped weights (not the float32 ones in memory).
  res.model.save(out, { dtype: 'float16' });
  res.model.dispose();
  const vq = VQVAE.load(out);
  const testEval = evaluateVQVAE(vq, test);
  const valEval = evaluateVQVAE(vq, val);
  for (const r of testEval) log(`test ${fmtEval(r)}`);
  const fixed = test.slice(0, FIXED_BATCH_SIZE);
  const fixedPsnr: Record<string, number> = {};
  for (const s of vq.config.imageSizes) {
    const imgs = fixed.map((im) => (s === IMAGE_SIZE ? im : downscale2x(im)));
    const pixels = new Uint8Array(imgs.length * s * s * 3);
    imgs.forEach((im, i) => pixels.set(im.pixels, i * s * s * 3));
    fixedPsnr[String(s)] = psnr(pixels, vq.reconstruct(pixels, imgs.length, s));
  }
  const config = { ...vq.config };
  const metrics = {
    model: name,
    createdAt: new Date().toISOString(),
    backend: { backend: device.backend, threads: device.threads, simd: device.simd },
    wallTimeMs: Math.round(res.elapsedMs),
    cpuTimeMs: Math.round(res.cpuMs),
    msPerStep: Math.round(res.msPerStep),
    steps: opts.steps,
    config,
    training: res.settings,
    data: { dataset: 'emoji (kernel-lib/data)', train: train.length, val: val.length, test: test.length, licence: 'Twemoji, CC-BY 4.0' },
    heldOut: { split: 'test', results: testEval },
    val: valEval,
    fixedBatch: { file: FIXED_BATCH_FILE, split: 'test', images: fixed.length, cols: FIXED_BATCH_COLS, psnr: fixedPsnr },
    curve: res.curve,
    evals: res.evals,
  };
  atomicWriteFile(path.join(out, METRICS_FILE), `${JSON.stringify(metrics, null, 1)}\n`);
  atomicWriteFile(path.join(out, 'README.md'), readme(name, metrics, testEval));
  atomicWriteFile(path.join(out, FIXED_BATCH_FILE), await writePng(imageGrid(fixed, FIXED_BATCH_COLS, { gap: 0 })));
  const show = test.slice(0, 16);
  const both = [...show, ...show.map(downscale2x)];
  atomicWriteFile(path.join(out, 'reconstructions.png'), await vq.reconstructionGridPng(both, { cols: 16, scale: 2 }));
  vq.dispose();
  const size = fs.readdirSync(out).reduce((s, f) => s + fs.statSync(path.join(out, f)).size, 0);
  log(`wrote ${path.relative(process.cwd(), out)} (${(size / 1e6).toFixed(2)} MB); fixed batch PSNR ${Object.entries(fixedPsnr).map(([s, p]) => `${s}px→${gridSize(Number(s))}×${gridSize(Number(s))} ${p.toFixed(2)} dB`).join(', ')}`);
  return 0;
}
