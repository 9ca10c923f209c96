/**
 * Shipping Liquid runs (papers/liquid-…/shipped.ts, run-places.ts) and what notebook 03 measures live on a
 * shipped checkpoint (live.ts), on tiny real runs of the recipe (liquid-tiny-runs.ts): the plan's live
 * checkpoints fit the 40 MB budget by their configs; a finished run ships its metrics and held-out scores
 * byte for byte, the live run also its final float16 checkpoint, and everything reads back as it was; runs
 * not trained, still training, being evaluated, or with a broken checkpoint are refused naming the run and
 * what is missing; over budget nothing is written; the vocabulary view and the routing by size agree with
 * independent computations and leave no tensor behind.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { liquid, Session } from '../../kernel-lib';
import { encodeSafetensors, readSafetensors } from '../../kernel-lib/checkpoint';
import { countParams } from '../../kernel-lib/model/params';
import { tokenScores } from '../../kernel-lib/analysis/token-scores';
import { exclusivityByDepth } from '../../kernel-lib/analysis/routing-by-modality';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { useBackend } from '../helpers/backend';
import { quiet, SMALL, tempDir } from '../data/helpers';
import { tinyPlan, tinyProjectTools, tinyRun, tinyText } from './liquid-tiny-runs';

let dir: string;
let store: DataStore;
const from = () => path.join(dir, 'liquid');
const to = () => path.join(dir, 'ship', 'liquid');
const plan = tinyPlan();
const ship = (o: Partial<liquid.ShipOptions> = {}) => liquid.shipRuns({ from: from(), to: to(), plan, ...o });
const cmd = (arm: string, seed = 0) => `npm run train:liquid -- --arm ${arm} --seed ${seed}`;
const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
const bytes = (f: string) => fs.readFileSync(f);
/** A copy of run `name` under a second runs folder, to break without touching the real one. */
function copyRun(name: string, into: string): string {
  const d = path.join(into, name);
  fs.cpSync(path.join(from(), name), d, { recursive: true });
  return d;
}

beforeAll(async () => {
  await useBackend();
  dir = tempDir('liquid-ship');
  store = await ensureData({ ...SMALL, cacheDir: path.join(dir, 'data'), onProgress: quiet });
  const tools = tinyProjectTools(store, dir);
  try {
    await tinyText(tools, dir, 'moe-h64');
    await tinyRun(tools, dir, 'moe-h64-text');
    await tinyRun(tools, dir, 'moe-h64-mixed');
    await tinyRun(tools, dir, 'moe-h64-mixed', 1, { stopAfter: 2 }); // interrupted after its first evaluation checkpoint
  } finally {
    tools.dispose();
  }
}, 600_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the plan’s live checkpoints (each size’s final mixed weights, float16) fit the 40 MB budget', async () => {
  const m = liquid.readRunMetrics(path.join(from(), 'moe-h64-mixed-seed0'));
  expect(m.vocabulary).toMatchObject({ textModel: 4099, imageCodes: 512, total: 4615 }); // the project's tokenizer and VQ-VAE
  const est = liquid.checkpointEstimate(liquid.liquidPlan(), { textVocab: m.vocabulary.textModel, numCodes: m.vocabulary.imageCodes });
  expect(est.map((e) => e.run)).toEqual(['moe-h64-mixed-seed0', 'moe-h96-mixed-seed0', 'moe-h128-mixed-seed0', 'moe-h192-mixed-seed0']);
  const total = est.reduce((s, e) => s + e.bytes, 0);
  expect(total).toBeLessThanOrEqual(liquid.SHIP_MAX_CHECKPOINT_BYTES);
  console.log(`live checkpoints at the plan's configs: ${est.map((e) => `${e.size} ${mb(e.bytes)}`).join(', ')}; total ${mb(total)} of ${mb(liquid.SHIP_MAX_CHECKPOINT_BYTES)}`);
  // the estimate's arithmetic on a real checkpoint: 2 bytes a weight, and the rest within the overhead it allows
  const ck = path.join(from(), 'moe-h64-mixed-seed0', liquid.checkpointName(m.steps));
  const s = await Session.load(ck);
  const params = countParams(s.config);
  s.dispose();
  expect(params).toBe(m.params.total);
  expect(fs.statSync(path.join(ck, 'model.safetensors')).size).toBeGreaterThan(2 * params);
  const rest = liquid.CHECKPOINT_FILES.reduce((n, f) => n + fs.statSync(path.join(ck, f)).size, 0) - 2 * params;
  expect(rest).toBeLessThanOrEqual(liquid.CHECKPOINT_OVERHEAD_BYTES);
});

test('round trip: finished runs ship byte for byte, the live run with its final float16 checkpoint; the rest are skipped with the reason', async () => {
  const n0 = tf.memory().numTensors;
  const r = ship();
  expect(r.shipped.map((x) => x.run)).toEqual(['text-moe-h64', 'moe-h64-text-seed0', 'moe-h64-mixed-seed0']);
  const skipped = new Map(r.skipped.map((x) => [x.run, x.reason]));
  expect(skipped.get('moe-h64-mixed-seed1')).toBe(
    `moe-h64-mixed-seed1 is not finished: ${path.join(from(), 'moe-h64-mixed-seed1')} has no metrics.json (written when training ends); if it is still training, wait; if it was interrupted, run ${cmd('moe-h64-mixed', 1)} again to resume it`,
  );
  expect(skipped.get('moe-h192-gen-seed0')).toBe(`moe-h192-gen-seed0 is not trained: ${path.join(from(), 'moe-h192-gen-seed0')} does not exist (${cmd('moe-h192-gen')})`);
  expect(skipped.get('text-moe-h96')).toBe(`text-moe-h96 is not trained: ${path.join(from(), 'text-moe-h96')} has no metrics.json (npm run train:liquid -- --arm text-moe-h96; a run still training writes it when it ends)`);
  expect(r.shipped.length + r.skipped.length).toBe(liquid.wantedRuns(plan).length);

  for (const run of ['moe-h64-text-seed0', 'moe-h64-mixed-seed0']) expect(liquid.readRun(path.join(to(), run))).toEqual(liquid.readRun(path.join(from(), run)));
  expect(bytes(path.join(to(), 'text-moe-h64', 'metrics.json')).equals(bytes(path.join(from(), 'text-moe-h64', 'metrics.json')))).toBe(true);
  expect(fs.readdirSync(path.join(to(), 'text-moe-h64')).sort()).toEqual(['metrics.json', 'shipped.json']);
  expect(fs.existsSync(path.join(to(), 'moe-h64-text-seed0', 'checkpoints'))).toBe(false);
  const m = liquid.readRunMetrics(path.join(to(), 'moe-h64-mixed-seed0'));
  const ck = liquid.checkpointName(m.steps);
  expect(fs.readdirSync(path.join(to(), 'moe-h64-mixed-seed0', 'checkpoints'))).toEqual([path.basename(ck)]); // the final one only
  for (const f of liquid.CHECKPOINT_FILES) expect(bytes(path.join(to(), 'moe-h64-mixed-seed0', ck, f)).equals(bytes(path.join(from(), 'moe-h64-mixed-seed0', ck, f)))).toBe(true);
  expect([...readSafetensors(path.join(to(), 'moe-h64-mixed-seed0', ck, 'model.safetensors')).tensors.values()].every((t) => t.dtype === 'F16')).toBe(true);
  const ckBytes = liquid.CHECKPOINT_FILES.reduce((n, f) => n + fs.statSync(path.join(to(), 'moe-h64-mixed-seed0', ck, f)).size, 0);
  const rec = JSON.parse(fs.readFileSync(path.join(to(), 'moe-h64-mixed-seed0', liquid.SHIPPED_FILE), 'utf8')) as liquid.ShipRecord;
  expect(rec).toEqual({ run: 'moe-h64-mixed-seed0', files: ['metrics.json', ...m.evalSteps.map(liquid.evalName), ...liquid.CHECKPOINT_FILES.map((f) => `${ck}/${f}`)], checkpoint: { step: m.steps, dir: ck, bytes: ckBytes } });
  expect(r.checkpointBytes).toBe(ckBytes);

  // the shipped folder reads as the runs folder does
  const places = liquid.placeRuns(to(), liquid.wantedRuns(plan));
  expect(places.filter((p) => p.state === 'finished').map((p) => p.name)).toEqual(['text-moe-h64', 'moe-h64-text-seed0', 'moe-h64-mixed-seed0']);
  const read = liquid.readFinished(to(), places);
  expect(read.runs.map((x) => x.metrics.name)).toEqual(['moe-h64-text-seed0', 'moe-h64-mixed-seed0']);
  expect(read.text.map((t) => [t.size, t.checkpoint])).toEqual([['moe-h64', 'text-moe-h64'], ['moe-h128', 'text-moe-small']]); // moe-h128's ships as text-moe-small
  const live = liquid.liveCheckpoints(places, plan);
  expect(live).toEqual([{ size: 'moe-h64', run: 'moe-h64-mixed-seed0', step: m.steps, dir: path.join(to(), 'moe-h64-mixed-seed0', ck), nonEmbedding: m.params.nonEmbedding }]);
  const s = await Session.load(live[0].dir);
  expect(s.tokenizer.hasUnconditional).toBe(true);
  s.dispose();
  // shipping again replaces the directories with the same bytes
  expect(ship({ runs: ['moe-h64-mixed-seed0'] }).shipped).toEqual([rec]);
  expect(tf.memory().numTensors).toBe(n0);
});

test('refusals name the run and what is missing, and write nothing', () => {
  const bad = path.join(dir, 'bad', 'liquid');
  fs.mkdirSync(bad, { recursive: true });
  const shipBad = (runs: string[], o: Partial<liquid.ShipOptions> = {}) => () => liquid.shipRuns({ from: bad, to: path.join(dir, 'bad-ship'), plan, runs, ...o });
  expect(() => liquid.shipRuns({ from: path.join(dir, 'nowhere'), to: to() })).toThrow(`liquid.shipRuns: ${path.join(dir, 'nowhere')} does not exist (the runs' folder: npm run train:liquid writes .cache/liquid/<run>/)`);
  expect(() => ship({ runs: ['moe-h64-nope-seed0'] })).toThrow("liquid.shipRuns: unknown run 'moe-h64-nope-seed0'; runs are text-moe-h64, text-moe-h96, text-moe-h192, moe-h64-text-seed0, ");
  expect(() => ship({ runs: ['moe-h64-mixed-seed1'] })).toThrow(`liquid.shipRuns: moe-h64-mixed-seed1 is not finished: ${path.join(from(), 'moe-h64-mixed-seed1')} has no metrics.json`);
  expect(() => ship({ runs: ['moe-h96-text-seed0'] })).toThrow(`liquid.shipRuns: moe-h96-text-seed0 is not trained: ${path.join(from(), 'moe-h96-text-seed0')} does not exist (${cmd('moe-h96-text')})`);

  // trained, evaluation under way: metrics.json as the recipe first writes it (no probes), an evaluation file missing
  const text = copyRun('moe-h64-text-seed0', bad);
  const tm = liquid.readRunMetrics(text);
  fs.writeFileSync(path.join(text, 'metrics.json'), JSON.stringify({ ...tm, probes: [] }));
  fs.rmSync(path.join(text, liquid.evalName(tm.evalSteps[0])));
  expect(shipBad(['moe-h64-text-seed0'])).toThrow(
    `liquid.shipRuns: moe-h64-text-seed0 is trained but not fully evaluated (${liquid.evalName(tm.evalSteps[0])} is missing); if its evaluation is running, wait; otherwise run ${cmd('moe-h64-text')} again to finish it`,
  );
  fs.writeFileSync(path.join(text, 'metrics.json'), JSON.stringify({ ...tm, stopped: 'aborted' }));
  expect(shipBad(['moe-h64-text-seed0'])).toThrow(`liquid.shipRuns: moe-h64-text-seed0 stopped early (aborted); resume it with ${cmd('moe-h64-text')}`);
  fs.writeFileSync(path.join(text, 'metrics.json'), JSON.stringify({ ...tm, name: 'moe-h64-text-seed3' }));
  expect(shipBad(['moe-h64-text-seed0'])).toThrow(`liquid.shipRuns: ${text} holds moe-h64-text-seed3, not moe-h64-text-seed0`);

  // the live run's final checkpoint: a file missing, or weights not float16
  const mixed = copyRun('moe-h64-mixed-seed0', bad);
  const m = liquid.readRunMetrics(mixed);
  const ck = path.join(mixed, liquid.checkpointName(m.steps));
  fs.renameSync(path.join(ck, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  expect(shipBad(['moe-h64-mixed-seed0'])).toThrow(`liquid.shipRuns: moe-h64-mixed-seed0's final checkpoint ${liquid.checkpointName(m.steps)}/ has no tokenizer.json (${mixed}); train it again with ${cmd('moe-h64-mixed')} --fresh`);
  fs.renameSync(path.join(dir, 'tokenizer.json'), path.join(ck, 'tokenizer.json'));
  const st = readSafetensors(path.join(ck, 'model.safetensors'));
  fs.writeFileSync(path.join(ck, 'model.safetensors'), encodeSafetensors([...st.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]), { dtype: 'F32' }));
  expect(shipBad(['moe-h64-mixed-seed0'])).toThrow(`liquid.shipRuns: moe-h64-mixed-seed0's final checkpoint stores "${[...st.tensors.keys()][0]}" as F32; shipped checkpoints are float16 (the recipe saves them so)`);
  expect(fs.existsSync(path.join(dir, 'bad-ship'))).toBe(false);

  // over the budget, counting a checkpoint already shipped in another run's directory: nothing is written
  const shipped = path.join(to(), 'moe-h64-mixed-seed0', liquid.checkpointName(m.steps));
  const one = liquid.CHECKPOINT_FILES.reduce((n, f) => n + fs.statSync(path.join(shipped, f)).size, 0);
  fs.cpSync(path.join(to(), 'moe-h64-mixed-seed0', 'checkpoints'), path.join(to(), 'moe-h96-mixed-seed0', 'checkpoints'), { recursive: true });
  const before = fs.statSync(path.join(to(), 'moe-h64-mixed-seed0', 'metrics.json')).mtimeMs;
  expect(() => ship({ runs: ['moe-h64-mixed-seed0'], maxCheckpointBytes: 1.5 * one })).toThrow(
    `liquid.shipRuns: the Liquid checkpoints would take ${mb(2 * one)} (moe-h96-mixed-seed0 ${mb(one)}, moe-h64-mixed-seed0 ${mb(one)}), over the ${mb(1.5 * one)} they may take together; nothing was shipped`,
  );
  expect(fs.statSync(path.join(to(), 'moe-h64-mixed-seed0', 'metrics.json')).mtimeMs).toBe(before);
  fs.rmSync(path.join(to(), 'moe-h96-mixed-seed0'), { recursive: true });
});

test('a live checkpoint over the limit for one shipped checkpoint ships without it, and says so', () => {
  const m = liquid.readRunMetrics(path.join(from(), 'moe-h64-mixed-seed0'));
  const ck = liquid.checkpointName(m.steps);
  const one = liquid.CHECKPOINT_FILES.reduce((n, f) => n + fs.statSync(path.join(from(), 'moe-h64-mixed-seed0', ck, f)).size, 0);
  const limit = Math.floor(one / 2);
  const log: string[] = [];
  const [rec] = ship({ runs: ['moe-h64-mixed-seed0'], maxOneCheckpointBytes: limit, log: (s) => log.push(s) }).shipped;
  const runDir = path.join(to(), 'moe-h64-mixed-seed0');
  expect(rec.checkpoint).toBeNull();
  expect(rec.omittedCheckpoint).toEqual({ step: m.steps, bytes: one, limit });
  expect(fs.existsSync(path.join(runDir, 'checkpoints'))).toBe(false);
  expect(rec.files.some((f) => f.startsWith('checkpoints/'))).toBe(false);
  expect(liquid.omittedCheckpoint(runDir)).toEqual(rec.omittedCheckpoint);
  expect(log).toEqual([`shipped moe-h64-mixed-seed0 without its final checkpoint (step ${m.steps}, ${mb(one)} float16, over the ${mb(limit)} one shipped checkpoint may take; full mode reads it from the runs folder)`]);
  // the notebook has no live model of that size then; the run's numbers are all there
  const places = liquid.placeRuns(to(), liquid.wantedRuns(plan));
  expect(liquid.liveCheckpoints(places, plan)).toEqual([]);
  expect(liquid.readFinished(to(), places).runs.map((x) => x.metrics.name)).toContain('moe-h64-mixed-seed0');
  expect(liquid.SHIP_MAX_ONE_CHECKPOINT_BYTES).toBe(15 * 2 ** 20);
  // within the default limit it ships with it again, and a run shipped so says nothing was left out
  expect(ship({ runs: ['moe-h64-mixed-seed0'] }).shipped[0].checkpoint).toEqual({ step: m.steps, dir: ck, bytes: one });
  expect(liquid.omittedCheckpoint(runDir)).toBeNull();
  expect(liquid.omittedCheckpoint(path.join(dir, 'nowhere'))).toBeNull();
});

test('the unified vocabulary seen live: rows of one embedding, columns of one head, one softmax over text and codes', async () => {
  const ck = liquid.liveCheckpoints(liquid.placeRuns(to(), liquid.wantedRuns(plan)), plan)[0];
  const s = await Session.load(ck.dir);
  const image = { height: 8, width: 8, codes: Array.from({ length: 64 }, (_, i) => (i * 37) % 512) };
  const view = () => liquid.vocabularyView(s, { word: ' tree', code: 17, caption: 'A cat is to the left of a tree.', image, top: 4 });
  view(); // the model builds its RoPE tables for the positions first used, and keeps them
  const n0 = tf.memory().numTensors;
  const v = view();
  expect(tf.memory().numTensors).toBe(n0);
  const tok = s.tokenizer;
  expect(v.vocabSize).toBe(4615);
  expect(v.counts).toEqual({ text: tok.textVocabSize, image: 512, special: 4615 - tok.textVocabSize - 512 });
  expect(v.tokens.map((t) => t.modality)).toEqual(['text', 'image']);
  expect(v.tokens[1].id).toBe(tok.imageCodeId(17));
  // against the checkpoint file itself (Hugging Face names: embed_tokens [V, H], lm_head [V, H])
  const st = readSafetensors(path.join(ck.dir, 'model.safetensors')).tensors;
  const H = s.config.hiddenSize;
  const rowNorm = (name: string, id: number) => Math.hypot(...Array.from(st.get(name)!.data.subarray(id * H, (id + 1) * H)));
  for (const t of v.tokens) {
    expect(t.embeddingNorm).toBeCloseTo(rowNorm('model.embed_tokens.weight', t.id), 5);
    expect(t.headNorm).toBeCloseTo(rowNorm('lm_head.weight', t.id), 5);
    expect(t.embedding).toEqual(Array.from(st.get('model.embed_tokens.weight')!.data.subarray(t.id * H, t.id * H + 8)));
  }
  // each context's softmax: mass sums to 1, and the top token's probability is what teacher-forced scoring gives it
  const contexts = [[...tok.encodePrompt([{ text: 'A cat is to the left of a tree.' }]).ids, tok.boi], tok.encodePrompt([{ image }, { text: ' The caption of this image is:' }]).ids];
  v.next.forEach((n, i) => {
    expect(n.mass.text + n.mass.image + n.mass.special).toBeCloseTo(1, 6);
    expect(n.top.map((t) => t.p)).toEqual([...n.top.map((t) => t.p)].sort((a, b) => b - a));
    const nll = tokenScores(s, [[...contexts[i], n.top[0].id]])[0].nll;
    expect(Math.exp(-nll[nll.length - 1])).toBeCloseTo(n.top[0].p, 4);
  });
  expect(() => liquid.vocabularyView(s, { word: ' tree', code: 512, caption: 'x', image })).toThrow('liquid.vocabularyView: code must be an integer in [0, 512), got 512');

  // routing by size: the exclusivity of each model's own traces, per layer
  const rows = [contexts[1], [...contexts[0], ...image.codes.map((c) => tok.imageCodeId(c))]];
  const seen: number[] = [];
  const r = await liquid.routingBySize([{ size: 'a', session: s }, { size: 'b', session: s }], rows, { onProgress: (d) => seen.push(d) });
  expect(seen).toEqual([1, 2, 3, 4]);
  expect(r).toEqual([{ model: 'a', exclusivity: exclusivityByDepth(rows.map((ids) => s.trace({ ids }))) }, { model: 'b', exclusivity: r[0].exclusivity }]);
  expect(r[0].exclusivity).toHaveLength(s.config.numLayers);
  expect(tf.memory().numTensors).toBe(n0);
  s.dispose();
});

test('full mode’s trainMissing: the text checkpoint first, then the continuation from it; finished runs are left alone', async () => {
  const root = path.join(dir, 'full');
  const runsDir = path.join(root, 'liquid');
  const short = { ...plan, pretrain: plan.pretrain.map((p) => ({ ...p, steps: 2 })) }; // a 2-step text checkpoint
  const wanted = liquid.wantedRuns(short).filter((w) => w.size === 'moe-h96' && (w.kind === 'pretrain' || w.arm === 'moe-h96-text'));
  expect(wanted.map((w) => w.name)).toEqual(['text-moe-h96', 'moe-h96-text-seed0']);
  const tools = tinyProjectTools(store, root);
  const ran: string[] = [];
  const o = { plan: short, runDirOf: (run: string) => path.join(root, 'runs', `liquid-${run}`), onRun: (p: liquid.RunPlace, i: number, n: number) => void ran.push(`${p.name} ${i + 1}/${n}`), log: quiet, evalPoints: 2 };
  try {
    const before = liquid.placeRuns(runsDir, wanted);
    expect(before.map((p) => p.state)).toEqual(['missing', 'missing']);
    const after = await liquid.trainMissing([...before].reverse(), runsDir, tools, o); // given continuation first: still trained text first
    expect(ran).toEqual(['text-moe-h96 1/2', 'moe-h96-text-seed0 2/2']);
    expect(after.map((p) => [p.name, p.state])).toEqual([['moe-h96-text-seed0', 'finished'], ['text-moe-h96', 'finished']]);
    expect(liquid.readRunMetrics(path.join(runsDir, 'moe-h96-text-seed0')).base).toBe('text-moe-h96');
    const again = await liquid.trainMissing(after, runsDir, tools, o);
    expect(ran).toHaveLength(2);
    expect(again).toEqual(after);
  } finally {
    tools.dispose();
  }
}, 300_000);

test('the samples grid: sizes in the ladder’s order, a row per sample, a column per step', () => {
  const codes = (k: number) => Array.from({ length: 4 }, (_, i) => k + i);
  const samples = ['moe-h96', 'moe-h64'].flatMap((size, j) => [2, 4].map((step) => ({ size, arm: `${size}-mixed`, step, captions: ['c0', 'c1', 'c2'], codes: [codes(10 * j + step), codes(100 + step), codes(200)] }))) as liquid.Results['samples'];
  const g = liquid.samplesGrid({ samples }, { perStep: 2 });
  expect(g.columns).toBe(2);
  expect(g.captions).toEqual(['c0', 'c1']);
  expect(g.labels).toEqual(['moe-h64, step 2\ncaption 1', 'moe-h64, step 4\ncaption 1', 'moe-h64, step 2\ncaption 2', 'moe-h64, step 4\ncaption 2', 'moe-h96, step 2\ncaption 1', 'moe-h96, step 4\ncaption 1', 'moe-h96, step 2\ncaption 2', 'moe-h96, step 4\ncaption 2']);
  expect(g.codes.map((c) => c.codes[0])).toEqual([12, 14, 102, 104, 2, 4, 102, 104]);
  expect(g.codes[0]).toMatchObject({ height: 2, width: 2 });
  expect(() => liquid.samplesGrid({ samples: [{ ...samples[0], codes: [[1, 2, 3]] }] })).toThrow('liquid.samplesGrid: moe-h96 has no square sample 0 at step 2');
  expect(() => liquid.samplesGrid({ samples: [] })).toThrow('liquid.samplesGrid: the results have no drawn samples');
});
