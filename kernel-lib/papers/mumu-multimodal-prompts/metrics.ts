/** The metrics.json of a MUMU run (run-metrics.ts gives its shape), built from what the recipe recorded. */
import * as path from 'node:path';
import { currentDevice } from '../../backend/backend';
import type { DecoderLoRA } from '../../diffusion/lora';
import type { Arm, ArmSettings } from './arms';
import type { Connector } from './connector';
import type { MumuData, MumuParts } from './run-parts';
import { CITATION } from './citation';
import { RecipeRunRecord, runTailValues } from '../recipe-metrics';
import { checkRunMetrics, lossCurve, MumuEvent, Probe, RunMetrics, stepTimes } from './run-metrics';

export interface RunMetricsInput extends RecipeRunRecord<MumuEvent, Probe, RunMetrics['files']> {
  name: string;
  arm: Arm;
  seed: number;
  set: ArmSettings;
  parts: MumuParts;
  data: MumuData;
  connector: Connector | null;
  lora: DecoderLoRA | null;
  /** Decoder weights that trained (the LoRA's, the denoiser's, or 0). */
  decoderTrainable: number;
  condDrop: number;
  decoderLrScale: number;
}

/** The metrics of a run (checked against RUN_METRICS before it is returned). */
export function runMetrics(m: RunMetricsInput): RunMetrics {
  const { connector, lora, parts } = m;
  const count = connector?.numParams;
  const cc = connector?.config.connector;
  const pc = connector?.config.pooler;
  const d = parts.session?.device ?? currentDevice();
  if (!d) throw new Error('mumu: no TensorFlow.js backend has been chosen (initBackend first)');
  const metrics: RunMetrics = {
    name: m.name,
    paper: `${CITATION.title} (MUMU), workbench scale`,
    arm: m.arm,
    tokensPerCrop: m.set.tokensPerCrop,
    seed: m.seed,
    base: m.set.encoder === 'prompt' ? path.basename(parts.names.base) : 'none (caption-only)',
    decoder: path.basename(parts.names.decoder),
    encoder: m.set.encoder,
    augmentRate: m.set.augmentRate,
    decoderMode: m.set.decoder,
    ...(cc && count ? { connector: { layers: cc.layers, heads: cc.heads, dim: cc.dim, params: count.connector } } : {}),
    ...(pc && count ? { pooler: { tokens: pc.tokens, codes: pc.codes, heads: pc.heads, params: count.pooler } } : {}),
    ...(lora ? { decoderLoRA: { rank: lora.spec.rank, alpha: lora.spec.alpha, targets: [...lora.spec.targets], params: lora.numParams } } : {}),
    trainable: { connector: count?.connector ?? 0, pooler: count?.pooler ?? 0, decoder: m.decoderTrainable },
    condDrop: m.condDrop,
    data: { description: m.data.description, split: 'train', items: m.data.train.size },
    ...runTailValues(m, { optimizer: { decoderLrScale: m.decoderLrScale }, lossCurve: lossCurve(m.history), stepTime: stepTimes(m.history, m.resumedFrom), device: d }),
  };
  return checkRunMetrics(metrics, `${m.name} metrics`);
}
