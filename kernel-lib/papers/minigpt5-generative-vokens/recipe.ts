/**
 * The two-stage recipe of the MiniGPT-5 reproduction (Zheng, He & Wang, "MiniGPT-5: Interleaved
 * Vision-and-Language Generation via Generative Vokens", 2023; code name `minigpt5`) on the project's one
 * training loop (train/loop.ts), with the diffusion decoder frozen throughout:
 *
 *   stage 1  caption → scene pairs (the CC3M stand-in): the voken rows of the LM (embed rows and head
 *            columns, trainSlices: every other LM weight bit-exact) and the feature mapper train on
 *            λ_text·L_text + λ_LDM·L_LDM + λ_CAP·L_CAP (losses.ts), lr 1e-3.
 *   stage 2  stories (the VIST stand-in; text, image and text + image tasks): LoRA (rank 8, α 8) on the LM,
 *            the mapper's MLP and queries frozen, its enc-dec + the voken rows + LoRA train on
 *            λ_text·L_text + λ_LDM·L_LDM; lr 1e-4 with the mapper at 10× (the paper's stage-2 rate is a
 *            tenth of stage 1's, its code trains the mapper at 10× the rest: per-group rates).
 *
 *   AdamW (β 0.9/0.95, weight decay 0.1 on matrices, the project's defaults), warmup (10 % of the steps, at
 *   most 100) + cosine to lr/10, clip 1. An arm (arms.ts) changes one thing; `seed` seeds the mapper, the
 *   LoRA, the data order, the dropout and the decoder noise.
 *
 * Output directory: `vokens.safetensors`, `mapper/` (mapper.ts), `adapter/` (stage 2, PEFT format) and
 * `metrics.json` (run-metrics.ts), written last. The run directory keeps snapshots of the same weights plus
 * the optimizer's moments; a later call resumes (options checked both ways).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Session } from '../../session';
import { attachLoRA, savePeftAdapter } from '../../adapters';
import type { LoRAHandle } from '../../adapters';
import { atomicWriteFile } from '../../checkpoint/files';
import type { DirEntry } from '../../checkpoint/files';
import { encodeSafetensors, readSafetensors } from '../../checkpoint/safetensors';
import { assignFromHost, checkHostFits, copyToHost } from '../../model/params';
import { trainingParams } from '../../train/trainer';
import { trainLoop } from '../../train/loop';
import { defaultOptimizer } from '../../train/schedule';
import { StepHistory } from '../../train/step-history';
import type { ParamGroup } from '../../train/params';
import { armSettings, checkArm, Arm, Stage } from './arms';
import { defaultMapperConfig, MapperConfig } from './mapper-config';
import { FeatureMapper } from './mapper';
import { hostLosses, vokenLosses, LossWeights, VokenBatch } from './losses';
import { probeBatch, vokenBatches } from './batch';
import { saveVokenRows, vokenIds, vokenRows, vokenTrainable, VOKENS_FILE, VOKENS_FORMAT, loadVokenRows } from './vokens';
import { ADAPTER_DIR, MAPPER_DIR, METRICS_FILE, Probe, RunMetrics } from './run-metrics';
import { stageMetrics } from './stage-metrics';
import type { StageData, StageEvent, StageParts } from './stage';

export type { StageData, StageEvent, StageParts } from './stage';

export const DEFAULTS = {
  seed: 0,
  /**
   * 500 stage-1 steps of 16 pairs (0.8 of an epoch of the 10,000 train scenes) and 250 stage-2 steps of 8 stories
   * (one epoch of the 2,000): about 15 min each on one core by the per-step times measured for issue #15 (README,
   * "MiniGPT-5"), so every arm gets 3 seeds. The paper trains 2 and 4 epochs.
   */
  steps: { 1: 500, 2: 250 } as Record<Stage, number>,
  batchSize: { 1: 16, 2: 8 } as Record<Stage, number>,
  lr: { 1: 1e-3, 2: 1e-4 } as Record<Stage, number>,
  mapperLrScale: { 1: 1, 2: 10 } as Record<Stage, number>,
  rank: 8,
  alpha: 8,
  checkpointEvery: 50,
  /** Held-out val items whose losses are probed before and after training. */
  probeItems: 16,
  /** Batches per length-sorted window (batch.ts): stage 1's caption rows are alike, stage 2's stories are not. */
  window: { 1: 1, 2: 4 } as Record<Stage, number>,
};

export interface StageOptions {
  stage: Stage;
  arm: Arm;
  seed?: number;
  steps?: number;
  batchSize?: number;
  lr?: number;
  mapperLrScale?: number;
  checkpointEvery?: number;
  /**
   * λs other than the paper's (losses.ts PAPER_WEIGHTS), e.g. to re-weight L_text once the decoder's loss scale
   * is known; a loss the arm switches off stays off.
   */
  weights?: Partial<LossWeights>;
  /** Stage 1: mapper settings beyond the arm's (layers, heads). */
  mapper?: Partial<MapperConfig>;
  outDir: string;
  runDir: string;
  onProgress?: (e: StageEvent) => void;
  log?: (s: string) => void;
  signal?: AbortSignal;
}

/** `minigpt5-s<stage>-<arm>-seed<k>`. */
export function runName(stage: Stage, arm: Arm, seed: number): string {
  return `minigpt5-s${stage}-${arm}-seed${seed}`;
}

const MAPPER_FILE = 'mapper.safetensors';
const ADAPTERS_FILE = 'adapters.safetensors';

/**
 * Trains one stage of one arm on loaded parts (the shipped ones, or tiny ones in tests) and writes its output
 * directory; returns the metrics, the mapper and the LoRA (attached; null in stage 1).
 */
export async function trainStageOn(parts: StageParts, data: StageData, o: StageOptions): Promise<{ metrics: RunMetrics; mapper: FeatureMapper | null; adapter: LoRAHandle | null }> {
  const t0 = Date.now();
  const { stage } = o;
  const arm = checkArm(o.arm, stage);
  const set = armSettings(arm, stage);
  for (const [k, v] of Object.entries(o.weights ?? {}) as [keyof LossWeights, number][]) {
    if (!(k in set.weights)) throw new Error(`minigpt5: weights has no loss '${k}' (text, ldm, cap)`);
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new Error(`minigpt5: weights.${k} must be a finite number ≥ 0, got ${String(v)}`);
    if (set.weights[k] === 0 && v !== 0) throw new Error(`minigpt5: arm '${arm}' at stage ${stage} has no ${({ text: 'L_text', ldm: 'L_LDM', cap: 'L_CAP' } as const)[k]} (λ 0); weights.${k} cannot turn it on`);
    set.weights[k] = v;
  }
  const { session: s, ldm } = parts;
  const model = s.model;
  const tok = s.tokenizer;
  const seed = o.seed ?? DEFAULTS.seed;
  const steps = o.steps ?? DEFAULTS.steps[stage];
  const batchSize = o.batchSize ?? DEFAULTS.batchSize[stage];
  const lr = o.lr ?? DEFAULTS.lr[stage];
  const mapperLrScale = o.mapperLrScale ?? DEFAULTS.mapperLrScale[stage];
  const log = o.log ?? ((x: string) => process.stderr.write(x + '\n'));
  const name = runName(stage, arm, seed);
  if (set.vokens) vokenIds(tok); // refuses a tokenizer without vokens, by name
  const caption = ldm.config.caption;
  let mapper: FeatureMapper | null = null;
  if (set.vokens) {
    if (stage === 1) {
      mapper = FeatureMapper.create(defaultMapperConfig({ hiddenSize: s.config.hiddenSize, numVokens: tok.numVokens, length: caption.maxTokens, dim: caption.dim }, { ...set.mapper, ...o.mapper }), seed);
    } else {
      if (!parts.mapper) throw new Error(`minigpt5: stage 2 of arm '${arm}' starts from the stage-1 mapper; none was given`);
      mapper = parts.mapper;
      for (const [k, v] of Object.entries(set.mapper)) {
        if (mapper.config[k as keyof MapperConfig] !== v) throw new Error(`minigpt5: arm '${arm}' needs a stage-1 mapper with ${k} ${JSON.stringify(v)}, this one has ${JSON.stringify(mapper.config[k as keyof MapperConfig])}`);
      }
    }
    const c = mapper.config;
    if (c.hiddenSize !== s.config.hiddenSize || c.numVokens !== tok.numVokens || c.length !== caption.maxTokens || c.dim !== caption.dim) {
      throw new Error(`minigpt5: the mapper maps [${c.numVokens}, ${c.hiddenSize}] → [${c.length}, ${c.dim}], the LM and decoder need [${tok.numVokens}, ${s.config.hiddenSize}] → [${caption.maxTokens}, ${caption.dim}]`);
    }
  }
  const adapter = stage === 2 ? attachLoRA(s, { kind: 'lora', rank: DEFAULTS.rank, alpha: DEFAULTS.alpha, seed, name: 'minigpt5' }) : null;
  try {
    const params = trainingParams(model);
    const vt = vokenTrainable(model, tok);
    const freeze = set.vokens ? vt.freeze : [...model.params.keys()];
    const trainSlices = set.vokens ? vt.trainSlices : [];
    if (mapper) {
      for (const [n, v] of mapper.params) params.set(n, v);
      if (stage === 2) freeze.push('mapper.mlp.*');
      if (mapper.config.kind === 'enc-dec' && (stage === 2 || !mapper.config.learnableQueries)) freeze.push('mapper.queries');
    }
    const groups: ParamGroup[] = mapper && mapperLrScale !== 1 ? [{ name: 'mapper', params: ['mapper.*'], lrScale: mapperLrScale }] : [];
    const opts = { weights: set.weights, vokenDropout: set.vokenDropout, vokens: set.vokens };
    const batches = vokenBatches(s, ldm, data.train, { ...opts, batchSize, seed, window: DEFAULTS.window[stage] });
    const fixed = data.probe.length > 0 ? probeBatch(s, ldm, data.probe, opts) : null;
    const probes: Probe[] = [];
    const probe = (step: number) => {
      if (!fixed) return;
      const l = hostLosses({ model, mapper, ldm }, fixed, set.weights);
      const r4 = (x: number | null) => (x === null ? null : Number(x.toFixed(4)));
      const p = { text: r4(l.text) as number, ldm: r4(l.ldm), cap: r4(l.cap) };
      probes.push({ step, split: data.split, items: data.probe.length, ...p });
      log(`[${name}] step ${step}: held-out ${data.split} L_text ${p.text.toFixed(3)}  L_LDM ${p.ldm?.toFixed(3) ?? '—'}  L_CAP ${p.cap?.toFixed(3) ?? '—'} (${data.probe.length} items)`);
    };
    const run = new StepHistory<StageEvent>('minigpt5');
    let last = { text: 0, ldm: null as number | null, cap: null as number | null, tokens: 0, images: 0 };
    const opt = defaultOptimizer(steps, lr);
    probe(0);
    const res = await trainLoop<VokenBatch, { history: StageEvent[] }>({
      steps,
      params,
      freeze,
      trainSlices,
      groups,
      ...opt,
      batches,
      loss: (b) => {
        const l = vokenLosses({ model, mapper, ldm }, b, set.weights);
        const v = (t: tf.Scalar | null) => (t ? t.dataSync()[0] : null);
        last = { text: v(l.text) as number, ldm: v(l.ldm), cap: v(l.cap), tokens: b.B * b.T, images: b.imageRows.length };
        return l.total;
      },
      onStep: (e) => {
        const ev: StageEvent = { step: e.step, totalSteps: steps, loss: e.loss, ...last, lr: e.lr, gradNorm: e.gradNorm, ...run.timed(e) };
        run.events.push(ev);
        o.onProgress?.(ev);
      },
      run: {
        dir: o.runDir,
        fingerprint: { stage, arm, seed, steps, batchSize, lr, mapperLrScale, warmupSteps: opt.warmupSteps, weights: set.weights, vokenDropout: set.vokenDropout, mapper: mapper?.config ?? null, items: data.train.size, from: parts.names.from ?? null, window: DEFAULTS.window[stage] },
        every: o.checkpointEvery ?? DEFAULTS.checkpointEvery,
        content: () => snapshotFiles(s, mapper, adapter, set.vokens),
        record: () => ({ history: run.events }),
        restore: (dir, record, step) => {
          restoreSnapshot(s, mapper, adapter, dir, set.vokens);
          run.resume(record.history, step);
        },
      },
      signal: o.signal,
    });
    const done = res.stopped === 'done';
    if (done) probe(steps);
    const files: RunMetrics['files'] = done ? writeOutput(s, mapper, adapter, o.outDir, set.vokens) : {};
    const metrics = stageMetrics({ name, stage, arm, seed, set, parts, data, mapper, adapter, steps, batchSize, optimizer: opt, mapperLrScale, resumedFrom: run.resumedFrom, stopped: res.stopped, history: run.events, probes, files, t0 });
    if (done) atomicWriteFile(path.join(o.outDir, METRICS_FILE), `${JSON.stringify(metrics, null, 1)}\n`); // last: it names complete weights
    return { metrics, mapper, adapter };
  } catch (err) {
    adapter?.detach();
    if (stage === 1) mapper?.dispose();
    throw err;
  }
}

/** A snapshot's files: the voken rows (when they train), the mapper and the adapter, float32. */
function snapshotFiles(s: Session, mapper: FeatureMapper | null, adapter: LoRAHandle | null, vokens: boolean): Map<string, DirEntry> {
  const files = new Map<string, DirEntry>();
  if (vokens) {
    const ids = vokenIds(s.tokenizer);
    files.set(VOKENS_FILE, encodeSafetensors(vokenRows(s.model, s.tokenizer), { metadata: { format: VOKENS_FORMAT, vokenStart: String(ids[0]), numVokens: String(ids.length) } }));
  }
  if (mapper) files.set(MAPPER_FILE, encodeSafetensors(mapper.hostParams()));
  if (adapter) files.set(ADAPTERS_FILE, encodeSafetensors(copyToHost(adapter.parameters())));
  return files;
}

/** Restores a snapshot: every file read and checked before anything is assigned. */
function restoreSnapshot(s: Session, mapper: FeatureMapper | null, adapter: LoRAHandle | null, dir: string, vokens: boolean): void {
  const mapperHost = mapper ? readSafetensors(path.join(dir, MAPPER_FILE)).tensors : null;
  const adapterHost = adapter ? readSafetensors(path.join(dir, ADAPTERS_FILE)).tensors : null;
  if (mapper && mapperHost) checkHostFits(mapper.params, mapperHost, `${dir}/${MAPPER_FILE}`);
  if (adapter && adapterHost) checkHostFits(adapter.parameters(), adapterHost, `${dir}/${ADAPTERS_FILE}`, 'adapter parameter');
  if (vokens) loadVokenRows(s.model, s.tokenizer, path.join(dir, VOKENS_FILE)); // checks, then assigns
  if (mapper && mapperHost) mapper.assign(mapperHost, `${dir}/${MAPPER_FILE}`);
  if (adapter && adapterHost) assignFromHost(adapter.parameters(), adapterHost);
}

/** Writes the trained weights into outDir (a stale metrics.json removed first: it must not describe new weights). */
function writeOutput(s: Session, mapper: FeatureMapper | null, adapter: LoRAHandle | null, outDir: string, vokens: boolean): RunMetrics['files'] {
  fs.mkdirSync(outDir, { recursive: true });
  fs.rmSync(path.join(outDir, METRICS_FILE), { force: true });
  const files: RunMetrics['files'] = {};
  if (vokens) {
    saveVokenRows(s.model, s.tokenizer, path.join(outDir, VOKENS_FILE));
    files.vokens = VOKENS_FILE;
  }
  if (mapper) {
    mapper.save(path.join(outDir, MAPPER_DIR));
    files.mapper = MAPPER_DIR;
  }
  if (adapter) {
    savePeftAdapter(adapter, path.join(outDir, ADAPTER_DIR));
    files.adapter = ADAPTER_DIR;
  }
  return files;
}
