/**
 * What a shipped MoSS run's shipped.json says (shipped.ts writes it): an adapter run ships its adapter as
 * float16 and records the rounding; a `full` fine-tuning run ships its metrics and held-out scores only,
 * `weights: 'none'` with the reason, because its weights are a whole model. Readers that need weights
 * (loadArm, ArmSet) say so in one sentence for such a run instead of failing on a missing file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SHIPPED_FILE } from '../ship';
import { checkShape, Infer, int, num, obj, oneOf, str } from '../shape';
import { readJsonOf } from '../recipe-metrics';

const ADAPTER_RECORD = obj({
  run: str,
  /** The adapter's storage dtype here, and in the run it came from. */
  dtype: oneOf('F16'),
  from: oneOf('F32', 'F16', 'BF16'),
  adapterBytes: int,
  /** Largest |w − float16(w)| over the adapter's weights, and the largest |w|. */
  maxRoundingError: num,
  maxAbsWeight: num,
});
const SCORES_RECORD = obj({ run: str, weights: oneOf('none'), reason: str });

/** An adapter run's record (no `weights` field: the adapter ships). */
export type AdapterShipRecord = Infer<typeof ADAPTER_RECORD> & { weights?: undefined };
/** A full fine-tuning run's record: metrics.json and eval-test.json ship, no weights, and why. */
export type ScoresShipRecord = Infer<typeof SCORES_RECORD>;
export type ShipRecord = AdapterShipRecord | ScoresShipRecord;

/** The shipped.json of a run directory, checked by its shape; null where there is none (a run as trained). */
export function readShipRecord(dir: string): ShipRecord | null {
  const file = path.join(dir, SHIPPED_FILE);
  if (!fs.existsSync(file)) return null;
  const v = readJsonOf(file, 'moss.readShipRecord');
  const scoresOnly = typeof v === 'object' && v !== null && 'weights' in v;
  return scoresOnly ? checkShape(SCORES_RECORD, v, file) : checkShape(ADAPTER_RECORD, v, file);
}

/** The one sentence a reader that needs weights says for a full run shipped without them. */
export function noWeightsMessage(who: string, run: string): string {
  return `${who}: ${run} is full fine-tuning, which ships its metrics and held-out scores but no weights (a whole model, not an adapter); retrain with SWITCHBOARD_MOSS_RETRAIN=1 to have them`;
}

/** Throws noWeightsMessage when `dir` is a run shipped without weights. */
export function requireWeights(dir: string, who: string): void {
  const rec = readShipRecord(dir);
  if (rec?.weights === 'none') throw new Error(noWeightsMessage(who, rec.run));
}
