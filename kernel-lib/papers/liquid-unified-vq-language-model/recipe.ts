/**
 * The recipe of the Liquid reproduction (Wu et al. 2024; citation.ts): the arms of plan.ts.
 *
 * `pretrainSize`: a size's text checkpoint, trained by the project's text recipe (recipes/text-moe-small.ts
 * trainTextLm: Brown train documents, AdamW, warmup + cosine) and evaluated on held-out Brown against the
 * interpolated bigram, as text-moe-small is.
 *
 * `trainContinuation`: a size continued from its text checkpoint with one mixture. The vocabulary is
 * unified first, as Liquid's code does: the VQ codes (and <boi> <eoi> <img>) appended to the text model's,
 * then <unconditional>, every new embedding row and head column at the mean of the old ones (the 'mean'
 * strategy of model/vocab-extend.ts; every old weight unchanged). Then plain next-token training on the
 * mixture's rows with the loss masks of batches.ts, AdamW at lr 1e-3, warmup + cosine to 1e-4. At each of
 * the plan's evaluation steps the weights are saved (float16: what would ship) into checkpoints/step-N; after
 * training each is reloaded and scored on the held-out material (evaluate.ts) into eval/step-N.json.
 *
 * Output directory: metrics.json (run-metrics.ts), checkpoints/, eval/. The run directory resumes an
 * interrupted run (training from its last snapshot; evaluation at the first checkpoint without its file).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Session } from '../../session';
import { liquidPools } from '../../data/liquid-pools';
import { countNonEmbeddingParams, countParams } from '../../model/params';
import { atomicWriteFile } from '../../checkpoint/files';
import type { TrainEvent } from '../../train/trainer';
import { defaultOptimizer } from '../../train/schedule';
import { brownStreams, thinCurve, trainTextLm } from '../../recipes/text-moe-small';
import { backendBrief, optimizerRecord, RecipeStep, stepTimes, wallTimes } from '../recipe-metrics';
import { CAPTION_DROPOUT_RATE } from './rows';
import { CodeCache, liquidBatches } from './batches';
import { trainFlopsPerToken } from './budget';
import { CONTINUE, EVAL, evalSteps, PlanArm, PretrainArm, PRETRAIN } from './plan';
import { heldOutSet } from './heldout';
import { scoreCheckpoint } from './evaluate';
import type { LiquidTools } from './tools';
import { checkpointName, checkRunMetrics, EVAL_FILE, evalName, EvalFile, METRICS_FILE, Probe, readEvalFile, readRunMetrics, RunMetrics } from './run-metrics';
import { checkShape } from '../shape';

/** Where a run reads and writes, and what it reports with (the CLI's runRecipe gives these). */
export interface RunPlaces {
  outDir: string;
  runDir: string;
  onProgress?: (e: TrainEvent) => void;
  signal?: AbortSignal;
  log?: (s: string) => void;
}

/** The run's name: `<arm>-seed<k>` (text pretraining: `text-<size>`, one per size). */
export const runName = (arm: string, seed: number): string => (arm.startsWith('text-') ? arm : `${arm}-seed${seed}`);

const PAPER = 'Liquid: Language Models are Scalable and Unified Multi-modal Generators, workbench scale';

/** Trains a size's text checkpoint into outDir (see the file comment); `steps` overrides the plan's (quick runs). */
export async function pretrainSize(arm: PretrainArm, tools: LiquidTools, o: RunPlaces & { steps?: number; evalTokens?: number }): Promise<Record<string, unknown>> {
  if (arm.shipped) throw new Error(`${arm.name} is ${arm.shipped}, which ships: nothing to train`);
  return trainTextLm({
    preset: arm.size,
    name: arm.name,
    config: tools.configFor?.(arm.size),
    tokenizer: tools.textTokenizer,
    brown: { store: tools.store, ...tools.brown },
    outDir: o.outDir,
    runDir: o.runDir,
    steps: o.steps ?? arm.steps,
    batchSize: PRETRAIN.batchSize,
    seqLen: PRETRAIN.seqLen,
    lr: PRETRAIN.lr,
    evalTokens: o.evalTokens,
    onProgress: o.onProgress,
    signal: o.signal,
    log: o.log,
  });
}

/** A text session with Liquid's unified vocabulary (see the file comment); the text session is left as it is. */
export function unifiedSession(text: Session, codec: { numCodes: number; grid: { height: number; width: number } }): Session {
  if (text.tokenizer.hasImages) throw new Error(`liquid: ${text.source} already has an image vocabulary; continue from a text-only checkpoint`);
  const mm = text.extendWithImages({ numImageCodes: codec.numCodes, grid: codec.grid, numVokens: 0, init: 'mean' });
  try {
    return mm.withUnconditional({ init: 'mean' });
  } finally {
    mm.dispose();
  }
}

/** Options of a continuation beyond its places: overrides of the plan (tests and quick runs). */
export interface ContinueOptions extends RunPlaces {
  seed: number;
  /** Steps instead of the plan's (the budget then differs from the plan's; metrics record what ran). */
  steps?: number;
  lr?: number;
  checkpointEvery?: number;
  evalPoints?: number;
}

/** Trains one continuation arm and evaluates its checkpoints (see the file comment); returns its metrics. */
export async function trainContinuation(arm: PlanArm, tools: LiquidTools, o: ContinueOptions): Promise<RunMetrics> {
  const t0 = Date.now();
  const log = o.log ?? ((x: string) => process.stderr.write(x + '\n'));
  const name = runName(arm.name, o.seed);
  const steps = o.steps ?? arm.steps;
  const lr = o.lr ?? CONTINUE.lr;
  const textDir = tools.textDir(arm.size);
  if (!fs.existsSync(path.join(textDir, 'config.json'))) {
    throw new Error(`the text checkpoint of ${arm.size} is missing (${textDir}); train it first: npm run train:liquid -- --arm text-${arm.size}`);
  }
  // a fresh run (no snapshot to resume) must not leave another run's checkpoints, scores or metrics in outDir
  if (!fs.existsSync(path.join(o.runDir, 'trainer_state.json'))) {
    for (const f of ['checkpoints', 'eval', METRICS_FILE]) fs.rmSync(path.join(o.outDir, f), { recursive: true, force: true });
  }
  const text = await Session.load(textDir);
  const s = unifiedSession(text, tools.codec);
  const textVocab = text.config.vocabSize;
  text.dispose();
  try {
    const tok = s.tokenizer;
    const streams = await brownStreams(tok, { store: tools.store, ...tools.brown });
    const pools = liquidPools(tools.store, { split: 'train' });
    const batches = liquidBatches(tok, pools, streams.train, new CodeCache(tools.codec.encode), { ratios: arm.ratios, batchSize: arm.batchSize, seqLen: arm.seqLen, seed: o.seed });
    const at = evalSteps(steps, o.evalPoints ?? CONTINUE.evalPoints);
    const opt = defaultOptimizer(steps, lr);
    const timed: RecipeStep[] = [];
    let tokens = 0;
    let last = { wall: performance.now(), cpu: process.cpuUsage() };
    log(`[${name}] ${arm.description}: ${steps} steps of ${arm.batchSize} rows (${Object.entries(arm.rowsPerBatch).map(([k, v]) => `${k} ${v}`).join(', ')}), evaluated at steps ${at.join(', ')}`);
    const r = await s.train({
      steps,
      batches: (i) => {
        const b = batches(i);
        tokens = b.stats.tokens;
        return b.batch;
      },
      lr: opt.lr,
      minLr: opt.minLr,
      warmupSteps: opt.warmupSteps,
      seed: o.seed,
      runDir: o.runDir,
      checkpointEvery: o.checkpointEvery ?? CONTINUE.checkpointEvery,
      signal: o.signal,
      onStep: (e) => {
        const now = { wall: performance.now(), cpu: process.cpuUsage() };
        const cpuMs = (now.cpu.user - last.cpu.user + now.cpu.system - last.cpu.system) / 1000;
        timed.push({ step: e.step, totalSteps: e.totalSteps, loss: e.loss, lr: e.lr, gradNorm: e.gradNorm, stepMs: now.wall - last.wall, stepCpuMs: cpuMs, elapsedMs: e.elapsedMs, tokens });
        // the weights after this step's update, as they would ship (the evaluation reads them back)
        if (at.includes(e.step)) s.save(path.join(o.outDir, checkpointName(e.step)), { dtype: 'float16', extra: { recipe: name, train_step: e.step } });
        o.onProgress?.(e);
        last = { wall: performance.now(), cpu: process.cpuUsage() };
      },
    });
    const previous = r.resumedFrom === steps ? tryReadMetrics(o.outDir) : null;
    const textRows = arm.rowsPerBatch.text;
    const metrics: RunMetrics = previous ?? {
      name,
      paper: PAPER,
      arm: arm.name,
      size: arm.size,
      group: arm.group,
      seed: o.seed,
      base: path.basename(textDir),
      vocabulary: { total: tok.vocabSize, textModel: textVocab, imageCodes: tok.numImageCodes, init: 'mean' },
      params: { total: countParams(s.config), nonEmbedding: countNonEmbeddingParams(s.config) },
      mixture: { ratios: arm.ratios, rowsPerBatch: arm.rowsPerBatch, batchSize: arm.batchSize, seqLen: arm.seqLen, captionDropout: CAPTION_DROPOUT_RATE },
      budget: { textTokens: steps * textRows * arm.seqLen, totalTokens: steps * arm.batchSize * arm.seqLen, trainFlopsPerToken: trainFlopsPerToken(s.config, arm.seqLen) },
      evalSteps: at,
      optimizer: optimizerRecord(opt, arm.batchSize),
      steps,
      resumedFrom: r.resumedFrom,
      stopped: r.stopped,
      lossCurve: thinCurve(r.history),
      stepTime: stepTimes(timed, r.resumedFrom),
      probes: [],
      files: { checkpoints: at.filter((k) => k <= (r.history.at(-1)?.step ?? 0)).map(checkpointName) },
      backend: backendBrief(s.device),
      ...wallTimes(r.history.at(-1)?.elapsedMs ?? 0, t0),
    };
    if (r.stopped === 'aborted') return metrics;
    writeMetrics(o.outDir, metrics);
    const done = await evaluateRun(o.outDir, metrics, tools, { signal: o.signal, log, brownTest: streams.test });
    if (done) writeMetrics(o.outDir, { ...metrics, probes: done, ...wallTimes(metrics.train_wall_time_s * 1000, t0) });
    return readRunMetrics(o.outDir);
  } finally {
    s.dispose();
  }
}

function tryReadMetrics(dir: string): RunMetrics | null {
  try {
    return readRunMetrics(dir);
  } catch {
    return null;
  }
}

function writeMetrics(dir: string, m: RunMetrics): void {
  fs.mkdirSync(dir, { recursive: true });
  atomicWriteFile(path.join(dir, METRICS_FILE), `${JSON.stringify(checkRunMetrics(m, 'liquid metrics'), null, 1)}\n`);
}

const finiteMean = (xs: readonly (number | null)[]): number | null => {
  const f = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  return f.length === 0 ? null : Number((f.reduce((a, b) => a + b, 0) / f.length).toFixed(4));
};

/** The summary of an evaluation file. */
export function probeOf(e: EvalFile): Probe {
  return {
    step: e.step,
    brownNll: finiteMean(e.brown.nll) as number,
    imageNll: e.image ? finiteMean(e.image.nll) : null,
    imageAccuracy: e.image ? finiteMean(e.image.accuracy) : null,
    captionNll: e.caption ? finiteMean(e.caption.nll) : null,
    questionAccuracy: e.questions ? finiteMean(e.questions.correct) : null,
  };
}

/**
 * Scores every evaluation checkpoint of a trained run that has no eval file yet (reloading its float16
 * weights); returns the probes of all, or null when the signal stopped it (the same call continues).
 * `brownTest` is the Brown test stream when the caller has it (else it is encoded here).
 */
export async function evaluateRun(outDir: string, m: RunMetrics, tools: LiquidTools, o: { signal?: AbortSignal; log?: (s: string) => void; brownTest?: Int32Array } = {}): Promise<Probe[] | null> {
  const log = o.log ?? ((x: string) => process.stderr.write(x + '\n'));
  const todo = m.evalSteps.filter((k) => !fs.existsSync(path.join(outDir, evalName(k))));
  if (todo.length > 0) {
    const first = await Session.load(path.join(outDir, checkpointName(todo[0])));
    const tok = first.tokenizer;
    first.dispose();
    const brownTest = o.brownTest ?? (await brownStreams(tok, { store: tools.store, ...tools.brown })).test;
    const held = heldOutSet(tools.store, tok, tools.codec.encode, brownTest, { split: 'test', sizes: tools.heldOutSizes });
    const textOnly = m.mixture.rowsPerBatch.text === m.mixture.batchSize;
    for (const k of todo) {
      if (o.signal?.aborted) return null;
      const s = await Session.load(path.join(outDir, checkpointName(k)));
      try {
        const t0 = Date.now();
        const sc = await scoreCheckpoint(s, held, { decode: tools.codec.decode, clip: tools.clip, checker: tools.checker }, { measures: textOnly ? 'text' : k === m.steps ? 'all' : 'curve' });
        const file: EvalFile = {
          arm: m.arm,
          size: m.size,
          seed: m.seed,
          step: k,
          split: held.split,
          tokens: { text: k * m.mixture.rowsPerBatch.text * m.mixture.seqLen, total: k * m.mixture.batchSize * m.mixture.seqLen },
          flops: k * m.mixture.batchSize * m.mixture.seqLen * m.budget.trainFlopsPerToken,
          brown: sc.brown,
          ...(sc.image ? { image: { ids: held.t2i.ids, ...sc.image } } : {}),
          ...(sc.caption ? { caption: { ids: held.i2t.ids, ...sc.caption } } : {}),
          ...(sc.questions ? { questions: { ids: held.questions.ids, ...sc.questions } } : {}),
          ...(sc.drawn
            ? { drawn: { ids: held.drawn.map((d) => d.id), captions: sc.drawn.captions, codes: sc.drawn.codes, ...(sc.drawn.clipOwn ? { clipOwn: sc.drawn.clipOwn, clipShuffled: sc.drawn.clipShuffled as number[] } : {}), ...(sc.drawn.objectsRight ? { objectsRight: sc.drawn.objectsRight } : {}), cfgScale: EVAL.cfgScale, msPerImage: Number(sc.drawn.msPerImage.toFixed(1)) } }
            : {}),
          ...(sc.routing ? { routing: sc.routing } : {}),
        };
        const checked = checkShape(EVAL_FILE, JSON.parse(JSON.stringify(file)), `${m.name} ${evalName(k)}`);
        fs.mkdirSync(path.dirname(path.join(outDir, evalName(k))), { recursive: true });
        atomicWriteFile(path.join(outDir, evalName(k)), `${JSON.stringify(checked)}\n`);
        const p = probeOf(checked);
        const parts = [`Brown NLL ${p.brownNll.toFixed(3)}`];
        if (p.imageNll !== null) parts.push(`image-code NLL ${p.imageNll.toFixed(3)} (accuracy ${(p.imageAccuracy as number).toFixed(3)})`);
        if (p.captionNll !== null) parts.push(`caption NLL ${p.captionNll.toFixed(3)}`);
        if (p.questionAccuracy !== null) parts.push(`questions ${p.questionAccuracy.toFixed(3)}`);
        log(`[${m.name}] step ${k}: ${parts.join(', ')} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      } finally {
        s.dispose();
      }
    }
  }
  return m.evalSteps.map((k) => probeOf(readEvalFile(outDir, k)));
}
