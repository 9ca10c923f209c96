/** The diffusion decoder's quality gate on hand-made records: each criterion, pairing, bad input. */
import { clipGapDifference, GateScenes, judgeLdmGate, judgeLdmGateMetrics } from '../../kernel-lib/recipes/ldm-gate';

function scenes(gap: number[], o: Partial<Omit<GateScenes, 'clip_t'>> = {}): GateScenes {
  const mean = gap.reduce((a, x) => a + x, 0) / gap.length;
  return { clip_t: { own: 0.5, shuffled: 0.5 - mean, paired_difference: { mean, standard_error: 0.01 }, per_caption: gap }, object_accuracy: 0.6, position_accuracy: 0.4, fid_clip: 10, ...o };
}

const base = scenes([0.1, 0.2, 0.15, 0.25], { object_accuracy: 0.3, position_accuracy: 0.2, fid_clip: 20 });

test('a decoder better on every metric passes every criterion', () => {
  const v = judgeLdmGate(scenes([0.4, 0.5, 0.45, 0.55]), base);
  expect(v.criteria.map((c) => c.pass)).toEqual([true, true, true, true]);
  expect(v.pass).toBe(true);
  // paired: the per-caption difference is exactly 0.3 everywhere, so its s.e. is 0
  expect(v.criteria[0].decoder).toBe('0.475 ± 0.010 (difference 0.300 ± 0.000)');
});

test('each criterion fails on its own threshold', () => {
  // CLIP-T above the baseline but below 0.30
  expect(judgeLdmGate(scenes([0.25, 0.3, 0.28, 0.29]), base).criteria[0].pass).toBe(false);
  // ≥ 0.30 but within 2 s.e. of the baseline (the differences scatter: mean 0.15, s.e. ≈ 0.19)
  const noisy = scenes([0.9, 0.1, 0.75, 0.45], {});
  const d = clipGapDifference(noisy, scenes([0.1, 0.8, 0.15, 0.55]));
  expect(d.paired).toBe(true);
  expect(d.mean).toBeCloseTo(0.15, 12);
  expect(judgeLdmGate(noisy, scenes([0.1, 0.8, 0.15, 0.55])).criteria[0].pass).toBe(false);
  // object accuracy above the baseline but under 0.5; position equal (not above); FID equal (not below)
  const v = judgeLdmGate(scenes([0.4, 0.5, 0.45, 0.55], { object_accuracy: 0.45, position_accuracy: 0.2, fid_clip: 20 }), base);
  expect(v.criteria.slice(1).map((c) => c.pass)).toEqual([false, false, false]);
  expect(v.pass).toBe(false);
});

test('records without per-caption scores compare with independent standard errors', () => {
  const a = scenes([0.4, 0.5]);
  const b = scenes([0.1, 0.2]);
  delete a.clip_t.per_caption;
  const d = clipGapDifference(a, b);
  expect(d.paired).toBe(false);
  expect(d.standardError).toBeCloseTo(Math.hypot(0.01, 0.01), 12);
});

test('bad records are named', () => {
  expect(() => judgeLdmGate(scenes([0.4, 0.5, 0.6]), base)).toThrow('ldm gate: the decoder was scored on 3 captions but the baseline on 4; score both on the same captions');
  expect(() => judgeLdmGate(scenes([0.4, 0.5], { fid_clip: NaN }), base)).toThrow("ldm gate: the decoder's scenes.fid_clip is not a number (NaN)");
  expect(() => judgeLdmGateMetrics({ gate: {} }, { scenes: base })).toThrow("ldm gate: the decoder's metrics has no scene metrics (gate.at_default.scenes or scenes)");
  // metrics.json's shapes: the decoder's gate.at_default.scenes, the baseline's top-level scenes
  expect(judgeLdmGateMetrics({ gate: { at_default: { scenes: scenes([0.4, 0.5, 0.45, 0.55]) } } }, { scenes: base }).pass).toBe(true);
});
