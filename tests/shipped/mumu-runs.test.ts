/**
 * The shipped MUMU runs (data/checkpoints/mumu/<run>/, npm run ship:mumu) are what notebook 05's quick mode
 * reads: each is a finished run named by its metrics, with its held-out scores (its own, drawn as DRAW says,
 * on the held-out prompts every run shares); the live runs (seed 0 of each run set but decoder-full) also ship
 * their connector and decoder LoRA, float16, all together within the 15 MB budget, and no other run ships
 * weights. The live runs' float16 weights, loaded on the shipped mm-moe-small and ldm-emoji, draw the first
 * held-out prompts again as evaluate.ts drew them (prompt i from the noise of seed i, 25 DDIM steps, CFG 4)
 * and score them as the run did in float32 when it finished (eval-heldout.json).
 *
 * Measured on the six live runs (3 prompts each): the run's own float32 weights redraw every score exactly
 * (a batch of 3 instead of the run's 8 changes nothing at the file's 6 decimals); the shipped float16 weights
 * (largest rounding 1e-3) move crop CLIP-I by at most 7.5e-4 (mumu-t4-seed0, prompt 1), and leave identity,
 * copy share and harmonised equal on all 18 prompts. So CLIP-I within 3e-3, 4× that: any two of the runs
 * shipped so far differ on at least one of these prompts by more than twice it (the closest pair, mumu-t64 and
 * no-augment-t64-seed0, which differ only in crop augmentation, by 7.1e-3; most pairs by 0.05 or more). The
 * scene checker's and the copy test's shares must match exactly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useBackend } from '../helpers/backend';
import { mumu } from '../../kernel-lib';
import { readSafetensors } from '../../kernel-lib/checkpoint/safetensors';

const ROOT = path.resolve(__dirname, '../../data/checkpoints', mumu.RUNS_FOLDER);
const RUNS = fs.existsSync(ROOT) ? fs.readdirSync(ROOT).filter((n) => !n.startsWith('.')).sort() : [];
const LIVE = RUNS.filter((r) => mumu.LIVE_RUNS.includes(r));
/** Same-source prompts drawn again per live run (the third is the first with generic words: an identity score). */
const FIRST = 3;
const CLIP_I = 3e-3;

let tools: mumu.MumuTools;
beforeAll(async () => {
  await useBackend();
  tools = await mumu.openTools();
}, 120_000);
afterAll(() => tools?.dispose());

const filesUnder = (dir: string): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)).map((f) => `${e.name}/${f}`) : [e.name]));

const weightFiles = (dir: string) => filesUnder(dir).filter((f) => f.endsWith('.safetensors'));

test('every shipped run is finished, named by its metrics, scored on the shared held-out prompts as DRAW says', () => {
  expect(RUNS.length).toBeGreaterThan(0);
  const wanted = mumu.wantedRuns();
  expect(RUNS.filter((r) => !wanted.some((w) => w.name === r))).toEqual([]);
  const places = mumu.placeRuns(ROOT, wanted.filter((w) => RUNS.includes(w.name)));
  const held = mumu.heldOutSets(tools.store, mumu.HELD_OUT);
  for (const p of places) {
    // runProblem: metrics.json of the run, stopped 'done'; eval-heldout.json well formed and scoring this run
    expect({ run: p.name, problem: p.problem }).toEqual({ run: p.name, problem: null });
    const s = mumu.readHeldOutScores(p.dir);
    expect(s).toMatchObject({ run: p.name, split: mumu.HELD_OUT_SPLIT, draw: mumu.DRAW });
    expect(s.sameSource.ids).toEqual(held.sameSource.map((e) => e.id));
    for (const k of mumu.OTHER_SOURCES) expect(s.otherSource[k].ids).toEqual(held.otherSource[k].map((e) => e.id));
  }
  expect(() => mumu.readFinished(places)).not.toThrow();
});

test('the live runs, and only they, ship their weights: float16, as shipped.json records, within 15 MB', () => {
  expect(LIVE.length).toBeGreaterThan(0);
  let total = 0;
  for (const run of RUNS) {
    const dir = path.join(ROOT, run);
    const rec = JSON.parse(fs.readFileSync(path.join(dir, mumu.SHIPPED_FILE), 'utf8')) as mumu.ShipRecord;
    expect(rec.run).toBe(run);
    expect(filesUnder(dir).sort()).toEqual([...rec.files, mumu.SHIPPED_FILE].sort());
    const weights = weightFiles(dir);
    if (!LIVE.includes(run)) {
      expect({ run, weights, record: rec.weights }).toEqual({ run, weights: [], record: null });
      continue;
    }
    const m = mumu.readRunMetrics(dir);
    const dirs = [m.files.connector, m.files.decoderLoRA].filter((x): x is string => x !== undefined);
    expect(dirs.length).toBeGreaterThan(0);
    expect(new Set(weights.map((f) => f.split('/')[0]))).toEqual(new Set(dirs));
    const bytes = weights.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    expect(rec.weights?.bytes).toBe(bytes);
    for (const f of weights) expect([...readSafetensors(path.join(dir, f)).tensors.values()].every((t) => t.dtype === 'F16')).toBe(true);
    total += bytes;
  }
  expect(total).toBeLessThanOrEqual(mumu.SHIP_MAX_WEIGHT_BYTES);
});

describe.each(LIVE)('%s', (run) => {
  test('the float16 weights draw and score the first held-out prompts as the run did', async () => {
    const dir = path.join(ROOT, run);
    const rec = mumu.readHeldOutScores(dir);
    const examples = mumu.heldOutSets(tools.store, { sameSource: FIRST, otherSource: 2 }).sameSource;
    const parts = await mumu.loadMumu(dir, { baseDir: tools.baseDir, ldmDir: tools.ldmDir });
    try {
      const now = await mumu.scoreSet(parts, examples, tools, rec.draw);
      const was = (k: 'identity' | 'cropClipI' | 'copied' | 'harmonised') => rec.sameSource[k].slice(0, FIRST);
      expect(now.ids).toEqual(rec.sameSource.ids.slice(0, FIRST));
      expect({ identity: now.identity, copied: now.copied, harmonised: now.harmonised }).toEqual({ identity: was('identity'), copied: was('copied'), harmonised: was('harmonised') });
      now.cropClipI.forEach((x, i) => {
        const r = was('cropClipI')[i];
        expect({ i, close: x === null || r === null ? x === r : Math.abs(x - r) < CLIP_I }).toEqual({ i, close: true });
      });
    } finally {
      parts.dispose();
    }
  }, 60_000);
});
