/**
 * Recipe for the shipped `ldm-emoji` (npm run train:diffusion): the latent diffusion decoder of
 * kernel-lib/diffusion trained on captioned emoji (every caption variant) and scenes (train splits) in
 * the shipped VQ-VAE's latent space, then scored on the reloaded checkpoint (ldm-eval.ts).
 *
 *   1. latent normalisation: per-channel mean / s.d. of the encoder outputs of every training image
 *   2. decode with or without quantising: whichever reconstructs held-out (val) images better
 *   3. x̂_0 clip bound: the largest |normalised latent| in the training set
 *   4. the caption encoder's token embedding warm-started from clip-emoji's text tower (ldm-warm-start.ts)
 *   5. training: v-prediction MSE (diffusion/loss.ts says why not ε), caption dropped 10 % of the time, AdamW, warmup + cosine, resumable;
 *      on data-parallel workers when SWITCHBOARD_TRAIN_WORKERS asks for them (diffusion/grads.ts); every
 *      `probeEvery` steps the conditioning probe (ldm-probe.ts) on held-out val scenes, logged and kept in the
 *      run directory (probes.jsonl), so a run shows whether and when it starts to use its captions
 *
 * Two schedules (LDM_BUDGETS): `full`, the recipe's default, and `session`, the same recipe with fewer
 * steps so that training and scoring fit one 150-minute work session on two cores (see the table's comment).
 */
import * as fs from 'node:fs';
import { loadTextTokenizer } from '../data/text-tokenizer';
import { VQVAE } from '../image/model';
import { LatentDiffusion } from '../diffusion/model';
import { defaultDiffusionConfig, countDiffusionParams, DiffusionPreset } from '../diffusion/config';
import { LatentSpace } from '../diffusion/latent-space';
import { trainDiffusion, DiffusionTrainEvent } from '../diffusion/train';
import type { LossTarget } from '../diffusion/loss';
import { currentDevice } from '../backend/backend';
import { evaluateLdm } from './ldm-eval';
import { ldmData } from './ldm-data';
import { CaptionWarmStart, warmStartCaptionEmbedding } from './ldm-warm-start';
import { conditioningLossProbe, ConditioningLossBand } from './ldm-probe';
export { ldmData } from './ldm-data';
export type { CaptionedImages } from './ldm-data';

/**
 * Named schedules. The cost of a step is set by the batch (images × the ~3.85 M-parameter DiT and caption
 * encoder, forward and backward), not by the data, so a budget is a step count at the default batch:
 *
 *   full     20,000 steps × 32 (640 k images, ~49 passes over the 13 k training images): ~5.3–5.6 h on one
 *            idle core at the measured 0.95–1 s a step; ~3.7–4.3 h on two cores (1.3–1.5× with 2 workers:
 *            0.67–0.77 s a step), i.e. two sessions, continued through the run directory.
 *   session   9,000 steps × 32 (288 k images, ~22 passes): 100–115 min on two idle cores at 0.67–0.77 s a
 *            step, plus a few minutes of data preparation and ~10 min of scoring: ≤ 150 min. Its cosine decays over
 *            the 9,000 steps, so the checkpoint it ships is annealed, not a cut-off full run; what it gives
 *            up is 55 % of the updates (the loss and sample quality of a diffusion model still improve at
 *            that point), not batch size (smaller batches would split worse across workers: per-op costs
 *            stay whole in each) nor model size (the sampling-speed target and checkpoint format stay).
 */
export const LDM_BUDGETS = {
  full: { steps: 20000, batchSize: 32 },
  session: { steps: 9000, batchSize: 32 },
} as const;

export type LdmBudget = keyof typeof LDM_BUDGETS;

export interface LdmRecipeOptions {
  outDir: string;
  runDir: string;
  vqvaeDir: string;
  clipDir: string;
  /** Named schedule (default 'full'); `steps` and `batchSize` override its numbers. */
  budget?: LdmBudget;
  steps?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  preset?: DiffusionPreset;
  /** Captions per evaluation set (default 48, the held-out scene captions mm-moe-small is scored on). */
  evalImages?: number;
  onProgress?: (e: DiffusionTrainEvent) => void;
  log?: (s: string) => void;
  /** Stop after saving the checkpoint (score it later with evaluateLdm / `--eval-only`). Default false. */
  skipEval?: boolean;
  /** Data-parallel workers (default: SWITCHBOARD_TRAIN_WORKERS through the backend, else 1). */
  workers?: number;
  /** The caption encoder's token embedding: from clip-emoji's text tower (default) or random. */
  captionInit?: CaptionInit;
  /** Run the conditioning probe every this many steps (default 1000; 0: never). */
  probeEvery?: number;
  /** What the loss compares (diffusion/loss.ts): 'v' (default) or 'epsilon'. */
  lossTarget?: LossTarget;
}

export const CAPTION_INITS = ['clip-emoji', 'random'] as const;
export type CaptionInit = (typeof CAPTION_INITS)[number];

/** Val scene captions the probe along the run uses (the first of the split, as the gate's scoring does). */
export const PROBE_SCENES = 48;

export interface ProbeRecord {
  step: number;
  bands: ConditioningLossBand[];
}

const PROBES_FILE = 'probes.jsonl';

/** The run directory's probes, one per step (a step probed again after a resume keeps its last record). */
export function readProbes(runDir: string): ProbeRecord[] {
  const file = `${runDir}/${PROBES_FILE}`;
  if (!fs.existsSync(file)) return [];
  const byStep = new Map<number, ProbeRecord>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as ProbeRecord;
      byStep.set(r.step, r);
    } catch {
      // a line cut by a kill mid-write: the next probe of that step rewrites it
    }
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** "ε t 1–199 own 0.3430 / shuffled 0.3438 / null 0.3451; x̂0 t 500–799 own … (shuffled +x %)" — the bands where each error shows most. */
export function describeProbe(bands: readonly ConditioningLossBand[]): string {
  const gap = (own: number, other: number) => `${other >= own ? '+' : ''}${((100 * (other - own)) / own).toFixed(1)} %`;
  const eps = bands.slice(0, 1).map((b) => `ε t ${b.from}–${b.to - 1} own ${b.own.toFixed(4)} / shuffled ${b.shuffled.toFixed(4)} / null ${b.null.toFixed(4)}`);
  const x0 = bands.slice(-2).map((b) => `x̂0 t ${b.from}–${b.to - 1} own ${b.x0.own.toFixed(4)} / shuffled ${b.x0.shuffled.toFixed(4)} (${gap(b.x0.own, b.x0.shuffled)}) / null ${b.x0.null.toFixed(4)} (${gap(b.x0.own, b.x0.null)})`);
  return [...eps, ...x0].join('; ');
}

export async function trainLdmEmoji(o: LdmRecipeOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const t0 = Date.now();
  const vq = VQVAE.load(o.vqvaeDir);
  const { emoji, scenes } = await ldmData('train');
  const images = [...emoji.images, ...scenes.images];
  const captions = [...emoji.captions, ...scenes.captions];
  log(`training images: ${emoji.images.length} emoji + ${scenes.images.length} scenes`);
  const stats = LatentSpace.measureStats(vq, images);
  const space = new LatentSpace(vq, stats);
  const val = await ldmData('val', 200);
  const decoding = space.compareDecoding([...val.emoji.images, ...val.scenes.images]);
  const decodeQuantised = decoding[0].quantised > decoding[0].continuous;
  log(`decoding held-out val latents: quantised ${decoding[0].quantised.toFixed(2)} dB vs continuous ${decoding[0].continuous.toFixed(2)} dB → ${decodeQuantised ? 'quantised' : 'continuous'}`);
  const latents = space.encode(images);
  let latentClip = 0;
  for (const v of latents) latentClip = Math.max(latentClip, Math.abs(v));
  latentClip = Math.ceil(latentClip * 10) / 10;
  const config = defaultDiffusionConfig(o.preset ?? 'small', { decodeQuantised, latentClip });
  const model = LatentDiffusion.create(config, { vq, stats, tokenizer: loadTextTokenizer(), seed: o.seed ?? 0 });
  const captionInit = o.captionInit ?? 'clip-emoji';
  if (!CAPTION_INITS.includes(captionInit)) throw new Error(`ldm-emoji: unknown captionInit '${captionInit}'; expected one of ${CAPTION_INITS.join(', ')}`);
  let warm: CaptionWarmStart | null = null;
  if (captionInit === 'clip-emoji') {
    warm = warmStartCaptionEmbedding(model, o.clipDir);
    log(`caption embedding: ${warm.rows} rows from ${warm.from} ${warm.tensor} (× ${warm.scale.toFixed(4)}, s.d. ${warm.std})`);
  }
  const lossTarget = o.lossTarget ?? 'v';
  const probeEvery = o.probeEvery ?? 1000;
  if (!Number.isInteger(probeEvery) || probeEvery < 0) throw new Error(`ldm-emoji: probeEvery must be a whole number ≥ 0, got ${JSON.stringify(o.probeEvery)}`);
  const probeSet = { images: val.scenes.images.slice(0, PROBE_SCENES), captions: val.scenes.captions.slice(0, PROBE_SCENES).map((c) => c[0]) };
  const budget = o.budget ?? 'full';
  if (!Object.hasOwn(LDM_BUDGETS, budget)) throw new Error(`ldm-emoji: unknown budget '${budget}'; expected one of ${Object.keys(LDM_BUDGETS).join(', ')}`);
  const steps = o.steps ?? LDM_BUDGETS[budget].steps;
  const batchSize = o.batchSize ?? LDM_BUDGETS[budget].batchSize;
  const lr = o.lr ?? 3e-4;
  log(`ldm-emoji: ${countDiffusionParams(config).total} parameters, ${steps} steps of ${batchSize} (budget ${budget}), run directory ${o.runDir}`);
  let threads = 1;
  try {
    const r = await trainDiffusion(model, {
      data: { latents, captions }, steps, batchSize, lr, seed: o.seed ?? 0, runDir: o.runDir, checkpointEvery: 200, workers: o.workers,
      init: captionInit === 'clip-emoji' ? 'caption.embed from clip-emoji text.embed.weight' : undefined,
      target: lossTarget,
      onStep: (e) => {
        o.onProgress?.(e);
        if (probeEvery > 0 && (e.step % probeEvery === 0 || e.step === steps)) {
          const bands = conditioningLossProbe(model, probeSet.images, probeSet.captions);
          fs.mkdirSync(o.runDir, { recursive: true });
          fs.appendFileSync(`${o.runDir}/${PROBES_FILE}`, JSON.stringify({ step: e.step, bands }) + '\n');
          log(`probe at step ${e.step}: ${describeProbe(bands)}`);
        }
      },
      onResume: (step) => log(`resuming from step ${step} of ${steps} (${o.runDir})`),
    });
    threads = r.threads;
    for (const f of ['metrics.json', 'samples.png', 'cfg-sweep.svg']) if (fs.existsSync(`${o.outDir}/${f}`)) fs.rmSync(`${o.outDir}/${f}`);
    const last = r.history.at(-1);
    const curve = r.history.filter((_, i) => i % Math.max(1, Math.ceil(r.history.length / 200)) === 0 || i === r.history.length - 1).map((e) => [e.step, Number(e.loss.toFixed(4))]);
    model.save(o.outDir, {
      dtype: 'float16',
      extra: { recipe: 'ldm-emoji' },
      metrics: {
        name: 'ldm-emoji',
        data: `Twemoji emoji (train split, every caption variant: ${emoji.images.length} images) and composed scenes (train split: ${scenes.images.length}) with captions`,
        config,
        parameters: countDiffusionParams(config),
        latent: {
          source: 'vqvae-emoji encoder output before the quantiser, 8×8×32',
          normalisation: 'per-channel mean and standard deviation over every training image',
          decodeComparisonValPsnrDb: decoding,
          decodeQuantised,
          latentClip,
        },
        training: {
          budget, steps, batchSize, lr, minLr: lr / 10, condDropProb: config.condDropProb, resumedFrom: r.resumedFrom, threads, finalLoss: last?.loss, lossCurve: curve, train_wall_time_s: (last?.elapsedMs ?? 0) / 1000,
          captionInit: warm ?? 'random',
          lossTarget,
          conditioningProbes: { scenes: probeSet.images.length, split: 'val', every: probeEvery, records: readProbes(o.runDir) },
        },
        backend: currentDevice(),
        date: new Date().toISOString(),
      },
    });
  } finally {
    model.dispose();
  }
  if (o.skipEval) {
    log(`saved ${o.outDir}; not scored (--skip-eval): run the gate with --eval-only`);
    return { saved: o.outDir, budget, steps, batchSize, threads, recipe_wall_time_s: (Date.now() - t0) / 1000 };
  }
  const m = await evaluateLdm(o.outDir, { clipDir: o.clipDir, evalImages: o.evalImages, log });
  return { ...m, recipe_wall_time_s: (Date.now() - t0) / 1000 };
}
