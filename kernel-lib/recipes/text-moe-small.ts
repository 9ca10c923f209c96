/**
 * Recipe for the shipped `text-moe-small`: the "pre-trained text-only LLM" the paper notebooks extend.
 * A `small`-preset MoE (16 experts, top-4, as LLaMA-MoE 4/16) trained from scratch on the Brown corpus
 * (train documents) with the project tokenizer; evaluated on held-out Brown documents against an
 * interpolated bigram baseline scored on exactly the same predictions.
 *
 * `trainTextLm` is the same recipe for any preset (Liquid's size ladder pretrains each size with it, so
 * every text checkpoint is trained and measured as text-moe-small was); `trainTextMoeSmall` is it at
 * `small`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { datasetFromStore } from '../data';
import { ensureData } from '../data/store';
import type { DataStore } from '../data/store';
import { loadTextTokenizer } from '../data/text-tokenizer';
import { MultimodalTokenizer } from '../tokenizer';
import { Session } from '../session';
import type { MoEConfig, PresetName } from '../model/config';
import { tokenStream, windowSampler } from './lm-data';
import { modelPerplexity, BigramBaseline } from '../analysis/perplexity';
import type { TrainEvent } from '../train/trainer';

export interface RecipeOptions {
  /** Where the finished checkpoint goes. */
  outDir: string;
  /** Resumable run directory (optimizer state, partial checkpoints). */
  runDir: string;
  steps?: number;
  batchSize?: number;
  seqLen?: number;
  lr?: number;
  seed?: number;
  /** Cap on held-out tokens scored (for quick runs). */
  evalTokens?: number;
  onProgress?: (e: TrainEvent) => void;
  log?: (s: string) => void;
}

/** Where the Brown streams come from: a data store (default: the project's, built on first use), at most `maxDocs` documents per split. */
export interface BrownSource {
  store?: DataStore;
  maxDocs?: number;
}

/** Brown's train, val and test documents as `<bos> doc <eos>` token streams (tokenStream). */
export async function brownStreams(tok: MultimodalTokenizer, o: BrownSource = {}) {
  const store = o.store ?? (await ensureData());
  const enc = (split: 'train' | 'val' | 'test') => {
    const ds = datasetFromStore(store, 'brown', { split, unit: 'document' });
    const docs: number[][] = [];
    for (let i = 0; i < Math.min(ds.size, o.maxDocs ?? Infinity); i++) docs.push(tok.bpe.encode(ds.get(i).parts.map((p) => ('text' in p ? p.text : '')).join('')));
    return tokenStream(docs, tok.bos, tok.eos);
  };
  return { train: enc('train'), val: enc('val'), test: enc('test') };
}

/** Writes metrics.json beside a checkpoint (replacing an earlier one). */
export function writeMetrics(dir: string, metrics: Record<string, unknown>): void {
  fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify(metrics, null, 1) + '\n');
}

/** Loss curve thinned to at most `n` points [step, loss]. */
export function thinCurve(history: TrainEvent[], n = 200): [number, number][] {
  const every = Math.max(1, Math.ceil(history.length / n));
  return history.filter((_e, i) => i % every === 0 || i === history.length - 1).map((e) => [e.step, Number(e.lmLoss.toFixed(4))]);
}

/** A text language model's recipe: which preset, its name, and (tests) a tokenizer, config overrides and data. */
export interface TextLmOptions extends RecipeOptions {
  preset: PresetName;
  /** The checkpoint's name (metrics.json `name`, config.json's switchboard `recipe`). */
  name: string;
  /** Config fields over the preset's (tests shrink a preset with it). */
  config?: Partial<MoEConfig>;
  /** Default: the project tokenizer (data/tokenizer/tokenizer.json). */
  tokenizer?: MultimodalTokenizer;
  brown?: BrownSource;
  /** Stops within one step; the run directory resumes (nothing is written into outDir). */
  signal?: AbortSignal;
}

/** The defaults of text-moe-small's training, which every text checkpoint of the project trains with. */
export const TEXT_LM_DEFAULTS = { steps: 1200, batchSize: 8, seqLen: 128, lr: 2e-3, checkpointEvery: 50 } as const;

/**
 * Trains a text MoE from scratch on Brown (train documents) and evaluates the saved float16 checkpoint
 * (evaluateTextLm); returns the metrics, or `{ stopped: 'aborted', … }` when the signal stopped it.
 */
export async function trainTextLm(o: TextLmOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const t0 = Date.now();
  const tok = o.tokenizer ?? MultimodalTokenizer.createTextOnly(loadTextTokenizer());
  const streams = await brownStreams(tok, o.brown);
  log(`Brown tokens: train ${streams.train.length}, val ${streams.val.length}, test ${streams.test.length}`);
  const s = await Session.create(tok, { preset: o.preset, config: o.config, seed: o.seed ?? 0 });
  const steps = o.steps ?? TEXT_LM_DEFAULTS.steps;
  const batchSize = o.batchSize ?? TEXT_LM_DEFAULTS.batchSize;
  const seqLen = o.seqLen ?? TEXT_LM_DEFAULTS.seqLen;
  const lr = o.lr ?? TEXT_LM_DEFAULTS.lr;
  const r = await s.train({
    steps,
    batches: windowSampler(streams.train, { batchSize, seqLen, seed: o.seed ?? 0 }),
    lr,
    minLr: lr / 10,
    warmupSteps: Math.min(100, Math.floor(steps / 10)),
    runDir: o.runDir,
    checkpointEvery: TEXT_LM_DEFAULTS.checkpointEvery,
    onStep: o.onProgress,
    signal: o.signal,
  });
  const training = { steps, batchSize, seqLen, lr, minLr: lr / 10, tokensSeen: steps * batchSize * seqLen, resumedFrom: r.resumedFrom };
  if (r.stopped === 'aborted') {
    s.dispose();
    return { name: o.name, stopped: 'aborted', training, lossCurve: thinCurve(r.history) };
  }
  if (fs.existsSync(path.join(o.outDir, 'metrics.json'))) fs.rmSync(path.join(o.outDir, 'metrics.json'));
  s.save(o.outDir, { dtype: 'float16', extra: { recipe: o.name } });
  const metrics = {
    name: o.name,
    data: 'Brown corpus (train documents), project BPE tokenizer (data/tokenizer/tokenizer.json)',
    config: s.config,
    training,
    lossCurve: thinCurve(r.history),
    train_wall_time_s: (r.history.at(-1)?.elapsedMs ?? 0) / 1000,
    backend: s.device,
    date: new Date().toISOString(),
  };
  s.dispose();
  writeMetrics(o.outDir, metrics);
  const evald = await evaluateTextLm(o.outDir, { evalTokens: o.evalTokens, seqLen, log, brown: o.brown });
  return { ...evald, recipe_wall_time_s: (Date.now() - t0) / 1000 };
}

export async function trainTextMoeSmall(o: RecipeOptions): Promise<Record<string, unknown>> {
  return trainTextLm({ ...o, preset: 'small', name: 'text-moe-small' });
}

/** Tokens of Brown test scored for the quick re-measurement that tests compare with metrics.json. */
export const CHECK_TOKENS = 4096;

/**
 * Evaluates the SAVED checkpoint (the float16 weights that ship) on held-out Brown against the bigram
 * baseline, and merges the numbers into its metrics.json.
 */
export async function evaluateTextLm(dir: string, o: { evalTokens?: number; seqLen?: number; log?: (s: string) => void; brown?: BrownSource } = {}): Promise<Record<string, unknown>> {
  const log = o.log ?? ((x: string) => process.stderr.write(x + '\n'));
  const seqLen = o.seqLen ?? 128;
  const s = await Session.load(dir);
  const streams = await brownStreams(s.tokenizer, o.brown);
  log('evaluating on held-out Brown …');
  const evalTokens = o.evalTokens ?? Infinity;
  const val = modelPerplexity(s.model, streams.val, { seqLen, maxTokens: evalTokens });
  const test = modelPerplexity(s.model, streams.test, { seqLen, maxTokens: evalTokens });
  const check = modelPerplexity(s.model, streams.test, { seqLen, maxTokens: CHECK_TOKENS });
  const bigram = new BigramBaseline(streams.train, s.tokenizer.vocabSize);
  const lambda = bigram.tune(streams.val, seqLen);
  const bigramTest = bigram.perplexity(streams.test, seqLen, evalTokens);
  const old = fs.existsSync(path.join(dir, 'metrics.json')) ? (JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8')) as Record<string, unknown>) : {};
  const metrics = {
    ...old,
    evaluated: 'the saved float16 checkpoint, reloaded',
    val_perplexity: val.perplexity,
    test_perplexity: test.perplexity,
    test_tokens: test.tokens,
    bigram_test_perplexity: bigramTest.perplexity,
    bigram_lambda: lambda,
    beats_bigram: test.perplexity < bigramTest.perplexity,
    check: { brown_test_first_tokens: CHECK_TOKENS, seqLen, perplexity: check.perplexity },
  };
  writeMetrics(dir, metrics);
  log(`test perplexity ${test.perplexity.toFixed(1)} vs bigram ${bigramTest.perplexity.toFixed(1)} (${dir})`);
  s.dispose();
  return metrics;
}

/** evaluateTextLm of text-moe-small (the name `switchboard train text-moe-small --eval-only` uses). */
export const evaluateTextMoeSmall = (dir: string, o: { evalTokens?: number; seqLen?: number; log?: (s: string) => void } = {}) => evaluateTextLm(dir, o);
