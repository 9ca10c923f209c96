/**
 * The recipe on the shipped parts: mm-moe-small (the frozen LM), ldm-emoji (the decoder), vqvae-emoji (crops
 * as codes) and the data sets; and a trained run loaded back for drawing.
 *
 *   await trainMumu({ arm: 'mumu', tokensPerCrop: 16, seed: 0, baseDir, ldmDir, vqvaeDir, outDir, runDir });
 *   const run = await loadMumu(outDir, { baseDir, ldmDir });   // { session, connector, ldm (LoRA attached), lora }
 *   const images = await drawItems(run, heldOutItems);
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Session } from '../../session';
import { VQVAE } from '../../image';
import type { RGBImage } from '../../image/types';
import { resizeArea } from '../../image/rgb';
import { LatentDiffusion } from '../../diffusion/model';
import { DecoderLoRA } from '../../diffusion/lora';
import { readSafetensors } from '../../checkpoint/safetensors';
import { DataStore, ensureData } from '../../data/store';
import { mumuPrompts } from '../../data/mumu-prompts';
import type { MumuMeta } from '../../data/mumu-prompts';
import type { ExampleList } from '../../data/example-list';
import type { Split } from '../../data/emoji';
import { armSettings, checkArm, ArmSettings } from './arms';
import { Connector } from './connector';
import { CropEncoder, codeExamples, mumuSource } from './items';
import { DEFAULTS, MumuData, MumuOptions, trainMumuOn } from './recipe';
import { CONNECTOR_DIR, DECODER_LORA_DIR, DENOISER_FILE, METRICS_FILE, RunMetrics } from './run-metrics';

export interface RecipeOptions extends MumuOptions {
  baseDir: string;
  ldmDir: string;
  vqvaeDir: string;
  /** Held-out val prompts probed before and after (default 16; 0: none). */
  probeItems?: number;
  /** Seed of the prompts' own draws (generic words, augmentation; default 0, the same for every arm and seed). */
  dataSeed?: number;
  /** The data store (default the project's, ensureData()). */
  store?: DataStore;
}

/** Refuses, naming what to do, when the diffusion decoder has not been trained yet. */
export function requireDecoder(ldmDir: string): void {
  if (!fs.existsSync(path.join(ldmDir, 'config.json'))) {
    throw new Error(`mumu: the diffusion decoder ${ldmDir} does not exist; MUMU trains a connector into a trained decoder: train it first (npm run train:diffusion)`);
  }
}

/** Crops → codes with the VQ-VAE at its input size: each crop area-resized to 32×32 first (MUMU resizes crops to the target resolution, §5). */
export function vqCropEncoder(vq: VQVAE, side = 32): CropEncoder {
  return (images: readonly RGBImage[]) => vq.encodeImages(images.map((im) => (im.height === side && im.width === side ? im : resizeArea(im, side, side))));
}

/** A split's multimodal prompts as an arm trains on them: crops augmented at its rate, draws seeded by `dataSeed`. */
export function armPrompts(store: DataStore, set: ArmSettings, split: Split, dataSeed = 0): ExampleList<MumuMeta> {
  return mumuPrompts(store, { split, seed: dataSeed, augment: set.augmentRate > 0 ? { rate: set.augmentRate } : false });
}

/**
 * An arm's data: the train split's multimodal prompts, their crops augmented at the arm's rate (none for
 * no-augment and caption-only), and the first `probeItems` val prompts (never augmented) to probe. The
 * prompts' own draws (generic words, which crops are augmented) are seeded by `dataSeed`, the same for
 * every arm and seed, so arms differ only in what they set.
 */
export function armData(store: DataStore, set: ArmSettings, encode: CropEncoder, o: { dataSeed?: number; probeItems?: number } = {}): MumuData {
  const dataSeed = o.dataSeed ?? 0;
  const train = armPrompts(store, set, 'train', dataSeed);
  const val = mumuPrompts(store, { split: 'val', seed: dataSeed, augment: false });
  const nProbe = Math.min(o.probeItems ?? DEFAULTS.probeItems, val.size);
  return {
    train: mumuSource(train, encode),
    probe: codeExamples(Array.from({ length: nProbe }, (_, i) => val.get(i)), encode),
    augmentRate: set.augmentRate,
    description: `multimodal prompts → scenes (train split): crops before their words, at most 3, half the prompts with generic words; ${set.augmentRate > 0 ? `${set.augmentRate * 100} % of crops augmented` : 'no augmentation'}`,
    split: 'val',
  };
}

/** Trains one arm on the shipped parts (see the file comment); returns its metrics. */
export async function trainMumu(o: RecipeOptions): Promise<RunMetrics> {
  const arm = checkArm(o.arm);
  requireDecoder(o.ldmDir);
  const set = armSettings(arm, o.tokensPerCrop); // refuses bad settings before anything loads
  const session = set.encoder === 'prompt' ? await Session.load(o.baseDir) : null;
  const ldm = LatentDiffusion.load(o.ldmDir);
  const vq = VQVAE.load(o.vqvaeDir);
  let connector: Connector | null = null;
  let lora: DecoderLoRA | null = null;
  try {
    const data = armData(o.store ?? (await ensureData()), set, vqCropEncoder(vq), o);
    const r = await trainMumuOn({ session, ldm, names: { base: o.baseDir, decoder: o.ldmDir } }, data, o);
    connector = r.connector;
    lora = r.lora;
    return r.metrics;
  } finally {
    lora?.detach();
    connector?.dispose();
    vq.dispose();
    ldm.dispose();
    session?.dispose();
  }
}

/**
 * A trained run back for drawing: the LM (prompt arms), its connector, and the decoder with its LoRA attached
 * (or its trained denoiser loaded). Detach the LoRA and dispose the rest when done (`dispose`).
 */
export async function loadMumu(dir: string, o: { baseDir: string; ldmDir: string }): Promise<{ session: Session | null; connector: Connector | null; ldm: LatentDiffusion; lora: DecoderLoRA | null; dispose: () => void }> {
  if (!fs.existsSync(path.join(dir, METRICS_FILE))) throw new Error(`mumu.loadMumu: ${dir} holds no finished run (no ${METRICS_FILE})`);
  const connector = fs.existsSync(path.join(dir, CONNECTOR_DIR)) ? Connector.load(path.join(dir, CONNECTOR_DIR)) : null;
  let session: Session | null = null;
  let ldm: LatentDiffusion | null = null;
  let lora: DecoderLoRA | null = null;
  try {
    session = connector ? await Session.load(o.baseDir) : null;
    ldm = LatentDiffusion.load(o.ldmDir);
    if (fs.existsSync(path.join(dir, DECODER_LORA_DIR))) lora = DecoderLoRA.load(ldm, path.join(dir, DECODER_LORA_DIR));
    if (fs.existsSync(path.join(dir, DENOISER_FILE))) {
      // the fully trained arm's denoiser: every tensor checked against the decoder before any is assigned
      const file = path.join(dir, DENOISER_FILE);
      const host = readSafetensors(file).tensors;
      const params = ldm.params;
      for (const [n, t] of host) {
        const v = params.get(n);
        if (!v || !n.startsWith('denoiser.')) throw new Error(`mumu.loadMumu: ${file} holds '${n}', which is not a denoiser weight of this decoder`);
        if (t.shape.join(',') !== v.shape.join(',')) throw new Error(`mumu.loadMumu: ${file}: '${n}' has shape [${t.shape}], the decoder's is [${v.shape}]`);
      }
      tf.tidy(() => {
        for (const [n, t] of host) params.get(n)!.assign(tf.tensor(t.data, t.shape));
      });
    }
  } catch (e) {
    lora?.detach();
    ldm?.dispose();
    session?.dispose();
    connector?.dispose();
    throw e;
  }
  const parts = { session, connector, ldm, lora };
  return {
    ...parts,
    dispose: () => {
      parts.lora?.detach();
      parts.connector?.dispose();
      parts.ldm.dispose();
      parts.session?.dispose();
    },
  };
}
