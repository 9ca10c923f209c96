/**
 * bench/head-rows.ts on the real parts (mm-moe-small, ldm-emoji, vqvae-emoji, the data build): on a real batch
 * of each user — MUMU at 64 and 4 tokens per crop and its prompt states, MoSS's instruction batch with the
 * `lora` adapter and with every weight trained, MiniGPT-5's stage-1 step — the new path's loss values and every
 * trained gradient are the old path's bits, and it leaves no tensor behind (checked inside, untimed here).
 * The printed line and the comparison of host outputs are checked on hand-made numbers.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { benchHeadRows, compareOuts, formatHeadRows, HEAD_USERS, HeadRowsResult } from '../../bench/head-rows';
import { runBench } from '../../bench/run';

beforeAll(() => useBackend('wasm'));

test('real batches of every user: bit-identical values and gradients, the head skipped where nothing reads it, no tensor left', async () => {
  const before = tf.memory().numTensors;
  const logs: string[] = [];
  const rs = await benchHeadRows({ users: HEAD_USERS, rounds: 0, log: (x) => logs.push(x) });
  expect(tf.memory().numTensors).toBe(before);
  expect(rs.map((r) => r.user)).toEqual([...HEAD_USERS]);
  for (const r of rs) {
    expect([r.user, r.exact.valuesSame, r.exact.differing, r.exact.gradsSame === r.exact.grads]).toEqual([r.user, true, [], true]);
    expect([r.cpu_ms, r.wall_ms, r.cpu_samples]).toEqual([null, null, null]);
  }
  const by = Object.fromEntries(rs.map((r) => [r.user, r]));
  for (const u of ['mumu-t64', 'mumu-t4', 'mumu-eval'] as const) expect(by[u].batch.headRows).toBe(0);
  expect(by['mumu-t64'].exact.grads).toBeGreaterThan(0);
  expect(by['mumu-t4'].exact.grads).toBeGreaterThan(by['mumu-t64'].exact.grads); // the pooling trains too
  for (const u of ['moss', 'moss-full', 'minigpt5'] as const) {
    expect(by[u].batch.headRows).toBeGreaterThan(0);
    expect(by[u].batch.headRows).toBeLessThan(by[u].batch.positions);
  }
  expect(by['moss-full'].exact.grads).toBe(3 + 7 * 4); // every weight of mm-moe-small (embed, lm_head, final_norm; 7 a layer), the head among them
  expect(logs).toHaveLength(HEAD_USERS.length);
}, 600_000);

test('compareOuts and formatHeadRows: bits, max |Δ| and the differing names as computed; bad users and rounds named', async () => {
  const a = { values: Float32Array.of(1, 2), grads: new Map([['w', Float32Array.of(0.5, -1)], ['v', Float32Array.of(3)]]) };
  const b = { values: Float32Array.of(1, 2.5), grads: new Map([['w', Float32Array.of(0.5, -1.25)], ['v', Float32Array.of(3)]]) };
  const e = compareOuts(a, b);
  expect(e).toEqual({ valuesSame: false, valuesMaxDiff: 0.5, gradsSame: 1, grads: 2, gradsMaxDiff: 0.25, differing: ['w'] });
  expect(compareOuts(a, a)).toEqual({ valuesSame: true, valuesMaxDiff: 0, gradsSame: 2, grads: 2, gradsMaxDiff: 0, differing: [] });
  expect(() => compareOuts(a, { values: Float32Array.of(1), grads: a.grads })).toThrow('head-rows: the paths give 2 and 1 values');
  const r: HeadRowsResult = { user: 'moss', batch: { rows: 8, positions: 3096, headRows: 576 }, exact: e, cpu_ms: { old: 4894, new: 4305, ratio: 0.88 }, wall_ms: { old: 4868, new: 4303, ratio: 0.884 }, cpu_samples: { old: [4894], new: [4305] } };
  expect(formatHeadRows([r, { ...r, user: 'mumu-eval', exact: compareOuts(a, a), cpu_ms: null, wall_ms: null, cpu_samples: null }])).toBe(
    'LM head only where read (new) against every position (old); median ms per step, process CPU and wall:\n' +
      '  moss      8×387, head on 576 of 3096 rows: CPU 4894 → 4305 (0.88×), wall 4868 → 4303 (0.884×); values max |Δ| 5.00e-1, gradients 1/2 bit-identical (max |Δ| 2.50e-1 in w)\n' +
      '  mumu-eval 8×387, head on 576 of 3096 rows: not timed; values bit-identical, gradients 2/2 bit-identical\n',
  );
  await expect(benchHeadRows({ users: ['mumu'] as never, rounds: 0, log: () => undefined })).rejects.toThrow("bench head-rows: unknown user 'mumu' (expected mumu-t64, mumu-t4, mumu-eval, moss, moss-full, minigpt5)");
  await expect(benchHeadRows({ users: ['moss'], rounds: -1, log: () => undefined })).rejects.toThrow('bench head-rows: rounds must be an integer ≥ 0, got -1');
  await expect(runBench(['--only', 'head-rows', '--head-users', 'moss,liquid'])).rejects.toThrow("--head-users: unknown user 'liquid' (expected mumu-t64, mumu-t4, mumu-eval, moss, moss-full, minigpt5)");
});
