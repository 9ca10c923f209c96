/**
 * The diffusion decoder's quality gate (issue 14), judged on two `gateMetrics` records measured on the
 * same 48 held-out scene captions, checker, CLIP and FID reference (recipes/ldm-eval.ts): the decoder at
 * its default sampling (25 DDIM steps, CFG 4) and mm-moe-small, the autoregressive baseline. The criteria
 * are the issue's, fixed here before the shipped decoder was scored; the gate is never lowered to fit:
 *
 *   CLIP-T own − shuffled (paired per caption)  ≥ 0.30, and above mm-moe-small's by more than 2 s.e. of
 *                                                the per-caption difference of the two (same captions)
 *   scene checker object accuracy               ≥ 0.5 and above mm-moe-small's
 *   scene checker position accuracy             above mm-moe-small's
 *   FID on CLIP features                        below mm-moe-small's
 */
import { pairedDifference } from '../util/stats';

/** The scene part of one `gateMetrics` record, as metrics.json stores it. */
export interface GateScenes {
  clip_t: { own: number; shuffled: number; paired_difference: { mean: number; standard_error: number }; per_caption?: number[] };
  object_accuracy: number;
  position_accuracy: number;
  fid_clip: number;
}

export interface GateCriterion {
  metric: string;
  criterion: string;
  decoder: string;
  baseline: string;
  pass: boolean;
}

export interface GateVerdict {
  pass: boolean;
  criteria: GateCriterion[];
}

const f3 = (x: number) => x.toFixed(3);

/** The CLIP-T own − shuffled gap of decoder minus baseline, paired per caption when both kept them. */
export function clipGapDifference(decoder: GateScenes, baseline: GateScenes): { mean: number; standardError: number; paired: boolean } {
  const a = decoder.clip_t.per_caption;
  const b = baseline.clip_t.per_caption;
  if (a && b) {
    if (a.length !== b.length) throw new Error(`ldm gate: the decoder was scored on ${a.length} captions but the baseline on ${b.length}; score both on the same captions`);
    return { ...pairedDifference(a.map((x, i) => x - b[i])), paired: true };
  }
  // unpaired fallback (records from before per-caption scores were kept): independent standard errors
  const se = Math.hypot(decoder.clip_t.paired_difference.standard_error, baseline.clip_t.paired_difference.standard_error);
  return { mean: decoder.clip_t.paired_difference.mean - baseline.clip_t.paired_difference.mean, standardError: se, paired: false };
}

export function judgeLdmGate(decoder: GateScenes, baseline: GateScenes): GateVerdict {
  for (const [who, g] of [['decoder', decoder], ['baseline', baseline]] as const) {
    for (const k of ['object_accuracy', 'position_accuracy', 'fid_clip'] as const) {
      if (typeof g[k] !== 'number' || Number.isNaN(g[k])) throw new Error(`ldm gate: the ${who}'s scenes.${k} is not a number (${String(g[k])})`);
    }
  }
  const gap = decoder.clip_t.paired_difference;
  const base = baseline.clip_t.paired_difference;
  const d = clipGapDifference(decoder, baseline);
  const criteria: GateCriterion[] = [
    {
      metric: 'CLIP-T own − shuffled caption',
      criterion: `≥ 0.30 and above mm-moe-small's by > 2 s.e. (${d.paired ? 'paired per caption' : 'independent s.e.'})`,
      decoder: `${f3(gap.mean)} ± ${f3(gap.standard_error)} (difference ${f3(d.mean)} ± ${f3(d.standardError)})`,
      baseline: `${f3(base.mean)} ± ${f3(base.standard_error)}`,
      pass: gap.mean >= 0.3 && d.mean > 2 * d.standardError,
    },
    {
      metric: 'scene checker object accuracy',
      criterion: "≥ 0.5 and above mm-moe-small's",
      decoder: f3(decoder.object_accuracy),
      baseline: f3(baseline.object_accuracy),
      pass: decoder.object_accuracy >= 0.5 && decoder.object_accuracy > baseline.object_accuracy,
    },
    {
      metric: 'scene checker position accuracy',
      criterion: "above mm-moe-small's",
      decoder: f3(decoder.position_accuracy),
      baseline: f3(baseline.position_accuracy),
      pass: decoder.position_accuracy > baseline.position_accuracy,
    },
    {
      metric: 'FID (CLIP features) vs held-out real scenes',
      criterion: "below mm-moe-small's",
      decoder: f3(decoder.fid_clip),
      baseline: f3(baseline.fid_clip),
      pass: decoder.fid_clip < baseline.fid_clip,
    },
  ];
  return { pass: criteria.every((c) => c.pass), criteria };
}

function scenesOf(record: Record<string, unknown>, where: string): GateScenes {
  const scenes = (record.gate as { at_default?: { scenes?: unknown } } | undefined)?.at_default?.scenes ?? (record as { scenes?: unknown }).scenes;
  if (typeof scenes !== 'object' || scenes === null) throw new Error(`ldm gate: ${where} has no scene metrics (gate.at_default.scenes or scenes)`);
  return scenes as GateScenes;
}

/** The gate from metrics.json's records: the decoder's `gate.at_default` and the baseline's `gateMetrics` record. */
export function judgeLdmGateMetrics(decoder: Record<string, unknown>, baseline: Record<string, unknown>): GateVerdict {
  return judgeLdmGate(scenesOf(decoder, "the decoder's metrics"), scenesOf(baseline, "the baseline's metrics"));
}
