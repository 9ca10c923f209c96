/**
 * The decoder's floor under MUMU's checker scores (floor.ts): the decoder's gate object accuracy is read from its
 * metrics.json (bad files refused by name), and a results file is "at the floor" exactly when no run set's identity
 * or harmonised rate is more than 2 s.e. above zero — hand-made per-prompt scores on either side of that line.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mumu } from '../../kernel-lib';
import { runMetrics } from './mumu-helpers';

const N = 20;
/** Per-prompt 0/1 scores with `hits` ones (the rest 0), the same for every seed. */
const hits = (h: number) => Array.from({ length: N }, (_, i) => (i < h ? 1 : 0));
function seedSet(identity: number, harmonised: number): mumu.SeedSet {
  return { identity: hits(identity), cropClipI: Array.from({ length: N }, (_, i) => 0.1 + 0.01 * i), copied: hits(0), harmonised: hits(harmonised) };
}
function run(arm: mumu.Arm, t: mumu.TokensPerCrop | null, identity: number, harmonised: number, otherHarmonised = 0): mumu.RunScores {
  const seeds = [0, 1, 2];
  return {
    arm,
    tokensPerCrop: t,
    metrics: seeds.map((k) => runMetrics(arm, t, k)),
    sameSource: seeds.map(() => seedSet(identity, harmonised)),
    otherSource: seeds.map(() => Object.fromEntries(mumu.OTHER_SOURCES.map((o) => [o, seedSet(0, o === 'two-scenes' ? otherHarmonised : 0)])) as Record<mumu.OtherSource, mumu.SeedSet>),
  };
}
const results = (runs: mumu.RunScores[]) =>
  mumu.results({ quick: true, retrained: false, base: 'mm-moe-small', decoder: 'ldm-emoji', sameSource: { split: 'test', items: N }, otherSource: { split: 'test', items: N }, runs, date: new Date('2026-01-02T00:00:00Z') });

test('at the floor: every identity and harmonised rate within 2 s.e. of zero (one hit in 20 is 0.05 ± 0.05)', () => {
  const f = mumu.checkerFloor(results([run('mumu', 64, 1, 0), run('caption-only', null, 0, 0)]), 0.034);
  expect(f.atFloor).toBe(true);
  expect(f.maxIdentity).toEqual({ run: 'mumu t64', set: 'same-source', mean: 0.05, standardError: 0.05 });
  expect(f.maxHarmonised?.mean).toBe(0);
  expect(f.line).toBe(
    'The scene checker finds the named object in 3.4 % of the scenes the decoder draws from its own captions (its gate). ' +
      'Here identity is at most 5.0 % (mumu t64, same-source ± 5.0 % s.e.) and harmonised is 0 % for every run set. ' +
      "No run set's identity or harmonised rate is more than 2 s.e. above zero: these checker scores sit at the decoder's floor and cannot separate arms, " +
      'so the verdicts that need them are bounded by the decoder, not decided by the method; crop CLIP-I is the score that separates the arms here.',
  );
});

test('not at the floor when one run set clears 2 s.e. on identity, or on harmonised in one other-source set', () => {
  const byIdentity = mumu.checkerFloor(results([run('mumu', 64, 8, 0), run('caption-only', null, 0, 0)]), 0.034); // 0.4 ± 0.11
  expect(byIdentity.atFloor).toBe(false);
  expect(byIdentity.maxIdentity?.run).toBe('mumu t64');
  expect(byIdentity.line).toMatch(/Some run set scores more than 2 s\.e\. above zero, so the checker scores do separate arms\.$/);
  const byHarmonised = mumu.checkerFloor(results([run('mumu', 64, 0, 0), run('caption-only', null, 0, 0, 10)]), 0.5);
  expect(byHarmonised.atFloor).toBe(false);
  expect(byHarmonised.maxHarmonised).toMatchObject({ run: 'caption-only', set: 'two-scenes', mean: 0.5 });
});

test("the decoder's object accuracy comes from its metrics.json; a missing, unreadable or incomplete file is named", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mumu-floor-'));
  try {
    expect(() => mumu.decoderObjectAccuracy(dir)).toThrow(`mumu: the decoder ${dir} has no metrics.json (score it: npm run train:diffusion -- --eval-only --baseline)`);
    const file = path.join(dir, 'metrics.json');
    fs.writeFileSync(file, '{ not json');
    expect(() => mumu.decoderObjectAccuracy(dir)).toThrow(`mumu: ${file} is not JSON (`);
    fs.writeFileSync(file, JSON.stringify({ gate: { at_default: { scenes: { object_accuracy: 1.5 } } } }));
    expect(() => mumu.decoderObjectAccuracy(dir)).toThrow(`mumu: ${file} has no gate.at_default.scenes.object_accuracy in [0, 1]`);
    fs.writeFileSync(file, JSON.stringify({ gate: { at_default: { scenes: { object_accuracy: 0.25 } } } }));
    expect(mumu.decoderObjectAccuracy(dir)).toBe(0.25);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // the shipped decoder's gate, as it shipped
  expect(mumu.decoderObjectAccuracy(path.resolve(__dirname, '../../data/checkpoints/ldm-emoji'))).toBeCloseTo(0.0342, 4);
});
