/**
 * `train:liquid` end to end on a tiny model and a small data build, through the command's own code path
 * (cli/train-liquid.ts with a tiny environment): bad flags are named exactly before any work; a size's text
 * checkpoint trains and is measured against the bigram; a continuation unifies the vocabulary (new rows at
 * the mean of the old, old weights unchanged), trains, saves its evaluation checkpoints and scores them;
 * Ctrl-C stops it, the same command resumes it, and the resumed run ends with the uninterrupted run's
 * weights and scores; no tensor outlives a run.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { liquid, Session } from '../../kernel-lib';
import { CommandSpec, helpText } from '../../kernel-lib/cli/args';
import type { Io } from '../../kernel-lib/cli/io';
import { LiquidEnv, liquidOptions, trainLiquidCommand } from '../../kernel-lib/cli/train-liquid';
import { defaultMoEConfig } from '../../kernel-lib/model/config';
import { countParams } from '../../kernel-lib/model/params';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import { quiet, SMALL, tempDir } from '../data/helpers';
import { fakeCodec, tinyTools } from './liquid-helpers';

let dir: string;
let store: DataStore;
beforeAll(async () => {
  await useBackend();
  dir = tempDir('liquid-recipe');
  store = await ensureData({ ...SMALL, cacheDir: path.join(dir, 'data'), onProgress: quiet });
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** An Io that keeps what the command prints (`printed.out`, `printed.err`); `onErr` sees each stderr line as it comes. */
function capture(onErr?: (line: string) => void): Io & { printed: { out: string[]; err: string[] } } {
  const printed = { out: [] as string[], err: [] as string[] };
  return {
    printed,
    out: (l: string) => void printed.out.push(l),
    write: (t: string) => void printed.out.push(t),
    err: (l: string) => {
      printed.err.push(l);
      onErr?.(l);
    },
    help: (spec: CommandSpec) => {
      printed.out.push(helpText(spec));
      return 0;
    },
  };
}

/** The tiny environment: rows up to 160 tokens (the tiny tokenizer spells captions out), snapshots every step, 2 evaluation points. */
const envAt = (root: string): LiquidEnv => ({
  cacheRoot: root,
  tools: async () => tinyTools(store, root),
  plan: (t) => liquid.liquidPlan({ textTokens: t ?? 2000, seqLen: 160 }),
  checkpointEvery: 1,
  evalPoints: 2,
  calibrate: async () => ({ calibration: { config: defaultMoEConfig('tiny', { vocabSize: 4615 }), batchSize: 24, seqLen: 104, cpuMs: 835 }, textVocab: 4099, numCodes: 512 }),
});

test('bad flags are named exactly, before any work', async () => {
  const plan = (t?: number) => liquid.liquidPlan({ textTokens: t });
  const bad: Array<[string[], string]> = [
    [[], '--arm is required (npm run train:liquid -- --plan lists the arms)'],
    [['--arm', 'moe-h64-nope'], `--arm must be one of ${liquid.armNames(plan()).join(', ')}, got 'moe-h64-nope'`],
    [['--arm', 'text-moe-h128'], '--arm text-moe-h128 is the shipped text-moe-small (data/checkpoints/text-moe-small): nothing to train'],
    [['--arm', 'text-moe-h64', '--seed', '1'], '--seed is for the continuation arms, not text-moe-h64 (each size has one text checkpoint, trained as text-moe-small was)'],
    [['--arm', 'text-moe-h96', '--text-tokens', '5000'], '--text-tokens is for the continuation arms, not text-moe-h96 (each size has one text checkpoint, trained as text-moe-small was)'],
    [['--arm', 'moe-h64-mixed', '--steps', '0'], "--steps must be a positive integer, got '0'"],
    [['--arm', 'moe-h64-mixed', '--text-tokens', '1.5'], "--text-tokens must be a positive integer, got '1.5'"],
    [['--arm', 'moe-h64-mixed', '--seed', '-1'], "--seed must be an integer in [0, 2^32), got '-1'"],
    [['--arm', 'moe-h64-mixed', '--lr', '0'], "--lr must be a number > 0, got '0'"],
    [['--arm', 'moe-h64-mixed', '--rank', '8'], 'unknown option --rank'],
    [['--arm'], '--arm needs a value'],
    [['moe-h64-mixed'], "train liquid takes no arguments, got 'moe-h64-mixed'"],
  ];
  for (const [argv, message] of bad) expect(() => liquidOptions(argv, plan)).toThrow(message);
  // the command raises the same before it builds anything
  await expect(trainLiquidCommand(['--arm', 'moe-h64-mixed', '--steps', '0'], capture(), { tools: () => Promise.reject(new Error('no work')) })).rejects.toThrow("--steps must be a positive integer, got '0'");
  expect(liquidOptions(['--arm', 'moe-h96-gen', '--seed', '2'], plan)).toMatchObject({ arm: 'moe-h96-gen', seed: 2, plan: false });
  const help = capture();
  expect(await trainLiquidCommand(['--help'], help)).toBe(0);
  expect(help.printed.out[0]).toContain('usage: switchboard train liquid [options]');
  const p = capture();
  expect(await trainLiquidCommand(['--plan'], p, envAt(dir))).toBe(0);
  expect(p.printed.out.some((l) => /^moe-h64-add-t2i\s+2\s+/.test(l))).toBe(true);
  expect(p.printed.out.find((l) => l.startsWith('total: '))).toMatch(/^total: \d+\.\d\d CPU-hours on one core$/);
  expect(p.printed.out.at(-1)).toContain('estimated from 835 ms CPU per step of a tiny config');
});

test('the unified vocabulary: codes, <boi> <eoi> <img> and <unconditional> appended at the mean of the old rows; old weights unchanged', async () => {
  const text = await tinySession({ images: false, seed: 3 });
  const codec = fakeCodec();
  const s = liquid.unifiedSession(text, codec);
  const V = text.config.vocabSize;
  const H = text.config.hiddenSize;
  expect(s.tokenizer.numImageCodes).toBe(32);
  expect(s.tokenizer.unconditional).toBe(s.config.vocabSize - 1);
  expect(s.config.vocabSize).toBe(liquid.unifiedVocab(V, 32));
  const old = text.model.toHost();
  const grown = s.model.toHost();
  for (const [name, t] of old) if (name !== 'embed' && name !== 'lm_head') expect(Array.from(grown.get(name)!.data)).toEqual(Array.from(t.data));
  const embed = grown.get('embed')!.data;
  expect(Array.from(embed.subarray(0, V * H))).toEqual(Array.from(old.get('embed')!.data));
  const mean = Array.from({ length: H }, (_, h) => Array.from({ length: V }, (_, v) => old.get('embed')!.data[v * H + h]).reduce((a, b) => a + b, 0) / V);
  for (let r = V; r < V + 36; r++) {
    const row = Array.from(embed.subarray(r * H, (r + 1) * H));
    if (r < V + 35) row.forEach((x, h) => expect(x).toBeCloseTo(mean[h], 5)); // every image-vocabulary row is the text rows' mean
  }
  const lastRow = Array.from(embed.subarray((V + 35) * H, (V + 36) * H)); // <unconditional>: the mean of all rows before it
  const all = Array.from({ length: H }, (_, h) => Array.from({ length: V + 35 }, (_, v) => embed[v * H + h]).reduce((a, b) => a + b, 0) / (V + 35));
  lastRow.forEach((x, h) => expect(x).toBeCloseTo(all[h], 5));
  expect(() => liquid.unifiedSession(s, codec)).toThrow('already has an image vocabulary; continue from a text-only checkpoint');
  s.dispose();
  text.dispose();
});

test('text checkpoint, continuation, Ctrl-C and resume through the command: the resumed run ends with the uninterrupted run’s weights and scores', async () => {
  const rootA = path.join(dir, 'a');
  const rootB = path.join(dir, 'b');
  const n0 = tf.memory().numTensors;
  // 1. moe-h64's text checkpoint (shrunk by the environment), measured against the bigram
  const pre = capture();
  expect(await trainLiquidCommand(['--arm', 'text-moe-h64', '--steps', '3'], pre, envAt(rootA))).toBe(0);
  const textDir = path.join(rootA, 'liquid', 'text-moe-h64');
  const tm = JSON.parse(fs.readFileSync(path.join(textDir, 'metrics.json'), 'utf8'));
  expect(tm).toMatchObject({ name: 'text-moe-h64', evaluated: 'the saved float16 checkpoint, reloaded' });
  expect(tm.test_perplexity).toBeGreaterThan(1);
  expect(tm.bigram_test_perplexity).toBeGreaterThan(1);
  expect(JSON.parse(pre.printed.out.join('\n')).lossCurve.at(-1)[0]).toBe(3);
  fs.cpSync(textDir, path.join(rootB, 'liquid', 'text-moe-h64'), { recursive: true });
  expect(tf.memory().numTensors).toBe(n0);

  // 2. the uninterrupted continuation
  const argv = ['--arm', 'moe-h64-mixed', '--seed', '1', '--steps', '4'];
  const a = capture();
  expect(await trainLiquidCommand(argv, a, envAt(rootA))).toBe(0);
  const outA = path.join(rootA, 'liquid', 'moe-h64-mixed-seed1');
  const m = liquid.readRunMetrics(outA);
  expect(m).toMatchObject({ arm: 'moe-h64-mixed', size: 'moe-h64', seed: 1, steps: 4, stopped: 'done', evalSteps: [2, 4], base: 'text-moe-h64' });
  expect(m.mixture.rowsPerBatch).toEqual({ text: 8, t2i: 8, i2t: 4, i2a: 4 });
  expect(m.vocabulary).toEqual({ total: tm.config.vocabSize + 36, textModel: tm.config.vocabSize, imageCodes: 32, init: 'mean' });
  expect(m.probes.map((p) => p.step)).toEqual([2, 4]);
  expect(m.stepTime.steps).toBe(4);
  expect(m.stepTime.meanCpuMs).toBeGreaterThan(0);
  expect(a.printed.err.some((l) => l.startsWith('[moe-h64-mixed-seed1] step 1/4'))).toBe(true);
  expect(a.printed.err.some((l) => /^\[moe-h64-mixed-seed1\] step 4: Brown NLL \d/.test(l))).toBe(true);
  const mid = liquid.readEvalFile(outA, 2);
  const last = liquid.readEvalFile(outA, 4);
  expect(mid.image!.ids).toHaveLength(4);
  expect(mid.questions).toBeUndefined(); // captions, questions and routing at the last checkpoint only
  expect(last.questions!.correct).toHaveLength(4);
  expect(last.caption!.nll).toHaveLength(4);
  expect(last.routing!.exclusivity).toHaveLength(1);
  expect(last.drawn!.codes).toHaveLength(2);
  expect(last.drawn!.codes.every((c) => c.length === 16 && c.every((x) => x >= 0 && x < 32))).toBe(true);
  expect(last.drawn!.objectsRight).toHaveLength(2);
  expect(last.drawn!.clipOwn).toHaveLength(2);
  expect(last.drawn!.clipShuffled).toHaveLength(2);
  expect(last.drawn!.cfgScale).toBe(7);
  expect(last.tokens).toEqual({ text: 4 * 8 * 160, total: 4 * 24 * 160 });
  expect(liquid.readRun(outA)).toEqual({ metrics: m, evals: [mid, last] });
  expect(liquid.readTextRecord('moe-h64', textDir)).toEqual({
    size: 'moe-h64', checkpoint: 'text-moe-h64', tokens: 3 * 8 * 128, testPerplexity: tm.test_perplexity, bigramTestPerplexity: tm.bigram_test_perplexity,
    params: countParams(tm.config), nonEmbedding: m.params.nonEmbedding,
  });
  const back = await Session.load(path.join(outA, liquid.checkpointName(4)));
  expect(back.tokenizer.hasUnconditional).toBe(true);
  back.dispose();
  expect(tf.memory().numTensors).toBe(n0);

  // 3. the same run stopped by Ctrl-C after step 1, then the same command again
  const b = capture((l) => {
    if (l.startsWith('[moe-h64-mixed-seed1] step 1/4')) process.emit('SIGINT');
  });
  expect(await trainLiquidCommand(argv, b, envAt(rootB))).toBe(130);
  expect(b.printed.err.at(-1)).toBe('[moe-h64-mixed-seed1] interrupted after step 1; the same command resumes from the last snapshot (every 1 steps)');
  const outB = path.join(rootB, 'liquid', 'moe-h64-mixed-seed1');
  expect(fs.existsSync(path.join(outB, 'metrics.json'))).toBe(false);
  const again = capture();
  expect(await trainLiquidCommand(argv, again, envAt(rootB))).toBe(0);
  expect(liquid.readRunMetrics(outB).resumedFrom).toBe(1);
  const weights = (out: string) => fs.readFileSync(path.join(out, liquid.checkpointName(4), 'model.safetensors'));
  expect(weights(outB).equals(weights(outA))).toBe(true);
  const scores = (out: string) => {
    const e = liquid.readEvalFile(out, 4);
    return { ...e, drawn: { ...e.drawn, msPerImage: 0 } }; // a timing, not a score
  };
  expect(scores(outB)).toEqual(scores(outA));
  expect(tf.memory().numTensors).toBe(n0);
}, 120_000);
