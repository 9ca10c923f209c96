/**
 * The recipe of the PLoRA paper reproduction (Dutt et al., "Efficient Multimodal Generation via
 * Redundancy-Aware Mixture-of-Experts", ICLR 2026; code name `plora`): `text-moe-small` (16 experts, top-4) extended to images and fine-tuned in two stages, once
 * with Partial LoRA (adapters on image tokens only) and once with plain LoRA (every token) as the
 * baseline. Everything else is the same for both variants, as in the paper:
 *
 * - vocabulary grows by the VQ-VAE's 512 codes + <boi>/<eoi>/<img> (paper A.1); the new embedding
 *   rows and LM-head columns are initialised by Gromov–Wasserstein (paper §2; 'mean' as the ablation);
 * - trainable: adapters (q, k, v, o; rank-stabilised α/√r) + routers + experts (paper §2) and the NEW
 *   embedding rows / head columns only (text rows stay exactly as pretrained);
 * - data: captioned images, caption → image (the paper trains text-to-image on image–text pairs);
 * - low-res stage (16×16 images → 4×4 codes) then high-res stage (32×32 → 8×8), each AdamW with
 *   warmup + cosine, peak lr scaled from the paper's 2e-4 → 2e-5 to this model size (1e-3 → 1e-4).
 *
 * Output per variant: `data/checkpoints/s1-<variant>/` (the fine-tuned model, float16) and
 * `data/checkpoints/s1-<variant>-adapters/<variant>.{json,safetensors}`; `loadVariant` puts them
 * back together. (The shipped directories keep the project's first name for this experiment, "S1";
 * `npm run train:s1-plora` etc. build them.) The mean-init ablation trains only the first low-res steps
 * and is not shipped. The mechanism arms (arms.ts, `arm`) change one thing each: what trains, or text replay.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Session } from '../../session';
import { VQVAE, CODEBOOK } from '../../image';
import { attachLoRA, ploraFreeze, saveAdapter, loadAdapter, LoRAHandle } from '../../adapters';
import type { LoRAKind } from '../../adapters';
import { captionConditioning } from '../../eval';
import type { ConditioningProbe } from '../../eval';
import type { Probe, RunMetrics, StageMetrics } from './run-metrics';
import { ARMS, ARM_NAMES, REPLAY_TEXT_FRACTION, Arm } from './arms';
import { captioned, mixedSampler, pairs, CaptionedCodes } from '../../recipes/mm-data';
import { brownStreams, thinCurve, writeMetrics } from '../../recipes/text-moe-small';
import type { TrainEvent, TrainSlice } from '../../train/trainer';
import type { HostTensor } from '../../model/params';

export type Init = 'gromov-wasserstein' | 'mean';

export interface RecipeOptions {
  variant: LoRAKind;
  init?: Init;
  baseDir: string;
  vqvaeDir: string;
  /** Finished model goes here; adapters to `${outDir}-adapters`. */
  outDir: string;
  /** Run directories `${runDir}/lowres`, `${runDir}/highres` (resumable). */
  runDir: string;
  lowResSteps?: number;
  highResSteps?: number;
  batchSize?: number;
  seqLen?: number;
  lr?: number;
  rank?: number;
  alpha?: number;
  seed?: number;
  /** Held-out low-res image-code NLL is probed at these low-res steps (early image loss). */
  probeSteps?: number[];
  probeExamples?: number;
  /** The paper trains routers and experts with the adapters (default true); false freezes them too (= arm 'frozen'). */
  trainRoutersAndExperts?: boolean;
  /** Mechanism arm (default 'paper'). */
  arm?: Arm;
  onProgress?: (e: TrainEvent & { stage: string }) => void;
  log?: (s: string) => void;
}

export const DEFAULTS = { lowResSteps: 250, highResSteps: 500, batchSize: 8, seqLen: 128, lr: 1e-3, rank: 8, alpha: 8, seed: 0, probeSteps: [0, 10, 25, 50, 100, 150, 250] };

/**
 * The trainable set of the paper plus the new vocabulary rows: freeze embedding, attention, norms and
 * head, except the embedding rows / head columns from `oldVocab` on.
 */
export function trainableSet(s: Session, oldVocab: number, o: { trainRoutersAndExperts?: boolean; arm?: Arm } = {}): { freeze: string[]; trainSlices: TrainSlice[] } {
  const arm = armOf(o);
  const freeze = ploraFreeze(s.config).filter((p) => p !== 'embed' && p !== 'lm_head');
  if (arm === 'frozen') freeze.push('blocks.*.moe.*');
  if (arm === 'routers') freeze.push('blocks.*.moe.w13', 'blocks.*.moe.w2', ...(s.config.sharedExpertSize > 0 ? ['blocks.*.moe.shared.*'] : []));
  if (arm === 'experts') freeze.push('blocks.*.moe.router');
  const trainSlices: TrainSlice[] = [{ param: 'embed', axis: 0, from: oldVocab }];
  if (!s.config.tieWordEmbeddings) trainSlices.push({ param: 'lm_head', axis: 1, from: oldVocab });
  return { freeze, trainSlices };
}

/** The arm named by `arm`, or by the older `trainRoutersAndExperts: false` ('frozen'); refuses a contradiction. */
export function armOf(o: { trainRoutersAndExperts?: boolean; arm?: Arm }): Arm {
  if (o.arm !== undefined && !(o.arm in ARMS)) throw new Error(`plora: unknown arm '${String(o.arm)}' (arms: ${ARM_NAMES.join(', ')})`);
  if (o.trainRoutersAndExperts === false && o.arm !== undefined && o.arm !== 'frozen') {
    throw new Error(`plora: trainRoutersAndExperts: false is the 'frozen' arm, but arm is '${o.arm}'`);
  }
  return o.arm ?? (o.trainRoutersAndExperts === false ? 'frozen' : 'paper');
}

/** `text-moe-small` + image vocabulary (512 codes, <boi>/<eoi>/<img>, 8×8 grid), rows by `init`. */
export async function extendForImages(baseDir: string, vq: VQVAE, init: Init, seed = 0): Promise<{ session: Session; oldVocab: number }> {
  const base = await Session.load(baseDir);
  const oldVocab = base.tokenizer.vocabSize;
  const codebook = vq.hostTensors().get(CODEBOOK) as HostTensor;
  try {
    const session = base.extendWithImages({ numImageCodes: vq.numCodes, grid: { height: 8, width: 8 }, numVokens: 0, init, codebook: init === 'gromov-wasserstein' ? codebook : undefined, seed });
    return { session, oldVocab };
  } finally {
    base.dispose();
  }
}

/** A fine-tuned variant as shipped: the model with its adapter attached (enabled). */
export async function loadVariant(dir: string, variant: LoRAKind): Promise<{ session: Session; adapter: LoRAHandle }> {
  const session = await Session.load(dir);
  try {
    return { session, adapter: loadAdapter(session, `${dir}-adapters`, variant) };
  } catch (err) {
    session.dispose();
    throw err;
  }
}

const probeLine = (p: ConditioningProbe) => `held-out image-code NLL ${p.own.toFixed(3)} (shuffled captions ${p.shuffled.toFixed(3)})`;

/**
 * Trains one variant through both stages (or only the first `lowResSteps` with `lowResOnly`). Each stage
 * resumes from its run directory; probes due before a resume point are not re-run (the metrics then list
 * fewer of them).
 */
export async function trainVariant(o: RecipeOptions & { lowResOnly?: boolean }): Promise<RunMetrics> {
  const d = { ...DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as typeof DEFAULTS & RecipeOptions;
  const log = o.log ?? ((x: string) => process.stderr.write(x + '\n'));
  const init = o.init ?? 'gromov-wasserstein';
  const t0 = Date.now();
  const vq = VQVAE.load(o.vqvaeDir);
  try {
    log(`extending the vocabulary (${init} init) …`);
    const tInit = Date.now();
    const { session: s, oldVocab } = await extendForImages(o.baseDir, vq, init, d.seed);
    const initSeconds = (Date.now() - tInit) / 1000;
    try {
      return await trainExtended({ o, d, s, oldVocab, vq, init, t0, initSeconds, log });
    } finally {
      s.dispose();
    }
  } finally {
    vq.dispose();
  }
}

interface VariantRun {
  o: RecipeOptions & { lowResOnly?: boolean };
  /** Options with the defaults filled in. */
  d: typeof DEFAULTS & RecipeOptions;
  /** The extended session (owned by the caller). */
  s: Session;
  oldVocab: number;
  vq: VQVAE;
  init: Init;
  t0: number;
  initSeconds: number;
  log: (x: string) => void;
}

/** The stages of trainVariant on an extended session: adapter, data, low-res, high-res, save. */
async function trainExtended({ o, d, s, oldVocab, vq, init, t0, initSeconds, log }: VariantRun): Promise<RunMetrics> {
  const adapter = attachLoRA(s, { kind: o.variant, name: o.variant, rank: d.rank, alpha: d.alpha, seed: d.seed });
  const arm = armOf(o);
  const trainable = trainableSet(s, oldVocab, { arm });
  log('encoding captioned images (low-res 16×16 → 4×4 and high-res 32×32 → 8×8) …');
  const low: CaptionedCodes[] = [...pairs(await captioned(vq, 'emoji', 'train', Infinity, { lowRes: true })), ...pairs(await captioned(vq, 'scenes', 'train', Infinity, { lowRes: true }))];
  const lowProbe = pairs(await captioned(vq, 'scenes', 'val', d.probeExamples ?? 24, { lowRes: true }));
  const high: CaptionedCodes[] = o.lowResOnly ? [] : [...pairs(await captioned(vq, 'emoji', 'train')), ...pairs(await captioned(vq, 'scenes', 'train'))];
  const highProbe = o.lowResOnly ? [] : pairs(await captioned(vq, 'scenes', 'val', d.probeExamples ?? 24));
  // The replay arm mixes Brown text rows into every stage's batches; the others train on captioned images only.
  const text = arm === 'replay' ? (await brownStreams(s.tokenizer)).train : new Int32Array(0);
  const textFraction = arm === 'replay' ? REPLAY_TEXT_FRACTION : 0;
  const stage = async (name: 'lowres' | 'highres', steps: number, data: CaptionedCodes[], probeSet: CaptionedCodes[], probeAt: Set<number>) => {
    const probes: Probe[] = [];
    const probe = (step: number) => {
      const p = captionConditioning(s, probeSet);
      probes.push({ step, ...p });
      log(`[${o.variant}/${init}/${arm}] ${name} step ${step}: ${probeLine(p)}`);
    };
    if (probeAt.has(0)) probe(0);
    const r = await s.train({
      steps,
      batches: mixedSampler(s.tokenizer, data, text, { batchSize: d.batchSize, seqLen: d.seqLen, seed: d.seed + (name === 'lowres' ? 0 : 1), textFraction, captionFirstFraction: 1 }),
      lr: d.lr,
      minLr: d.lr / 10,
      warmupSteps: Math.min(50, Math.floor(steps / 10)),
      freeze: trainable.freeze,
      trainSlices: trainable.trainSlices,
      runDir: path.join(o.runDir, name),
      checkpointEvery: 50,
      onStep: (e) => {
        o.onProgress?.({ ...e, stage: name });
        if (probeAt.has(e.step)) probe(e.step);
      },
    });
    const out: Omit<StageMetrics, 'image'> = { steps, lossCurve: thinCurve(r.history), earlyLoss: r.history.slice(0, 100).map((e) => Number(e.lmLoss.toFixed(4))), train_wall_time_s: (r.history.at(-1)?.elapsedMs ?? 0) / 1000, resumedFrom: r.resumedFrom, probes };
    return out;
  };
  const lowSteps = d.lowResSteps;
  const lowres = await stage('lowres', lowSteps, low, lowProbe, new Set([...d.probeSteps.filter((x) => x <= lowSteps), lowSteps]));
  const highres = o.lowResOnly ? null : await stage('highres', d.highResSteps, high, highProbe, new Set([0, Math.floor(d.highResSteps / 2), d.highResSteps]));
  const metrics: RunMetrics = {
    name: arm === 'paper' ? `s1-${o.variant}` : `s1-${o.variant}-${arm}`,
    arm,
    seed: d.seed,
    paper: 'Efficient Multimodal Generation via Redundancy-Aware MoE (PLoRA), workbench scale',
    base: path.basename(o.baseDir),
    variant: o.variant,
    vocabulary: { before: oldVocab, after: s.tokenizer.vocabSize, newRows: s.tokenizer.vocabSize - oldVocab, init, init_seconds: initSeconds },
    adapter: { ...adapter.spec, scaling: adapter.scaling, params: adapter.numParams },
    trainable: trainable,
    data: 'captioned Twemoji emoji + composed scenes (train splits), caption → image; probes on scenes val' + (arm === 'replay' ? `; Brown text (train split) ${100 * REPLAY_TEXT_FRACTION} % of rows` : ''),
    optimizer: { name: 'AdamW', lr: d.lr, minLr: d.lr / 10, schedule: 'warmup + cosine per stage', batchSize: d.batchSize, seqLen: d.seqLen },
    stages: { lowres: { image: '16×16 → 4×4 codes', ...lowres }, ...(highres ? { highres: { image: '32×32 → 8×8 codes', ...highres } } : {}) },
    backend: s.device,
    date: new Date().toISOString(),
    recipe_wall_time_s: NaN,
  };
  if (!o.lowResOnly) {
    for (const f of ['metrics.json']) if (fs.existsSync(path.join(o.outDir, f))) fs.rmSync(path.join(o.outDir, f));
    s.save(o.outDir, { dtype: 'float16', extra: { recipe: `s1-${o.variant}` } });
    saveAdapter(adapter, `${o.outDir}-adapters`); // replaces <variant>.{json,safetensors} there, nothing else
  }
  metrics.recipe_wall_time_s = (Date.now() - t0) / 1000;
  if (!o.lowResOnly) writeMetrics(o.outDir, metrics);
  return metrics;
}
