/**
 * A stage's progress events and the metrics.json it writes (run-metrics.ts gives the shape): the loss
 * curve thinned to ≤ 200 points, the per-step wall and CPU time, what trained and with which settings.
 */
import * as path from 'node:path';
import type { LoRAHandle } from '../../adapters';
import type { ArmSettings, Arm, Stage } from './arms';
import type { FeatureMapper } from './mapper';
import type { StageData, StageEvent, StageParts } from './stage';
import { checkShape } from '../shape';
import { Probe, RUN_METRICS, RunMetrics, StepTime } from './run-metrics';
import { CITATION } from './citation';

const r4 = (x: number | null) => (x === null ? null : Number(x.toFixed(4)));
const r1 = (x: number) => Number(x.toFixed(1));

/** [step, total, text, ldm, cap] thinned to at most n points (the last always kept). */
export function lossCurve(history: readonly StageEvent[], n = 200): RunMetrics['lossCurve'] {
  const every = Math.max(1, Math.ceil(history.length / n));
  return history.filter((_e, i) => i % every === 0 || i === history.length - 1).map((e) => [e.step, r4(e.loss) as number, r4(e.text) as number, r4(e.ldm), r4(e.cap)]);
}

/** Times of the steps after `resumedFrom`: the first (kernel set-up) apart, mean and median wall, mean CPU, batch sizes. */
export function stepTimes(history: readonly StageEvent[], resumedFrom: number): StepTime {
  const ran = history.filter((e) => e.step > resumedFrom);
  const rest = ran.slice(1);
  const mean = (xs: number[]) => (xs.length === 0 ? null : r1(xs.reduce((a, b) => a + b, 0) / xs.length));
  const sorted = rest.map((e) => e.stepMs).sort((a, b) => a - b);
  const median = sorted.length === 0 ? null : r1(sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2);
  return {
    steps: ran.length,
    firstMs: ran.length > 0 ? r1(ran[0].stepMs) : null,
    meanMs: mean(rest.map((e) => e.stepMs)),
    medianMs: median,
    meanCpuMs: mean(rest.map((e) => e.stepCpuMs)),
    meanTokens: mean(ran.map((e) => e.tokens)),
    meanImages: mean(ran.map((e) => e.images)),
  };
}

export interface StageMetricsInput {
  name: string;
  stage: Stage;
  arm: Arm;
  seed: number;
  set: ArmSettings;
  parts: StageParts;
  data: StageData;
  mapper: FeatureMapper | null;
  adapter: LoRAHandle | null;
  steps: number;
  batchSize: number;
  lr: number;
  mapperLrScale: number;
  warmupSteps: number;
  resumedFrom: number;
  stopped: 'done' | 'aborted';
  history: StageEvent[];
  probes: Probe[];
  files: RunMetrics['files'];
  /** Date.now() when the recipe began. */
  t0: number;
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
  const d = s.device;
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
    optimizer: { name: 'AdamW', lr: m.lr, minLr: m.lr / 10, schedule: 'warmup + cosine', warmupSteps: m.warmupSteps, weightDecay: 0.1, batchSize: m.batchSize, clipNorm: 1, mapperLrScale: m.mapperLrScale },
    steps: m.steps,
    resumedFrom: m.resumedFrom,
    stopped: m.stopped,
    lossCurve: lossCurve(m.history),
    stepTime: stepTimes(m.history, m.resumedFrom),
    probes: m.probes,
    files: m.files,
    backend: { backend: d.backend, tfBackend: d.tfBackend, threads: d.threads },
    date: new Date().toISOString(),
    train_wall_time_s: r1((m.history.at(-1)?.elapsedMs ?? 0) / 1000),
    recipe_wall_time_s: r1((Date.now() - m.t0) / 1000),
  };
  return checkShape(RUN_METRICS, JSON.parse(JSON.stringify(metrics)), `${m.name} metrics`);
}
