/**
 * mumu.conditioningProbe on the tiny LM and tiny random decoder (a random connector, a random-weight decoder:
 * its conditioning does move its output): own == shuffled when every item is the same prompt and scene; the
 * null kind reads keep 0 (its errors do not depend on the prompts, for a prompt arm and caption-only); the
 * three kinds differ on different prompts; the batching changes nothing; no tensor outlives a call.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { mumu, Session } from '../../kernel-lib';
import type { LatentDiffusion } from '../../kernel-lib/diffusion';
import { clearAttentionCache } from '../../kernel-lib/diffusion/attention';
import { mumuPrompts } from '../../kernel-lib/data/mumu-prompts';
import { useBackend } from '../helpers/backend';
import { tempDir } from '../data/helpers';
import { smallStore, tinyCropEncoder, tinyParts } from './mumu-helpers';

let dir: string;
let s: Session;
let ldm: LatentDiffusion;
let items: mumu.MumuItem[];
beforeAll(async () => {
  await useBackend();
  dir = tempDir('mumu-probe');
  const store = await smallStore(dir);
  ({ session: s, ldm } = await tinyParts(5));
  const list = mumuPrompts(store, { split: 'val', seed: 0, augment: false });
  items = mumu.codeExamples(Array.from({ length: 5 }, (_, i) => list.get(i)), tinyCropEncoder);
});
afterAll(() => {
  s.dispose();
  ldm.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

const connectorFor = (tokens: number | null) =>
  mumu.Connector.create({ connector: mumu.defaultConnectorConfig({ hiddenSize: 32, dim: ldm.config.caption.dim }, { layers: 2 }), pooler: tokens === null ? null : mumu.defaultPoolerConfig({ hiddenSize: 32, codes: 16, tokens }) }, 3);
const BANDS = [[1, 500], [500, 1001]] as const;
const O = { seeds: [0, 1], bands: BANDS };
const allBands = (r: mumu.ConditioningProbeResult) => [r.overall, ...r.bands];
const kindsOf = (r: mumu.ConditioningProbeResult, kind: 'own' | 'shuffled' | 'null') => allBands(r).flatMap((b) => [b.eps[kind], b.x0[kind]]);

function settle(): void {
  clearAttentionCache();
  ldm.denoiser.dispose();
}

test.each([[4], [null]])('prompt arm (%p tokens per crop): identical items give own == shuffled; different prompts move own and shuffled but never null; batching changes nothing; no tensor leaks', (N) => {
  settle();
  const c = connectorFor(N);
  const run = { session: s, connector: c, ldm };
  const body = () => {
    const same = mumu.conditioningProbe(run, [items[1], items[1], items[1]], O);
    expect(same.scenes).toBe(3);
    expect(same.seeds).toEqual([0, 1]);
    expect(same.bands.map((b) => [b.from, b.to])).toEqual(BANDS.map((b) => [...b]));
    expect([same.overall.from, same.overall.to]).toEqual([1, ldm.config.timesteps + 1]);
    for (const b of allBands(same)) {
      for (const e of [b.eps, b.x0]) {
        expect(e.shuffled).toBe(e.own);
        expect(e.shuffledMinusOwn).toEqual({ mean: 0, se: 0 });
      }
    }
    const a = mumu.conditioningProbe(run, items, O);
    // the same scenes with other prompts (each item's prompt replaced by the next item's): null reads none of them
    const swapped = items.map((it, i) => ({ ...it, prompt: items[(i + 1) % items.length].prompt }));
    const b = mumu.conditioningProbe(run, swapped, O);
    expect(kindsOf(b, 'null')).toEqual(kindsOf(a, 'null'));
    expect(kindsOf(b, 'own').every((x, i) => x !== kindsOf(a, 'own')[i])).toBe(true);
    expect(kindsOf(a, 'own').every((x, i) => x !== kindsOf(a, 'shuffled')[i] && x !== kindsOf(a, 'null')[i])).toBe(true);
    // the differences are the per-scene means' differences; their SEs are positive
    for (const band of allBands(a)) {
      expect(Math.abs(band.eps.ownMinusNull.mean - (band.eps.own - band.eps.null))).toBeLessThan(1e-9);
      expect(Math.abs(band.x0.shuffledMinusOwn.mean - (band.x0.shuffled - band.x0.own))).toBeLessThan(1e-9);
      expect(band.eps.ownMinusNull.se).toBeGreaterThan(0);
    }
    const small = mumu.conditioningProbe(run, items, { ...O, batch: 2 });
    const flat = (r: mumu.ConditioningProbeResult) => allBands(r).flatMap((x) => [x.eps.own, x.eps.shuffled, x.eps.null, x.x0.own, x.x0.shuffled, x.x0.null]);
    flat(small).forEach((x, i) => expect(Math.abs(x - flat(a)[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(x))));
  };
  body(); // the LM's and denoiser's kept tables for these batch shapes
  const n0 = tf.memory().numTensors;
  body();
  expect(tf.memory().numTensors).toBe(n0);
  c.dispose();
  settle();
});

test('caption-only (no connector): the decoder’s own caption encoder; null is the empty caption whatever the words; identical items give own == shuffled', () => {
  settle();
  const run = { session: null, connector: null, ldm };
  const body = () => {
    const a = mumu.conditioningProbe(run, items, O);
    const b = mumu.conditioningProbe(run, items.map((it, i) => ({ ...it, caption: items[(i + 2) % items.length].caption })), O);
    expect(kindsOf(b, 'null')).toEqual(kindsOf(a, 'null'));
    expect(kindsOf(a, 'own').every((x, i) => x !== kindsOf(a, 'null')[i])).toBe(true);
    const same = mumu.conditioningProbe(run, [items[0], items[0]], O);
    expect(kindsOf(same, 'shuffled')).toEqual(kindsOf(same, 'own'));
  };
  body(); // the caption encoder's and denoiser's kept tables for these batch shapes
  const n0 = tf.memory().numTensors;
  body();
  expect(tf.memory().numTensors).toBe(n0);
  settle();
});

test('bad input is refused with what is wrong', () => {
  const run = { session: null, connector: null, ldm };
  expect(() => mumu.conditioningProbe(run, items.slice(0, 1))).toThrow('mumu.conditioningProbe: needs at least 2 items (a shuffled prompt is another item\'s), got 1');
  expect(() => mumu.conditioningProbe(run, items, { seeds: [] })).toThrow('mumu.conditioningProbe: seeds must be non-negative integers (at least one), got []');
  expect(() => mumu.conditioningProbe(run, items, { bands: [[0, 10]] })).toThrow(`mumu.conditioningProbe: band [0, 10) is not within timesteps 1…${ldm.config.timesteps}`);
  expect(() => mumu.conditioningProbe(run, items, { batch: 0 })).toThrow('mumu.conditioningProbe: batch must be a positive integer, got 0');
  const c = connectorFor(null);
  expect(() => mumu.conditioningProbe({ session: null, connector: c, ldm }, items)).toThrow('mumu.conditioningProbe: a prompt arm reads its prompts through the LM; give its session');
  c.dispose();
});
