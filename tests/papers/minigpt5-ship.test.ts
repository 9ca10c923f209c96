/**
 * MiniGPT-5's held-out evaluation, run places and shipping (papers/minigpt5-…/evaluate-stage.ts, run-places.ts,
 * ship.ts) on tiny real runs (minigpt5-tiny-runs.ts: the recipe with a stand-in decoder): a finished stage holds
 * eval.json with per-item scores of the sizes asked for; a second trainStage does nothing, and on a stage whose
 * eval.json is missing it evaluates without training, to the same numbers; placeRuns names each run's state
 * with its command; shipping copies metrics and scores byte for byte and the live runs' weights as float16 that
 * loadStage reads back (within float16 rounding), and refuses, with the message naming the run, what is missing
 * and the command, a run that is not trained, not finished, not evaluated, a live run without its weights, a
 * weight file over the budget, and an unknown name; nothing is written when a check fails. Evaluating a run
 * again under heldOutFirst's options gives the first items it recorded (firstScores, equal).
 */
import * as fs from 'fs';
import * as path from 'path';
import { minigpt5 } from '../../kernel-lib';
import { ensureData, DataStore } from '../../kernel-lib/data/store';
import { readSafetensors } from '../../kernel-lib/checkpoint/safetensors';
import { checkpointDir } from '../../kernel-lib/paths';
import { LatentDiffusion } from '../../kernel-lib/diffusion/model';
import { ClipModel } from '../../kernel-lib/eval/clip';
import { SceneChecker } from '../../kernel-lib/eval/scene-checker';
import { VQVAE } from '../../kernel-lib/image';
import { useBackend } from '../helpers/backend';
import { quiet, tempDir } from '../data/helpers';
import { standInDecoder, tinyRecipe, tinyRun, TINY } from './minigpt5-tiny-runs';

let root: string;
let runs: string;
let ldmDir: string;
let store: DataStore;
const name = (stage: 1 | 2, arm: minigpt5.Arm, seed = 0) => minigpt5.runName(stage, arm, seed);
const cmd = (stage: number, arm: string, seed = 0) => `npm run train:minigpt5 -- --stage ${stage} --arm ${arm} --seed ${seed}`;
const copyRun = (from: string, to: string) => fs.cpSync(from, to, { recursive: true });

beforeAll(async () => {
  await useBackend();
  root = tempDir('minigpt5-ship');
  runs = path.join(root, minigpt5.RUNS_FOLDER);
  ldmDir = standInDecoder(path.join(root, 'ldm-stand-in'));
  store = await ensureData();
  await tinyRun(store, root, ldmDir, 1, 'full');
  await tinyRun(store, root, ldmDir, 2, 'full');
  await tinyRun(store, root, ldmDir, 2, 'text-only');
  await tinyRun(store, root, ldmDir, 1, 'no-cfg');
  await tinyRun(store, root, ldmDir, 1, 'no-ldm', 0, { stopAfter: 1 }); // interrupted: only its run directory
  // started, not finished: an output directory without metrics.json (written last)
  copyRun(path.join(runs, name(1, 'no-cfg')), path.join(runs, name(1, 'no-cap')));
  fs.rmSync(path.join(runs, name(1, 'no-cap'), 'metrics.json'));
}, 600_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

test('a finished stage holds its held-out scores per item; stage 1 of full has the CFG sweep, stage 2 Tables 6 and 2, both the routing', () => {
  const s1 = minigpt5.readEval(path.join(runs, name(1, 'full')));
  const z = TINY.eval.sizes;
  expect([s1.run, s1.stage, s1.arm, s1.seed]).toEqual([name(1, 'full'), 1, 'full', 0]);
  expect(s1.drawing).toEqual({ cfgScale: 4, steps: z.steps, negative: 'zero-vokens', seed: 0 });
  expect(s1.scenes!.items).toBe(z.scenes);
  for (const k of ['clipI', 'clipT', 'scene'] as const) expect(s1.scenes![k]).toHaveLength(z.scenes);
  expect(s1.scenes!.scene.every((x) => x >= 0 && x <= 1)).toBe(true);
  expect(s1.scenes!.clipI.every((x) => x >= -1 && x <= 1)).toBe(true);
  expect(s1.scenes!.samples.map((s) => s.item)).toEqual([0, 1]);
  expect(s1.scenes!.samples[0].caption).toBe(store.scenes('test')[0].caption);
  expect(s1.cfgSweep!.map((s) => [s.scale, s.items, s.clipI.length])).toEqual([[1, 2, 2], [4, 2, 2]]);
  expect(s1.cfgSweep![1].clipI).toEqual(s1.scenes!.clipI.slice(0, 2)); // γ 4 is the tables' own draw
  expect(s1.contexts).toBeUndefined();
  const H = s1.routing!;
  expect(H.voken).toHaveLength(4); // mm-moe-small: 4 layers × 16 experts, top-4
  expect(H.voken[0]).toHaveLength(16);
  expect(H.tokens.voken).toBe(2 * 8); // 2 rows × 8 vokens
  expect(H.voken.every((row) => row.reduce((a, b) => a + b, 0) === 4 * H.tokens.voken)).toBe(true);
  expect(minigpt5.readEval(path.join(runs, name(1, 'no-cfg'))).drawing.negative).toBe('null');
  expect(minigpt5.readEval(path.join(runs, name(1, 'no-cfg'))).cfgSweep).toBeUndefined();
  const s2 = minigpt5.readEval(path.join(runs, name(2, 'full')));
  expect(s2.scenes).toBeUndefined();
  for (const c of minigpt5.CONTEXTS) {
    expect(s2.contexts!.minigpt5[c]).toHaveLength(z.stories);
    expect(s2.contexts!.twoStage[c]).toHaveLength(z.stories);
    // the two-stage baseline draws the last narration and what the LM wrote after it
    s2.contexts!.captions[c].forEach((cap, i) => expect(cap.startsWith(store.stories('test')[i].frames.at(-1)!.narration)).toBe(true));
  }
  expect(s2.contexts!.samples).toHaveLength(z.samples * 4);
  expect(s2.narration!.nll).toHaveLength(z.narration);
  const t = minigpt5.readEval(path.join(runs, name(2, 'text-only')));
  expect([t.contexts, t.routing, t.narration!.items]).toEqual([undefined, undefined, z.narration]);
});

test('trainStage again: nothing to do on a finished stage; without eval.json it evaluates alone, to the same scores', async () => {
  const dir = path.join(runs, name(1, 'full'));
  const metrics = fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8');
  const before = minigpt5.readEval(dir);
  const lines: string[] = [];
  const again = () => minigpt5.trainStage({ ...tinyRecipe(store, ldmDir), stage: 1, arm: 'full', seed: 0, outDir: dir, runDir: path.join(root, 'runs', 'gone'), log: (s) => lines.push(s) });
  await again();
  expect(lines).toEqual([`[${name(1, 'full')}] ${dir} holds this finished and evaluated stage; nothing to do (--fresh trains it again)`]);
  fs.rmSync(path.join(dir, minigpt5.EVAL_FILE));
  expect(minigpt5.placeRuns(runs, minigpt5.wantedRuns([0])).find((p) => p.name === name(1, 'full'))!.problem).toBe(
    `${name(1, 'full')} is trained but not evaluated: ${dir} has no eval.json (its held-out scores, written after training); if its evaluation is running, wait; otherwise run ${cmd(1, 'full')} again to finish it`,
  );
  lines.length = 0;
  await again();
  expect(lines[0]).toBe(`[${name(1, 'full')}] ${dir} holds this finished stage without its held-out evaluation: evaluating it`);
  expect(fs.existsSync(path.join(root, 'runs', 'gone'))).toBe(false); // no training: no run directory
  expect(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8')).toBe(metrics);
  const after = minigpt5.readEval(dir);
  expect({ ...after, wallTimeS: 0, date: '' }).toEqual({ ...before, wallTimeS: 0, date: '' });
}, 300_000);

test('heldOutFirst: evaluating the first items again gives the first items the run recorded', async () => {
  // the first whole batch of scenes (4) and both stories, so each image is drawn in the batch it was; narration
  // is scored item by item, so its first 2 of 3 come back alike
  const first = { scenes: 4, stories: 2, narration: 2 };
  const tools = { store, clip: ClipModel.load(checkpointDir('clip-emoji')), checker: SceneChecker.fromStore(store), vq: VQVAE.load(checkpointDir('vqvae-emoji')) };
  const ldm = LatentDiffusion.load(ldmDir);
  try {
    for (const run of [name(1, 'full'), name(2, 'full'), name(2, 'text-only')]) {
      const dir = path.join(runs, run);
      const rec = minigpt5.readEval(dir);
      const m = minigpt5.readRunMetrics(dir);
      const p = await minigpt5.loadStage(dir, { baseDir: checkpointDir('mm-moe-small') });
      try {
        const now = await minigpt5.evaluateStage({ ...p, ldm }, { name: run, stage: m.stage as minigpt5.Stage, arm: m.arm, seed: m.seed }, { ...tools, encode: (imgs) => tools.vq.encodeImages(imgs) }, minigpt5.heldOutFirst(rec, first));
        expect([now.drawing, now.cfgSweep, now.routing]).toEqual([rec.drawing, undefined, undefined]);
        expect(minigpt5.firstScores(now, first)).toEqual(minigpt5.firstScores(rec, first));
      } finally {
        p.adapter?.detach();
        p.mapper?.dispose();
        p.session.dispose();
      }
    }
  } finally {
    ldm.dispose();
    tools.clip.dispose();
    tools.checker.dispose();
    tools.vq.dispose();
  }
}, 300_000);

test('placeRuns: finished, unfinished and missing runs, each with its command', () => {
  const places = minigpt5.placeRuns(runs);
  expect(places).toHaveLength(6 * 3 + 2 * 3);
  const at = (n: string) => places.find((p) => p.name === n)!;
  expect(places.filter((p) => p.state === 'finished').map((p) => p.name).sort()).toEqual([name(1, 'full'), name(1, 'no-cfg'), name(2, 'full'), name(2, 'text-only')].sort());
  const unfinished = at(name(1, 'no-cap'));
  expect([unfinished.state, unfinished.problem]).toEqual(['unfinished', `${name(1, 'no-cap')} is not finished: ${unfinished.dir} has no metrics.json (written when training ends); if it is still training, wait; if it was interrupted, run ${cmd(1, 'no-cap')} again to resume it`]);
  const missing = at(name(1, 'decoder-only', 2));
  expect([missing.state, missing.problem, missing.command]).toEqual(['missing', `${name(1, 'decoder-only', 2)} is not trained: ${missing.dir} does not exist (${cmd(1, 'decoder-only', 2)})`, cmd(1, 'decoder-only', 2)]);
  // an interrupted run has only its run directory: started when placeRuns is told where run directories are
  expect(at(name(1, 'no-ldm')).state).toBe('missing');
  const runDir = path.join(root, 'runs', name(1, 'no-ldm'));
  const seen = minigpt5.placeRuns(runs, minigpt5.wantedRuns(), (r) => path.join(root, 'runs', r)).find((p) => p.name === name(1, 'no-ldm'))!;
  expect([seen.state, seen.problem]).toEqual(['unfinished', `${name(1, 'no-ldm')} is not finished: ${runDir} holds its snapshots but ${seen.dir} does not exist yet (written when training ends); if it is still training, wait; if it was interrupted, run ${cmd(1, 'no-ldm')} again to resume it`]);
});

test('shipping: metrics and scores byte for byte, the live runs’ weights as float16 that load back; unfinished runs are skipped with the reason', async () => {
  const to = path.join(root, 'shipped');
  const r = minigpt5.shipRuns({ from: runs, to, log: quiet });
  expect(r.shipped.map((x) => x.run).sort()).toEqual([name(1, 'full'), name(1, 'no-cfg'), name(2, 'full'), name(2, 'text-only')].sort());
  expect(r.skipped.find((s) => s.run === name(1, 'no-cap'))!.reason).toContain('is not finished');
  expect(r.skipped).toHaveLength(24 - 4);
  for (const x of r.shipped) {
    for (const f of ['metrics.json', 'eval.json']) expect(fs.readFileSync(path.join(to, x.run, f))).toEqual(fs.readFileSync(path.join(runs, x.run, f)));
    expect(JSON.parse(fs.readFileSync(path.join(to, x.run, minigpt5.SHIPPED_FILE), 'utf8'))).toEqual(x);
  }
  const s1 = r.shipped.find((x) => x.run === name(1, 'full'))!;
  expect(s1.weights.map((w) => w.file)).toEqual(['vokens.safetensors', 'mapper/mapper.safetensors']);
  expect(r.shipped.find((x) => x.run === name(2, 'full'))!.weights.map((w) => w.file)).toEqual(['vokens.safetensors', 'mapper/mapper.safetensors', 'adapter/adapter_model.safetensors']);
  expect(r.shipped.find((x) => x.run === name(1, 'no-cfg'))!.weights).toEqual([]);
  expect(fs.existsSync(path.join(to, name(1, 'no-cfg'), 'vokens.safetensors'))).toBe(false);
  for (const w of s1.weights) {
    const st = readSafetensors(path.join(to, s1.run, w.file));
    expect([...st.tensors.values()].every((t) => t.dtype === 'F16')).toBe(true);
    expect(w.bytes).toBe(fs.statSync(path.join(to, s1.run, w.file)).size);
    expect(w.from).toBe('F32');
    expect(w.maxRoundingError).toBeLessThan(1e-2);
  }
  // the shipped stage loads as the trained one does, its weights within float16 rounding
  for (const run of [name(1, 'full'), name(2, 'full')]) {
    const a = await minigpt5.loadStage(path.join(runs, run), { baseDir: checkpointDir('mm-moe-small') });
    const b = await minigpt5.loadStage(path.join(to, run), { baseDir: checkpointDir('mm-moe-small') });
    try {
      const va = minigpt5.vokenRows(a.session.model, a.session.tokenizer).get('embed')!.data;
      const vb = minigpt5.vokenRows(b.session.model, b.session.tokenizer).get('embed')!.data;
      expect(va.every((x, i) => Math.abs(x - vb[i]) <= Math.abs(x) * 2 ** -10 + 1e-7)).toBe(true);
      expect(b.mapper!.config).toEqual(a.mapper!.config);
      expect(b.adapter === null).toBe(a.adapter === null);
    } finally {
      for (const s of [a, b]) {
        s.adapter?.detach();
        s.mapper?.dispose();
        s.session.dispose();
      }
    }
  }
  // the shipped folder reads as the runs folder does
  expect(minigpt5.placeRuns(to).filter((p) => p.state === 'finished').length).toBe(4);
});

test('shipping refuses, naming the run, what is missing and the command; nothing is written', () => {
  const to = path.join(root, 'refused');
  const ship = (runsList: string[], o: Partial<minigpt5.ShipOptions> = {}) => () => minigpt5.shipRuns({ from: runs, to, runs: runsList, ...o });
  expect(() => minigpt5.shipRuns({ from: path.join(root, 'nowhere'), to })).toThrow(`minigpt5.shipRuns: ${path.join(root, 'nowhere')} does not exist (the runs' folder: npm run train:minigpt5 writes .cache/minigpt5/<run>/)`);
  expect(ship(['minigpt5-s3-full-seed0'])).toThrow("minigpt5.shipRuns: unknown run 'minigpt5-s3-full-seed0'; runs are minigpt5-s1-full-seed0, ");
  expect(ship([name(1, 'decoder-only')])).toThrow(`minigpt5.shipRuns: ${name(1, 'decoder-only')} is not trained: ${path.join(runs, name(1, 'decoder-only'))} does not exist (${cmd(1, 'decoder-only')})`);
  expect(ship([name(1, 'no-cap')])).toThrow(`minigpt5.shipRuns: ${name(1, 'no-cap')} is not finished: ${path.join(runs, name(1, 'no-cap'))} has no metrics.json (written when training ends); if it is still training, wait; if it was interrupted, run ${cmd(1, 'no-cap')} again to resume it`);
  // not evaluated; a live run without its mapper (copies of finished runs under another runs folder)
  const other = path.join(root, 'other', minigpt5.RUNS_FOLDER);
  copyRun(path.join(runs, name(1, 'full')), path.join(other, name(1, 'full')));
  copyRun(path.join(runs, name(1, 'no-cfg')), path.join(other, name(1, 'no-cfg')));
  fs.rmSync(path.join(other, name(1, 'no-cfg'), 'eval.json'));
  fs.rmSync(path.join(other, name(1, 'full'), 'mapper'), { recursive: true });
  const from = { from: other };
  expect(ship([name(1, 'no-cfg')], from)).toThrow(`minigpt5.shipRuns: ${name(1, 'no-cfg')} is trained but not evaluated: ${path.join(other, name(1, 'no-cfg'))} has no eval.json (its held-out scores, written after training); if its evaluation is running, wait; otherwise run ${cmd(1, 'no-cfg')} again to finish it`);
  expect(ship([name(1, 'full')], from)).toThrow(`minigpt5.shipRuns: ${name(1, 'full')} has metrics.json but no mapper (${path.join(other, name(1, 'full'))}); its output is incomplete: train it again with ${cmd(1, 'full')} --fresh`);
  // over the budget: nothing written, even for the runs that fit
  expect(ship([name(1, 'no-cfg'), name(1, 'full')], { maxFileBytes: 1000 })).toThrow(new RegExp(`^minigpt5.shipRuns: ${name(1, 'full')}'s vokens.safetensors is \\d+\\.\\d KB in float16, over the 1.0 KB a shipped weight file may take; nothing was shipped$`));
  expect(fs.existsSync(to)).toBe(false);
});
