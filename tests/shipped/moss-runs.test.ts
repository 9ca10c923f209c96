/**
 * The shipped MoSS runs (data/checkpoints/moss/<run>/, npm run ship:moss) are what notebook 02's quick mode
 * reads: each is a finished run with its held-out scores. An adapter run ships its adapter float16 and at most
 * 2 MB, and the float16 adapter, loaded on the shipped mm-moe-small, re-scores the first held-out test items of
 * each task as the run scored them in float32 when it finished (eval-test.json): at least 4 of the 6 items within
 * 5e-4 nats (image and text NLL) and every item within 0.05. Why not every item within 5e-4: rounding an adapter to
 * float16 can flip which 4 of 16 experts a position goes to where the 4th and 5th router probabilities are nearly
 * tied, and a flip moves that item's NLL. Measured 2026-12-06 (.cache probe, the runs' own float32 adapters beside the
 * shipped float16 ones): every float32 adapter re-scores all 6 items within 5e-5; with float16, in the 3 of 42 runs a
 * fresh clone's test found off (moss-lora-r16-seed0, moss-moe-lora-r16-seed2, moss-moss-r16-seed2), story/test/1 moved
 * 1.3e-3–2.5e-3 (image) and up to 1.6e-2 (text), and in each that item's routing differed from float32's at 1–3
 * (position, layer) pairs, where the float32 router's 4th and 5th probabilities were 4.7e-7 to 1.8e-3 apart; every
 * other item was within 4.2e-4 (two of them with one flip each). Over all 42 adapter runs, 8 have one item of the 6
 * (never two) at 5.9e-4 to 1.6e-2 and the rest within 5e-4. A swapped adapter is still caught: any two shipped runs'
 * stored scores agree within 2e-3 on at most 2 of these 6 items.
 * A full fine-tuning run ships no weights, so there is nothing to re-score: its directory holds exactly its
 * metrics, its scores and a shipped.json saying `weights: 'none'`, and loadArm says so instead of loading.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useBackend } from '../helpers/backend';
import { moss } from '../../kernel-lib';
import { readSafetensors } from '../../kernel-lib/checkpoint';
import { ensureData } from '../../kernel-lib/data/store';
import { VQVAE } from '../../kernel-lib/image';

const CK = path.resolve(__dirname, '../../data/checkpoints');
const ROOT = path.join(CK, moss.SHIPPED_FOLDER);
const RUNS = fs.existsSync(ROOT) ? fs.readdirSync(ROOT).filter((n) => !n.startsWith('.')).sort() : [];
/** The runs whose weights ship (every one but full fine-tuning's, whose shipped.json says `weights: 'none'`). */
const ADAPTER_RUNS = RUNS.filter((run) => moss.readShipRecord(path.join(ROOT, run))?.weights !== 'none');
/** Held-out test items per task re-scored per run (the first ones: eval-test.json lists the tasks in this order). */
const CHECK_ITEMS = 2;
/** Re-scored NLLs (nats): every item within RESCORE_ANY, at least RESCORE_CLOSE_ITEMS within RESCORE_CLOSE (see the file comment). */
const RESCORE_ANY = 0.05;
const RESCORE_CLOSE = 5e-4;
const RESCORE_CLOSE_ITEMS = 4;

beforeAll(() => useBackend());

test('every shipped run directory is a finished run named by its metrics: an adapter float16, ≤ 2 MB; full fine-tuning with no weights', async () => {
  expect(RUNS.length).toBeGreaterThan(0);
  for (const run of RUNS) {
    const dir = path.join(ROOT, run);
    const m = moss.checkFinishedRun(dir, 'shipped');
    expect(m.name).toBe(run);
    const rec = moss.readShipRecord(dir);
    expect(rec?.run).toBe(run);
    if (rec?.weights === 'none') {
      expect(m.arm).toBe('full');
      expect(fs.readdirSync(dir).sort()).toEqual([moss.evalFile('test'), moss.METRICS_FILE, moss.SHIPPED_FILE]);
      expect(rec.reason).toBe(`full fine-tuning trains all ${m.trainableParams} weights of the base: a whole model, not an adapter of ≤ 2 MB`);
      await expect(moss.loadArm(dir, path.join(CK, 'mm-moe-small'))).rejects.toThrow(new Error(moss.noWeightsMessage('moss.loadArm', run)));
      continue;
    }
    expect(m.arm).not.toBe('full');
    const file = path.join(dir, moss.ADAPTER_DIR, 'adapter_model.safetensors');
    expect(fs.statSync(file).size).toBeLessThanOrEqual(moss.SHIP_MAX_BYTES);
    expect([...readSafetensors(file).tensors.values()].every((t) => t.dtype === 'F16')).toBe(true);
    expect(rec).toMatchObject({ run, dtype: 'F16', adapterBytes: fs.statSync(file).size });
  }
});

/** The same held-out items for every run: built, and their images encoded, once. */
let heldOutItems: ReturnType<typeof moss.heldOutItems> | undefined;
async function heldOut(): Promise<ReturnType<typeof moss.heldOutItems>> {
  if (heldOutItems) return heldOutItems;
  const vq = VQVAE.load(path.join(CK, 'vqvae-emoji'));
  try {
    heldOutItems = moss.heldOutItems(await ensureData(), (im) => vq.encodeImages(im), { split: 'test', perKind: CHECK_ITEMS });
  } finally {
    vq.dispose();
  }
  return heldOutItems;
}

describe.each(ADAPTER_RUNS)('%s', (run) => {
  test('the float16 adapter re-scores the first held-out items of each task as the run did', async () => {
    const dir = path.join(ROOT, run);
    const scored = moss.readItemScores(dir, 'test');
    const items = await heldOut();
    const { session, adapter } = await moss.loadArm(dir, path.join(CK, 'mm-moe-small'));
    try {
      const now = moss.scoreItems(session, items);
      const off: string[] = [];
      for (const [i, id] of now.ids.entries()) {
        const k = scored.ids.indexOf(id);
        expect(k).toBeGreaterThanOrEqual(0);
        const d = [Math.abs(now.imageNll[i] - scored.imageNll[k])];
        if (Number.isFinite(scored.textNll[k])) d.push(Math.abs(now.textNll[i] - scored.textNll[k]));
        else expect(Number.isNaN(now.textNll[i])).toBe(true);
        expect({ id, d, within: Math.max(...d) < RESCORE_ANY }).toEqual({ id, d, within: true });
        if (Math.max(...d) >= RESCORE_CLOSE) off.push(id);
      }
      expect({ off, closeEnough: now.ids.length - off.length >= RESCORE_CLOSE_ITEMS }).toEqual({ off, closeEnough: true });
    } finally {
      adapter?.detach();
      session.dispose();
    }
  });
});
