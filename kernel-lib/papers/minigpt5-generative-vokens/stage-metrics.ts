/**
 * A stage's progress events and the metrics.json it writes (run-metrics.ts gives the shape): the loss
 * curve thinned to ≤ 200 points, the per-step wall and CPU time, what trained and with which settings.
 */
import * as path from 'node:path';
import type { LoRAHandle } from '../../adapters';
import type { ArmSettings, Arm, Stage } from './arms';
import type { FeatureMapper } from './mapper';
import type { StageData, StageEvent, StageParts } from './stage';
import { thinned } from '../../train/step-history';
import { checkShape } from '../shape';
import { mean1, RecipeRunRecord, runTailValues, stepsRun, stepTimes as recipeStepTimes } from '../recipe-metrics';
import { Probe, RUN_METRICS, RunMetrics, StepTime } from './run-metrics';
import { CITATION } from './citation';

const r4 = (x: number | null) => (x === null ? null : Number(x.toFixed(4)));

/** [step, total, text, ldm, cap] thinned to at most n points (the last always kept). */
export function lossCurve(history: readonly StageEvent[], n = 200): RunMetrics['lossCurve'] {
  return thinned(history, n).map((e) => [e.step, r4(e.loss) as number, r4(e.text) as number, r4(e.ldm), r4(e.cap)]);
}

/** Times of the steps after `resumedFrom` (recipe-metrics.ts stepTimes) and their mean image rows. */
export function stepTimes(history: readonly StageEvent[], resumedFrom: number): StepTime {
  return { ...recipeStepTimes(history, resumedFrom), meanImages: mean1(stepsRun(history, resumedFrom).map((e) => e.images)) };
}

export interface StageMetricsInput extends RecipeRunRecord<StageEvent, Probe, RunMetrics['files']> {
  name: string;
  stage: Stage;
  arm: Arm;
  seed: number;
  set: ArmSettings;
  parts: StageParts;
  data: StageData;
  mapper: FeatureMapper | null;
  adapter: LoRAHandle | null;
  mapperLrScale: number;
}

/** The metrics of a stage (checked against RUN_METRICS before it is returned). */
export function stageMetrics(m: StageMetricsInput): RunMetrics {
  const { mapper, adapter, parts } = m;
  const s = parts.session;
  const H = s.config.hiddenSize;
  const n = m.set.vokens ? s.tokenizer.numVokens : 0;
  const mc = mapper?.config;
  const count = mapper?.numParams;
  // what trains of the mapper: everything in stage 1 (the queries not in fixed-queries), the enc-dec in stage 2
  const mapperTrainable = !count || !mc ? 0 : m.stage === 2 ? count.transformer : count.total - (mc.kind === 'enc-dec' && !mc.learnableQueries ? count.queries : 0);
  const metrics: RunMetrics = {
    name: m.name,
    paper: `${CITATION.title} (MiniGPT-5), workbench scale`,
    stage: m.stage,
    arm: m.arm,
    seed: m.seed,
    base: path.basename(parts.names.base),
    decoder: path.basename(parts.names.decoder),
    ...(parts.names.from ? { from: path.basename(parts.names.from) } : {}),
    ...(mc && count ? { mapper: { kind: mc.kind, encoderLayers: mc.encoderLayers, decoderLayers: mc.decoderLayers, heads: mc.heads, dim: mc.dim, length: mc.length, learnableQueries: mc.learnableQueries, params: count.total } } : {}),
    ...(adapter ? { adapter: { kind: adapter.spec.kind, rank: adapter.spec.rank, alpha: adapter.spec.alpha, params: adapter.numParams } } : {}),
    trainable: { vokenRows: n * H * (s.model.params.has('lm_head') ? 2 : 1), mapper: mapperTrainable, adapter: adapter?.numParams ?? 0 },
    lossWeights: { ...m.set.weights },
    vokenDropout: m.set.vokenDropout,
    negative: m.set.negative,
    data: { description: m.data.description, split: 'train', items: m.data.train.size },
    ...runTailValues(m, { optimizer: { mapperLrScale: m.mapperLrScale }, lossCurve: lossCurve(m.history), stepTime: stepTimes(m.history, m.resumedFrom), device: s.device }),
  };
  return checkShape(RUN_METRICS, JSON.parse(JSON.stringify(metrics)), `${m.name} metrics`);
}
