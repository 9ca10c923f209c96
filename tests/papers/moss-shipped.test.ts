/**
 * Shipping MoSS runs (papers/moss-…/shipped.ts, run-places.ts, arm-set.ts) on a tiny model: a finished run's
 * adapter ships float16 in the PEFT layout beside its own metrics and held-out scores; reloaded it gives
 * exactly the logits of the run's adapter with its weights rounded to float16 (and those of the float32
 * adapter within float16's rounding); a finished full fine-tuning run ships its metrics and scores byte for
 * byte and no weights, reads back as a Table 12 run, and loadArm / ArmSet refuse it in one sentence; unfinished
 * and half-written runs are refused with a message naming what is missing; shipped runs read back as the
 * results builder's ArmRuns; several arms on one session switch one at a time, each computing what it computes
 * alone; no tensor is left behind.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { moss, Session } from '../../kernel-lib';
import { readSafetensors, roundToFloat16 } from '../../kernel-lib/checkpoint';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import type { LoRAHandle } from '../../kernel-lib/adapters';
import { tinySession } from '../helpers/fixtures';
import { useBackend } from '../helpers/backend';
import { tempDir } from '../data/helpers';
import { countingEncoder, tinySource } from './moss-helpers';

let root: string;
let baseDir: string;
const runs = () => path.join(root, 'runs');
const ship = () => path.join(root, 'ship');

const grid = (k: number) => ({ height: 4, width: 4, codes: Array.from({ length: 16 }, (_, i) => (i * 5 + k) % 32) });
const items: moss.CodedItem[] = [
  { id: 'hand/story/0', kind: 'story', prompt: [{ text: 'a red heart' }, { image: grid(1) }], target: [{ text: 'the tiger' }, { image: grid(2) }] },
  { id: 'hand/edit/0', kind: 'edit', prompt: [{ image: grid(3) }, { text: 'Change the cat.' }], target: [{ image: grid(4) }] },
];

/** Every weight of an adapter set to seeded random values: a trained-looking adapter whose float16 rounding shows. */
function randomize(h: LoRAHandle, seed: number): void {
  const rand = mulberry32(seed);
  tf.tidy(() => {
    for (const v of h.parameters().values()) v.assign(tf.tensor(normalArray(v.size, 0.3, rand), v.shape));
  });
}

/** Trains `arm` 2 steps into runs/<run>, gives it random weights, writes its adapter and eval-test.json as trainArm does. */
async function makeRun(arm: moss.Arm, seed: number): Promise<string> {
  const s = await Session.load(baseDir);
  const enc = countingEncoder();
  const name = moss.runName(arm, 2, seed);
  const outDir = path.join(runs(), name);
  const data: moss.ArmData = { train: new moss.CodedItems(tinySource(12), enc.encode), probe: [], description: 'tiny', split: 'val' };
  const { adapter } = await moss.trainArmOn(s, data, { arm, rank: 2, seed, steps: 2, batchSize: 4, outDir, runDir: path.join(root, 'rd', name), log: () => undefined });
  if (adapter) {
    randomize(adapter, 10 + seed);
    const { savePeftAdapter } = await import('../../kernel-lib/adapters');
    savePeftAdapter(adapter, path.join(outDir, moss.ADAPTER_DIR));
  }
  fs.writeFileSync(path.join(outDir, moss.evalFile('test')), JSON.stringify(moss.itemScoresFile(arm, 2, seed, 'test', moss.scoreItems(s, items))));
  adapter?.detach();
  s.dispose();
  return outDir;
}

/** Every file below `d`, relative, sorted. */
const files = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(d, e.name)).map((f) => `${e.name}/${f}`) : [e.name])).sort();
const logitsOf = (s: Session, it: moss.CodedItem) => {
  const ids = moss.itemRow(s.tokenizer, it).ids;
  return s.model.forward([ids], { capture: 'none', positions: s.positions(ids) }).logits;
};
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

beforeAll(async () => {
  await useBackend();
  root = tempDir('moss-shipped');
  baseDir = path.join(root, 'base');
  const s = await tinySession({ seed: 5 });
  s.save(baseDir);
  s.dispose();
  await makeRun('moss', 0);
  await makeRun('lora', 0);
  await makeRun('full', 0);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

test('shipRun: float16 adapter in PEFT layout, the run’s metrics and scores byte for byte; reloaded = the float16-rounded adapter exactly', async () => {
  const n0 = tf.memory().numTensors;
  const from = path.join(runs(), moss.runName('moss', 2, 0));
  const to = path.join(ship(), moss.runName('moss', 2, 0));
  const rec = moss.shipRun(from, to) as moss.AdapterShipRecord;
  expect('weights' in rec).toBe(false); // an adapter run's record is as it was before full runs shipped
  expect(files(to)).toEqual(['adapter/adapter_config.json', 'adapter/adapter_model.safetensors', 'eval-test.json', 'metrics.json', 'shipped.json']);
  for (const f of ['metrics.json', 'eval-test.json', 'adapter/adapter_config.json']) expect(fs.readFileSync(path.join(to, f)).equals(fs.readFileSync(path.join(from, f)))).toBe(true);
  const a = readSafetensors(path.join(from, 'adapter', 'adapter_model.safetensors'));
  const b = readSafetensors(path.join(to, 'adapter', 'adapter_model.safetensors'));
  expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
  let err = 0;
  for (const [k, t] of b.tensors) {
    expect(t.dtype).toBe('F16');
    expect(t.shape).toEqual(a.tensors.get(k)!.shape);
    expect(Array.from(t.data)).toEqual(Array.from(roundToFloat16(a.tensors.get(k)!.data)));
    err = Math.max(err, maxDiff(t.data, a.tensors.get(k)!.data));
  }
  expect(JSON.parse(fs.readFileSync(path.join(to, 'shipped.json'), 'utf8'))).toEqual(rec);
  expect(rec).toMatchObject({ run: 'moss-moss-r2-seed0', dtype: 'F16', from: 'F32', adapterBytes: fs.statSync(path.join(to, 'adapter', 'adapter_model.safetensors')).size });
  expect(rec.maxRoundingError).toBe(err);
  expect(rec.maxRoundingError).toBeGreaterThan(0);
  const values = [...a.tensors.values()].reduce((n, t) => n + t.data.length, 0);
  const header = Number(fs.readFileSync(path.join(to, 'adapter', 'adapter_model.safetensors')).readBigUInt64LE(0));
  expect(rec.adapterBytes).toBe(8 + header + 2 * values); // two bytes a weight after the header
  expect(moss.readRunMetrics(to)).toEqual(moss.readRunMetrics(from));

  // logits: the shipped adapter reloaded vs the run's adapter with its weights rounded to float16 in memory (exact),
  // and vs the float32 run (within what the rounding moves)
  const shipped = await moss.loadArm(to, baseDir);
  const run = await moss.loadArm(from, baseDir);
  const f32 = items.map((it) => logitsOf(run.session, it));
  tf.tidy(() => {
    for (const v of run.adapter!.parameters().values()) v.assign(tf.tensor(roundToFloat16(v.dataSync() as Float32Array), v.shape));
  });
  items.forEach((it, i) => {
    const f16 = logitsOf(shipped.session, it);
    expect(maxDiff(logitsOf(run.session, it), f16)).toBe(0);
    const moved = maxDiff(f32[i], f16);
    expect(moved).toBeGreaterThan(0);
    expect(moved).toBeLessThan(2e-2);
  });
  for (const r of [shipped, run]) {
    r.adapter!.detach();
    r.session.dispose();
  }
  expect(tf.memory().numTensors).toBe(n0);
});

test('shipRun on a finished full fine-tuning run: metrics and scores byte for byte, no weights, shipped.json says why; loaders say so', async () => {
  const from = path.join(runs(), 'moss-full-seed0');
  const to = path.join(root, 'ship-full', 'moss-full-seed0');
  expect(files(from)).toContain('checkpoint/model.safetensors'); // the run has its whole model …
  const m = moss.readRunMetrics(from);
  const rec = moss.shipRun(from, to);
  expect(files(to)).toEqual(['eval-test.json', 'metrics.json', 'shipped.json']); // … which does not ship
  for (const f of ['metrics.json', 'eval-test.json']) expect(fs.readFileSync(path.join(to, f)).equals(fs.readFileSync(path.join(from, f)))).toBe(true);
  const s = await Session.load(baseDir);
  const weights = [...s.model.params.values()].reduce((n, v) => n + v.size, 0);
  s.dispose();
  expect(m.trainableParams).toBe(weights);
  expect(rec).toEqual({ run: 'moss-full-seed0', weights: 'none', reason: `full fine-tuning trains all ${weights} weights of the base: a whole model, not an adapter of ≤ 2 MB` });
  expect(JSON.parse(fs.readFileSync(path.join(to, 'shipped.json'), 'utf8'))).toEqual(rec);
  expect(moss.readShipRecord(to)).toEqual(rec);
  expect(moss.readShipRecord(from)).toBeNull(); // a run as trained has no shipped.json
  expect(moss.checkFinishedRun(to, 'shipped')).toEqual(m); // a shipped full run is a finished run
  // present for Table 12 and read back as its ArmRun
  const places = moss.placeRuns(path.dirname(to), moss.wantedRuns('table12', [0, 1]));
  expect(places.map((p) => [p.name, p.present])).toEqual([['moss-full-seed0', true], ['moss-full-seed1', false]]);
  const [run] = moss.readArmRuns(places);
  expect(run.arm).toBe('full');
  expect(run.rank).toBeUndefined();
  expect(run.scores[0]).toEqual(moss.readItemScores(from, 'test'));
  expect(moss.runRows([run])[0]).toMatchObject({ arm: 'full', params: weights, seeds: [0] });
  // where weights are needed: one sentence, nothing left attached or allocated
  const n0 = tf.memory().numTensors;
  const said = 'is full fine-tuning, which ships its metrics and held-out scores but no weights (a whole model, not an adapter); retrain with SWITCHBOARD_MOSS_RETRAIN=1 to have them';
  expect(moss.noWeightsMessage('moss.loadArm', 'moss-full-seed0')).toBe(`moss.loadArm: moss-full-seed0 ${said}`);
  await expect(moss.loadArm(to, baseDir)).rejects.toThrow(new Error(`moss.loadArm: moss-full-seed0 ${said}`));
  const base = await Session.load(baseDir);
  expect(() => moss.ArmSet.load(base, { lora: path.join(runs(), moss.runName('lora', 2, 0)), full: to })).toThrow(new Error(`moss.ArmSet: moss-full-seed0 ${said}`));
  expect(base.model.adapters.names).toEqual([]); // the lora attached before the refusal was detached
  base.dispose();
  expect(tf.memory().numTensors).toBe(n0);
  // the run as trained still loads: the fine-tuned model itself
  const trained = await moss.loadArm(from, baseDir);
  expect(trained.adapter).toBeNull();
  trained.session.dispose();
});

test('shipRun refuses what is not a finished run, naming what is missing', () => {
  const from = path.join(runs(), moss.runName('lora', 2, 0));
  const half = path.join(root, 'half');
  fs.cpSync(from, half, { recursive: true });
  fs.rmSync(path.join(half, 'metrics.json'));
  const to = path.join(root, 'nowhere');
  expect(() => moss.shipRun(path.join(root, 'absent'), to)).toThrow(`moss.shipRun: ${path.join(root, 'absent')} is not a directory`);
  expect(() => moss.shipRun(half, to)).toThrow(`moss.shipRun: ${half} is not a finished run: it has no metrics.json (written last, when training ends); if it is still training, wait; if it was interrupted, run its train:moss command again to resume it`);
  fs.cpSync(from, half, { recursive: true });
  fs.rmSync(path.join(half, 'eval-test.json'));
  expect(() => moss.shipRun(half, to)).toThrow(`moss.shipRun: ${half} has no eval-test.json (the per-item held-out scores quick mode reads); it was trained with --test-items 0 or interrupted while scoring: train it again with npm run train:moss -- --arm lora --rank 2 --seed 0`);
  fs.cpSync(from, half, { recursive: true });
  fs.rmSync(path.join(half, 'adapter', 'adapter_model.safetensors'));
  expect(() => moss.shipRun(half, to)).toThrow(`moss.shipRun: ${half} has metrics.json but no adapter/adapter_model.safetensors; the run's output is incomplete: train it again with npm run train:moss -- --arm lora --rank 2 --seed 0 --fresh`);
  fs.cpSync(from, half, { recursive: true });
  const m = JSON.parse(fs.readFileSync(path.join(half, 'metrics.json'), 'utf8'));
  fs.writeFileSync(path.join(half, 'metrics.json'), JSON.stringify({ ...m, stopped: 'aborted' }));
  expect(() => moss.shipRun(half, to)).toThrow(`moss.shipRun: moss-lora-r2-seed0 in ${half} stopped early (aborted); resume it with npm run train:moss -- --arm lora --rank 2 --seed 0`);
  fs.writeFileSync(path.join(half, 'metrics.json'), JSON.stringify({ ...m, seed: 1, name: 'moss-lora-r2-seed1' }));
  expect(() => moss.shipRun(half, to)).toThrow(`moss.shipRun: ${half}: eval-test.json scores lora r=2 seed 0, but metrics.json describes moss-lora-r2-seed1`);
  // a full run: unfinished, interrupted, unscored (its checkpoint is never asked for: it does not ship)
  fs.rmSync(half, { recursive: true });
  fs.cpSync(path.join(runs(), 'moss-full-seed0'), half, { recursive: true });
  const fm = JSON.parse(fs.readFileSync(path.join(half, 'metrics.json'), 'utf8'));
  fs.rmSync(path.join(half, 'metrics.json'));
  expect(() => moss.shipRun(half, to)).toThrow(new Error(`moss.shipRun: ${half} is not a finished run: it has no metrics.json (written last, when training ends); if it is still training, wait; if it was interrupted, run its train:moss command again to resume it`));
  fs.writeFileSync(path.join(half, 'metrics.json'), JSON.stringify({ ...fm, stopped: 'aborted' }));
  expect(() => moss.shipRun(half, to)).toThrow(new Error(`moss.shipRun: moss-full-seed0 in ${half} stopped early (aborted); resume it with npm run train:moss -- --arm full --seed 0`));
  fs.writeFileSync(path.join(half, 'metrics.json'), JSON.stringify(fm));
  fs.rmSync(path.join(half, 'eval-test.json'));
  expect(() => moss.shipRun(half, to)).toThrow(new Error(`moss.shipRun: ${half} has no eval-test.json (the per-item held-out scores quick mode reads); it was trained with --test-items 0 or interrupted while scoring: train it again with npm run train:moss -- --arm full --seed 0`));
  expect(fs.existsSync(to)).toBe(false); // nothing written by a refusal
  fs.rmSync(half, { recursive: true });
});

test('shipRuns: every finished run (full fine-tuning without weights), the rest skipped with the reason; named runs must ship', () => {
  fs.mkdirSync(path.join(runs(), 'moss-moe-lora-r2-seed0', 'adapter'), { recursive: true }); // a run still training
  const logs: string[] = [];
  const to = path.join(root, 'ship-all');
  const r = moss.shipRuns({ from: runs(), to, log: (s) => logs.push(s) });
  expect(r.shipped.map((x) => x.run)).toEqual(['moss-full-seed0', 'moss-lora-r2-seed0', 'moss-moss-r2-seed0']);
  expect(r.skipped.map((x) => x.run)).toEqual(['moss-moe-lora-r2-seed0']);
  expect(r.skipped[0].reason).toContain('is not a finished run: it has no metrics.json');
  expect(logs).toHaveLength(4);
  expect(logs[0]).toBe(`shipped moss-full-seed0: metrics and held-out scores, no weights (${(r.shipped[0] as moss.ScoresShipRecord).reason})`);
  expect(fs.readdirSync(to).sort()).toEqual(['moss-full-seed0', 'moss-lora-r2-seed0', 'moss-moss-r2-seed0']);
  expect(files(path.join(to, 'moss-full-seed0'))).toEqual(['eval-test.json', 'metrics.json', 'shipped.json']);
  expect(() => moss.shipRuns({ from: runs(), to, runs: ['moss-moe-lora-r2-seed0'] })).toThrow('is not a finished run');
  expect(() => moss.shipRuns({ from: path.join(root, 'absent'), to })).toThrow(`moss.shipRuns: ${path.join(root, 'absent')} does not exist`);
  fs.rmSync(path.join(runs(), 'moss-moe-lora-r2-seed0'), { recursive: true });
});

test('placeRuns / commonSeeds / readArmRuns: present runs read back as ArmRuns, missing ones with their command', () => {
  const to = path.join(root, 'ship-all');
  const places = moss.placeRuns(to, [{ arm: 'lora', rank: 2, seeds: [0, 1] }, { arm: 'moss', rank: 2, seeds: [0, 1] }]);
  expect(places.map((p) => [p.name, p.present])).toEqual([['moss-lora-r2-seed0', true], ['moss-lora-r2-seed1', false], ['moss-moss-r2-seed0', true], ['moss-moss-r2-seed1', false]]);
  expect(places[1].command).toBe('npm run train:moss -- --arm lora --rank 2 --seed 1');
  expect(moss.commonSeeds(places)).toEqual([0]);
  expect(moss.commonSeeds(places.filter((p) => p.arm === 'moss' || p.seed === 1))).toEqual([]);
  const got = moss.readArmRuns(places);
  expect(got.map((r) => [r.arm, r.rank, r.metrics.map((m) => m.seed)])).toEqual([['lora', 2, [0]], ['moss', 2, [0]]]);
  expect(got[1].scores[0].ids).toEqual(items.map((it) => it.id));
  expect(Number.isNaN(got[1].scores[0].textNll[1])).toBe(true); // an edit's target has no text: null in the file, NaN here
  expect(moss.wantedRuns('table2').map((w) => w.arm)).toEqual(['lora', 'moe-lora', 'moss', 'moe-lora-matched']);
  expect(moss.trainCommand('full', 8, 2)).toBe('npm run train:moss -- --arm full --seed 2');
  expect(() => moss.placeRuns(to, [{ arm: 'moss', seeds: [0] }])).toThrow('moss.placeRuns: moss needs a rank');
});

test('runsForResults: Table 2 at the seeds all its arms share; another part only when it has those seeds; notes say what is missing', () => {
  const to = path.join(root, 'ship-all');
  const table2 = moss.placeRuns(to, [{ arm: 'lora', rank: 2, seeds: [0, 1] }, { arm: 'moss', rank: 2, seeds: [0, 1] }]);
  const r = moss.runsForResults({ table2, table10: moss.placeRuns(to, [{ arm: 'sam-convlora', rank: 2, seeds: [0, 1] }]), table12: moss.placeRuns(to, moss.wantedRuns('table12', [0, 1])) });
  expect(r.seeds).toEqual([0]);
  expect(r.runs.map((x) => `${x.arm} ${x.metrics.map((m) => m.seed)}`)).toEqual(['lora 0', 'moss 0', 'full 0']); // the shipped full run, without weights
  expect(r.notes).toEqual([
    'Table 2 is judged on seed 0 only (missing: moss-lora-r2-seed1, moss-moss-r2-seed1)',
    'Table 10 is left out: moss-sam-convlora-r2-seed0 not present',
  ]);
  const none = moss.runsForResults({ table2: moss.placeRuns(to, [{ arm: 'lora', rank: 2, seeds: [1] }, { arm: 'moss', rank: 2, seeds: [0] }]) });
  expect(none).toEqual({ runs: [], seeds: [], notes: ['Table 2 has no seed at which all four arms are present (missing: moss-lora-r2-seed1)'] });
});

test('ArmSet: several adapters on one session, one on at a time, each computing what it computes alone; base when none', async () => {
  const n0 = tf.memory().numTensors;
  const to = path.join(root, 'ship-all');
  const dir = (arm: moss.Arm) => path.join(to, moss.runName(arm, 2, 0));
  const s = await Session.load(baseDir);
  const plain = await Session.load(baseDir);
  const arms = moss.ArmSet.load(s, { lora: dir('lora'), moss: dir('moss') });
  expect(arms.models).toEqual(['base', 'lora', 'moss']);
  expect(arms.active).toBe('base');
  for (const arm of ['lora', 'moss'] as const) {
    arms.use(arm);
    expect(arms.active).toBe(arm);
    const alone = await moss.loadArm(dir(arm), baseDir);
    for (const it of items) expect(maxDiff(logitsOf(s, it), logitsOf(alone.session, it))).toBe(0);
    alone.adapter!.detach();
    alone.session.dispose();
  }
  arms.use('base');
  for (const it of items) expect(maxDiff(logitsOf(s, it), logitsOf(plain, it))).toBe(0);
  expect(() => arms.use('nope')).toThrow("moss.ArmSet: no arm 'nope' (arms: lora, moss)");
  expect(() => moss.ArmSet.load(s, { base: dir('lora') })).toThrow("moss.ArmSet: label \"base\" must be letters, digits, _ or - and not 'base'");
  expect(s.model.adapters.names).toEqual(['arm-lora', 'arm-moss']); // the refused set left nothing attached
  arms.detach();
  expect(s.model.adapters.names).toEqual([]);
  s.dispose();
  plain.dispose();
  expect(tf.memory().numTensors).toBe(n0);
});

test('routingByModel: per model and layer, exclusivity and image co-activation as notebook 01’s analyses compute them alone; no tensors left', async () => {
  const { exclusivityByDepth, coActivationByLayer } = await import('../../kernel-lib/analysis');
  const to = path.join(root, 'ship-all');
  const s = await Session.load(baseDir);
  const arms = moss.ArmSet.load(s, { moss: path.join(to, moss.runName('moss', 2, 0)) });
  moss.routingByModel(arms, items); // first use caches the causal masks
  const n0 = tf.memory().numTensors;
  const seen: string[] = [];
  const r = moss.routingByModel(arms, items, { onProgress: (m, d, t) => seen.push(`${m} ${d}/${t}`) });
  expect(tf.memory().numTensors).toBe(n0);
  expect(seen).toEqual(['base 1/2', 'base 2/2', 'moss 1/2', 'moss 2/2']);
  expect(arms.active).toBe('base');
  expect(r.map((x) => x.model)).toEqual(['base', 'moss']);
  // the reference: each model on its own, traced by hand
  const alone = await moss.loadArm(path.join(to, moss.runName('moss', 2, 0)), baseDir);
  const plain = await Session.load(baseDir);
  for (const [k, ref] of [[0, plain], [1, alone.session]] as const) {
    const traces = items.map((it) => ref.trace({ ids: moss.itemRow(ref.tokenizer, it).ids }));
    expect(r[k].exclusivity).toEqual(exclusivityByDepth(traces).map((x) => Number(x.toFixed(4))));
    expect(r[k].coActivation).toEqual(coActivationByLayer(traces, { modality: 'image' }).map((c) => Number(c.topPartnerAverage.toFixed(4))));
    expect(r[k].exclusivity).toHaveLength(s.config.numLayers);
  }
  expect(r[1]).not.toEqual({ ...r[0], model: 'moss' }); // the adapter moves the routers' input
  expect(() => moss.routingByModel(arms, [])).toThrow('moss.routingByModel: no items to route');
  alone.adapter!.detach();
  alone.session.dispose();
  plain.dispose();
  arms.detach();
  s.dispose();
});

test('decodeCost: every model draws every prompt once, timed; the median per model; no tensors left', async () => {
  const s = await Session.load(baseDir);
  const arms = moss.ArmSet.load(s, { moss: path.join(root, 'ship-all', moss.runName('moss', 2, 0)) });
  const prompts = [[{ text: 'a red heart' }], [{ text: 'the tiger' }], [{ text: 'an apple' }]];
  await moss.decodeCost(arms, prompts); // the model caches a causal mask per length on first use
  const n0 = tf.memory().numTensors;
  let images = 0;
  const c = await moss.decodeCost(arms, prompts, { onImage: () => images++ });
  expect(tf.memory().numTensors).toBe(n0);
  expect(images).toBe(6);
  expect(c.images).toBe(3);
  for (const m of ['base', 'moss']) {
    expect(c.samples[m]).toHaveLength(3);
    expect(c.msPerImage[m]).toBe([...c.samples[m]].sort((a, b) => a - b)[1]);
    expect(c.msPerImage[m]).toBeGreaterThan(0);
  }
  await expect(moss.decodeCost(arms, [])).rejects.toThrow('moss.decodeCost: no prompts');
  arms.detach();
  s.dispose();
});

test('sideBySide: each model narrates the stories (greedy, to the image it opens) and draws every target; no tensors left', async () => {
  const { SceneChecker } = await import('../../kernel-lib/eval/scene-checker');
  const s = await Session.load(baseDir);
  const arms = moss.ArmSet.load(s, { moss: path.join(root, 'ship-all', moss.runName('moss', 2, 0)) });
  const white = { height: 32, width: 32, pixels: new Uint8Array(32 * 32 * 3).fill(255) };
  const seen: unknown[] = [];
  const vq = { decode: (codes: unknown[]) => (seen.push(codes), codes.map(() => white)) } as unknown as Parameters<typeof moss.sideBySide>[2];
  const checker = new SceneChecker([{ emoji: 0, name: 'white', image: white }]);
  const withScenes = items.map((it) => ({ ...it, scene: { objects: [] } }));
  await moss.sideBySide(arms, withScenes, vq, checker); // kernel and mask set-up
  seen.length = 0;
  const n0 = tf.memory().numTensors;
  const r = await moss.sideBySide(arms, withScenes, vq, checker);
  expect(tf.memory().numTensors).toBe(n0);
  expect(r.models).toEqual(['base', 'moss']);
  expect(r.ids).toEqual(['hand/story/0', 'hand/edit/0']);
  expect(r.truthText).toEqual(['the tiger', null]);
  expect(seen[2]).toEqual([grid(2), grid(4)]); // the targets' own codes, decoded last
  expect(seen[1]).not.toEqual(seen[0]); // the adapter changes what is drawn
  expect(r.drawn.base.images).toHaveLength(2);
  // the reference narration: greedy step decoding by hand on a session that never had an adapter
  const plain = await Session.load(baseDir);
  const tok = plain.tokenizer;
  const ids: number[] = [];
  for await (const st of plain.generate(moss.joinText(items[0].prompt), { maxNewTokens: 24, temperature: 0, stopTokens: [tok.boi, tok.eos], imageGrammar: false, capture: 'none' })) {
    if (st.tokenId !== tok.boi && st.tokenId !== tok.eos) ids.push(st.tokenId);
  }
  const want = tok.decodeIds(ids).map((p) => ('text' in p ? p.text : '[image]')).join(' ').trim();
  expect(r.text.base).toEqual([want, null]);
  expect(r.text.moss[1]).toBeNull();
  expect(typeof r.text.moss[0]).toBe('string');
  await expect(moss.sideBySide(arms, [], vq, checker)).rejects.toThrow('moss.sideBySide: no items');
  checker.dispose();
  plain.dispose();
  arms.detach();
  s.dispose();
});
