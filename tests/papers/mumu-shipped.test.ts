/**
 * Shipping MUMU runs (papers/mumu-…/ship.ts, npm run ship:mumu) on tiny real runs (mumu-tiny-runs.ts: the
 * recipe and the scoring on a stand-in decoder): a round trip — metrics and held-out scores byte for byte, the
 * live runs' connector and decoder LoRA as float16 that load back onto the decoder and condition it as the
 * originals do (to float16 rounding), the shipped folder read as the runs folder is — and each refusal, by its
 * exact message, with nothing written. Also: a run trained but not scored is scored by trainRun without being
 * trained again.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { mumu } from '../../kernel-lib';
import { ensureData } from '../../kernel-lib/data/store';
import type { DataStore } from '../../kernel-lib/data/store';
import { readSafetensors } from '../../kernel-lib/checkpoint/safetensors';
import { roundToFloat16 } from '../../kernel-lib/checkpoint/float16';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';
import type { RGBImage } from '../../kernel-lib/image/types';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { tempDir } from '../data/helpers';
import { tinyDecoder, tinyRun, tinyTools, TINY_SIZES } from './mumu-tiny-runs';

let root: string;
let from: string;
let store: DataStore;
let tools: mumu.MumuTools;
const T4 = 'mumu-mumu-t4-seed0';
const CAPTION = 'mumu-caption-only-seed0';
const FULL = 'mumu-decoder-full-t64-seed0';
const cmd = (name: string) => mumu.placeRuns('/nowhere', mumu.wantedRuns()).find((p) => p.name === name)!.command;

beforeAll(async () => {
  await useBackend();
  root = tempDir('mumu-ship');
  store = await ensureData();
  tools = await tinyTools(store, tinyDecoder(root));
  await tinyRun(tools, root, { arm: 'mumu', tokensPerCrop: 4, seed: 0 });
  await tinyRun(tools, root, { arm: 'caption-only', tokensPerCrop: null, seed: 0 });
  await tinyRun(tools, root, { arm: 'decoder-full', tokensPerCrop: 64, seed: 0 });
  await tinyRun(tools, root, { arm: 'mumu', tokensPerCrop: 64, seed: 0 }, { stopAfter: 1 });
  await tinyRun(tools, root, { arm: 'no-augment', tokensPerCrop: 64, seed: 0 }, { unscored: true });
  from = path.join(root, mumu.RUNS_FOLDER);
}, 600_000);
afterAll(() => {
  tools?.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

test('the runs folder: finished, unfinished (with what is missing and the command) and untrained runs', () => {
  const places = mumu.placeRuns(from);
  const state = (n: string) => places.find((p) => p.name === n)!;
  expect([T4, CAPTION, FULL].map((n) => state(n).state)).toEqual(['finished', 'finished', 'finished']);
  const t64 = state('mumu-mumu-t64-seed0');
  expect(t64.state).toBe('unfinished');
  expect(t64.problem).toBe(`mumu-mumu-t64-seed0 is not finished: ${path.join(root, 'runs', 'mumu-mumu-t64-seed0')} holds its snapshots, ${t64.dir} is written when training ends; if it is still training, wait; if it was interrupted, run npm run train:mumu -- --arm mumu --tokens-per-crop 64 --seed 0 again to resume it`);
  const noAug = state('mumu-no-augment-t64-seed0');
  expect(noAug.problem).toBe(`mumu-no-augment-t64-seed0 is trained but not scored: ${noAug.dir} has no eval-heldout.json (the held-out prompts' scores); if it is being scored, wait; otherwise run npm run train:mumu -- --arm no-augment --tokens-per-crop 64 --seed 0 again to score it`);
  const t1 = state('mumu-mumu-t1-seed2');
  expect([t1.state, t1.problem]).toEqual(['missing', `mumu-mumu-t1-seed2 is not trained: ${t1.dir} does not exist (npm run train:mumu -- --arm mumu --tokens-per-crop 1 --seed 2)`]);
  expect(state(CAPTION).command).toBe('npm run train:mumu -- --arm caption-only --seed 0');
  expect(places.filter((p) => p.state === 'finished')).toHaveLength(3);
});

test('round trip: metrics and scores byte for byte, the live runs’ weights as float16 that condition the decoder as before', async () => {
  const to = path.join(root, 'ship', mumu.RUNS_FOLDER);
  const r = mumu.shipRuns({ from, to });
  expect(r.shipped.map((s) => s.run)).toEqual([T4, CAPTION, FULL]);
  expect(r.skipped.map((s) => s.run)).toContain('mumu-mumu-t64-seed0');
  expect(r.skipped.find((s) => s.run === 'mumu-no-augment-t64-seed0')!.reason).toContain('is trained but not scored');
  for (const run of [T4, CAPTION, FULL]) {
    for (const f of ['metrics.json', mumu.SCORES_FILE]) expect(fs.readFileSync(path.join(to, run, f)).equals(fs.readFileSync(path.join(from, run, f)))).toBe(true);
    const rec = JSON.parse(fs.readFileSync(path.join(to, run, mumu.SHIPPED_FILE), 'utf8'));
    expect(rec).toEqual(r.shipped.find((s) => s.run === run));
  }
  // decoder-full's weights (a whole denoiser) do not ship; the live runs' do, float16, the originals rounded
  expect(r.shipped.find((s) => s.run === FULL)!.files).toEqual(['metrics.json', mumu.SCORES_FILE]);
  expect(fs.readdirSync(path.join(to, FULL)).sort()).toEqual(['eval-heldout.json', 'metrics.json', 'shipped.json']);
  expect(r.shipped.find((s) => s.run === T4)!.files).toEqual(['metrics.json', mumu.SCORES_FILE, 'connector/config.json', 'connector/connector.safetensors', 'decoder-lora/decoder-lora.json', 'decoder-lora/decoder-lora.safetensors']);
  let bytes = 0;
  for (const [run, file] of [[T4, 'connector/connector.safetensors'], [T4, 'decoder-lora/decoder-lora.safetensors'], [CAPTION, 'decoder-lora/decoder-lora.safetensors']]) {
    const a = readSafetensors(path.join(from, run, file)).tensors;
    const b = readSafetensors(path.join(to, run, file)).tensors;
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [n, t] of b) {
      expect(t.dtype).toBe('F16');
      expect(Array.from(t.data)).toEqual(Array.from(roundToFloat16(a.get(n)!.data)));
    }
    bytes += fs.statSync(path.join(to, run, file)).size;
  }
  expect(r.weightBytes).toBe(bytes);
  expect(fs.existsSync(path.join(to, CAPTION, 'connector'))).toBe(false);
  // the shipped folder reads as the runs folder does
  const shipped = mumu.placeRuns(to);
  expect(shipped.filter((p) => p.state === 'finished').map((p) => p.name)).toEqual([T4, CAPTION, FULL]);
  expect(mumu.readFinished(shipped)).toEqual(mumu.readFinished(mumu.placeRuns(from)));
  expect(mumu.liveRuns(shipped).map((p) => p.name)).toEqual([T4, CAPTION]);
  // the shipped weights condition the decoder as the originals do, to float16 rounding
  const items = mumu.codeExamples(mumu.heldOutSets(store, TINY_SIZES).sameSource.slice(0, 2), tools.encode);
  clearAttentionCache(); // masks kept on purpose between calls
  const before = tf.memory().numTensors;
  const originals: RGBImage[] = [];
  for (const run of [T4, CAPTION]) {
    const cond = async (dir: string) => {
      const m = await mumu.loadMumu(dir, { baseDir: tools.baseDir, ldmDir: tools.ldmDir });
      try {
        const c = mumu.conditionItems(m, items);
        const out = { seq: c.seq.dataSync().slice(), shape: c.seq.shape };
        tf.dispose([c.seq, c.mask]);
        const img = await mumu.drawItems(m, items.slice(0, 1), { steps: 2 });
        return { ...out, img: img[0] };
      } finally {
        m.dispose();
      }
    };
    const a = await cond(path.join(from, run));
    originals.push(a.img);
    const b = await cond(path.join(to, run));
    expect(b.shape).toEqual(a.shape);
    expect(maxAbsDiff(a.seq, b.seq)).toBeLessThan(0.02);
    expect(b.img.height).toBe(32);
  }
  // drawByRuns (the notebook's grids): each run in turn, the same images as drawItems, progress after each run
  const seen: Array<[number, number]> = [];
  const drawn = await mumu.drawByRuns([T4, CAPTION].map((run) => path.join(from, run)), items.slice(0, 1), { baseDir: tools.baseDir, ldmDir: tools.ldmDir, steps: 2, onProgress: (d, n) => void seen.push([d, n]) });
  expect(seen).toEqual([[1, 2], [2, 2]]);
  expect(drawn.map((d) => Array.from(d[0].pixels))).toEqual(originals.map((img) => Array.from(img.pixels)));
  clearAttentionCache();
  expect(tf.memory().numTensors).toBe(before);
  // shipping again replaces the runs in place: the budget does not count them twice
  expect(mumu.shipRuns({ from, to, runs: [T4] }).weightBytes).toBe(bytes);
}, 300_000);

test('refusals, by exact message, and nothing written', () => {
  const to = path.join(root, 'refused');
  const missing = path.join(root, 'no-such-runs');
  expect(() => mumu.shipRuns({ from: missing, to })).toThrow(`mumu.shipRuns: ${missing} does not exist (the runs' folder: npm run train:mumu writes .cache/mumu/<run>/)`);
  expect(() => mumu.shipRuns({ from, to, runs: ['mumu-mumu-t8-seed0'] })).toThrow(`mumu.shipRuns: unknown run 'mumu-mumu-t8-seed0'; runs are ${mumu.wantedRuns().map((w) => w.name).join(', ')}`);
  const dir = (n: string) => path.join(from, n);
  expect(() => mumu.shipRuns({ from, to, runs: [T4, 'mumu-mumu-t64-seed0'] })).toThrow(
    `mumu.shipRuns: mumu-mumu-t64-seed0 is not finished: ${path.join(root, 'runs', 'mumu-mumu-t64-seed0')} holds its snapshots, ${dir('mumu-mumu-t64-seed0')} is written when training ends; if it is still training, wait; if it was interrupted, run ${cmd('mumu-mumu-t64-seed0')} again to resume it`,
  );
  expect(() => mumu.shipRuns({ from, to, runs: ['mumu-no-augment-t64-seed0'] })).toThrow(
    `mumu.shipRuns: mumu-no-augment-t64-seed0 is trained but not scored: ${dir('mumu-no-augment-t64-seed0')} has no eval-heldout.json (the held-out prompts' scores); if it is being scored, wait; otherwise run ${cmd('mumu-no-augment-t64-seed0')} again to score it`,
  );
  expect(() => mumu.shipRuns({ from, to, runs: ['mumu-mumu-t16-seed1'] })).toThrow(`mumu.shipRuns: mumu-mumu-t16-seed1 is not trained: ${dir('mumu-mumu-t16-seed1')} does not exist (npm run train:mumu -- --arm mumu --tokens-per-crop 16 --seed 1)`);
  // a live run whose weights are gone
  const broken = path.join(root, 'broken');
  fs.cpSync(dir(CAPTION), path.join(broken, CAPTION), { recursive: true });
  fs.rmSync(path.join(broken, CAPTION, 'decoder-lora'), { recursive: true });
  expect(() => mumu.shipRuns({ from: broken, to })).toThrow(
    `mumu.shipRuns: ${CAPTION}'s decoder-lora/ is missing or incomplete (${path.join(broken, CAPTION, 'decoder-lora')}); train it again with npm run train:mumu -- --arm caption-only --seed 0 --fresh`,
  );
  // over the budget: every part named
  const kb = (run: string, f: string[]) => f.reduce((n, x) => n + fs.statSync(path.join(root, 'ship', mumu.RUNS_FOLDER, run, x)).size, 0);
  const t4 = kb(T4, ['connector/connector.safetensors', 'decoder-lora/decoder-lora.safetensors']);
  const cap = kb(CAPTION, ['decoder-lora/decoder-lora.safetensors']);
  const k = (b: number) => `${(b / 1024).toFixed(1)} KB`;
  expect(() => mumu.shipRuns({ from, to, maxWeightBytes: 1024 })).toThrow(
    `mumu.shipRuns: the MUMU weights would take ${k(t4 + cap)} (${T4} ${k(t4)}, ${CAPTION} ${k(cap)}), over the 1.0 KB they may take together; nothing was shipped`,
  );
  expect(fs.existsSync(to)).toBe(false);
});

test('a run trained but not scored is scored without training it again', async () => {
  const d = path.join(from, 'mumu-no-augment-t64-seed0');
  const metrics = fs.readFileSync(path.join(d, 'metrics.json'));
  const lines: string[] = [];
  const r = await mumu.trainRun({ arm: 'no-augment', tokensPerCrop: 64, seed: 0 }, tools, { steps: 2, batchSize: 2, outDir: d, runDir: path.join(root, 'runs', 'x-never-used'), log: (s) => lines.push(s) });
  expect(lines[0]).toBe(`[mumu-no-augment-t64-seed0] already trained (${d}); scoring it`);
  expect(fs.existsSync(path.join(root, 'runs', 'x-never-used'))).toBe(false);
  expect(fs.readFileSync(path.join(d, 'metrics.json')).equals(metrics)).toBe(true);
  expect(r.scores!.sameSource.ids).toEqual(mumu.heldOutSets(store, TINY_SIZES).sameSource.map((e) => e.id));
  expect(mumu.readHeldOutScores(d)).toEqual(r.scores);
  expect(mumu.placeRuns(from).find((p) => p.name === 'mumu-no-augment-t64-seed0')!.state).toBe('finished');
}, 300_000);

test('full mode’s trainMissing resumes an interrupted run from its snapshot and scores it; finished runs are left alone', async () => {
  const wanted = mumu.wantedRuns([0]).filter((w) => ['mumu-mumu-t64-seed0', T4].includes(w.name));
  const metricsT4 = fs.readFileSync(path.join(from, T4, 'metrics.json'));
  const started: string[] = [];
  const places = await mumu.trainMissing(mumu.placeRuns(from, wanted), from, tools, {
    runDirOf: (run) => mumu.runDirIn(from, run), steps: 2, batchSize: 2, checkpointEvery: 1, probeItems: 2, log: () => {}, onRun: (p) => started.push(p.name),
  });
  expect(started).toEqual(['mumu-mumu-t64-seed0']);
  expect(places.map((p) => p.state)).toEqual(['finished', 'finished']);
  expect(mumu.readRunMetrics(path.join(from, 'mumu-mumu-t64-seed0')).resumedFrom).toBe(1);
  expect(fs.readFileSync(path.join(from, T4, 'metrics.json')).equals(metricsT4)).toBe(true);
}, 300_000);
