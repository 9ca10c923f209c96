/**
 * The decoder's floor under the checker-based scores. `identity` and `harmonised` ask the scene checker whether an
 * object's emoji is drawn in its region of the output. The shipped decoder, drawing from its own full caption, gets
 * the object right in only `object_accuracy` of the held-out scenes of its gate (data/checkpoints/ldm-emoji/
 * metrics.json: 0.034 when it shipped, 2026-12-06; its criterion was ≥ 0.5). Every MUMU run draws with that
 * decoder, conditioned another way. When no run set's identity or harmonised rate is more than 2 s.e. above zero,
 * these scores cannot tell arms apart, so the verdicts that need them are bounded by the decoder and say nothing
 * about the method; crop CLIP-I, a continuous score, is then what separates the arms. The notebook prints
 * this next to its verdicts table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Results } from './results';
import { OTHER_SOURCES } from './claims';

/** The decoder gate's object accuracy on held-out scene captions (at its default sampling), from its metrics.json. */
export function decoderObjectAccuracy(ldmDir: string): number {
  const file = path.join(ldmDir, 'metrics.json');
  if (!fs.existsSync(file)) throw new Error(`mumu: the decoder ${ldmDir} has no metrics.json (score it: npm run train:diffusion -- --eval-only --baseline)`);
  let m: unknown;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`mumu: ${file} is not JSON (${(err as Error).message})`);
  }
  const x = (m as { gate?: { at_default?: { scenes?: { object_accuracy?: unknown } } } }).gate?.at_default?.scenes?.object_accuracy;
  if (typeof x !== 'number' || !(x >= 0 && x <= 1)) throw new Error(`mumu: ${file} has no gate.at_default.scenes.object_accuracy in [0, 1] (score the decoder: npm run train:diffusion -- --eval-only --baseline)`);
  return x;
}

/** One checker score of one run set on one prompt set: its mean over prompts and the standard error. */
export interface FloorCell {
  run: string;
  set: string;
  mean: number;
  standardError: number | null;
}

export interface CheckerFloor {
  decoderObjectAccuracy: number;
  /** The highest identity (same-source) and harmonised (any set) rate of any run set. */
  maxIdentity: FloorCell | null;
  maxHarmonised: FloorCell | null;
  /** True when no run set's identity or harmonised rate is more than 2 s.e. above zero. */
  atFloor: boolean;
  /** What the notebook prints. */
  line: string;
}

const runOf = (r: Results['runs'][number]) => (r.tokensPerCrop === null ? r.arm : `${r.arm} t${r.tokensPerCrop}`);
const above = (c: FloorCell) => c.mean > 2 * (c.standardError ?? 0);
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/** Whether the results' checker-based scores sit at the decoder's floor (see the file comment), with the line that says so. */
export function checkerFloor(results: Results, decoderObjectAccuracy: number): CheckerFloor {
  const identity: FloorCell[] = [];
  const harmonised: FloorCell[] = [];
  const cell = (run: string, set: string, mean: number | null, se: number | null): FloorCell | null => (mean === null ? null : { run, set, mean, standardError: se });
  for (const r of results.runs) {
    const id = cell(runOf(r), 'same-source', r.sameSource.identity, r.sameSourceSe.identity);
    if (id) identity.push(id);
    const h = cell(runOf(r), 'same-source', r.sameSource.harmonised, r.sameSourceSe.harmonised);
    if (h) harmonised.push(h);
    for (const k of OTHER_SOURCES) {
      const o = r.otherSource?.[k];
      const c = o ? cell(runOf(r), k, o.harmonised, r.otherSourceSe?.[k].harmonised ?? null) : null;
      if (c) harmonised.push(c);
    }
  }
  const max = (cs: FloorCell[]) => cs.reduce<FloorCell | null>((a, c) => (!a || c.mean > a.mean ? c : a), null);
  const maxIdentity = max(identity);
  const maxHarmonised = max(harmonised);
  const atFloor = identity.length + harmonised.length > 0 && !identity.some(above) && !harmonised.some(above);
  // the highest cell names its run and set; when every cell is 0 there is no highest to name
  const say = (what: string, c: FloorCell | null) =>
    !c ? `${what} was not scored` : c.mean === 0 ? `${what} is 0 % for every run set` : `${what} is at most ${pct(c.mean)} (${c.run}, ${c.set}${c.standardError === null ? '' : ` ± ${pct(c.standardError)} s.e.`})`;
  const decoder = `The scene checker finds the named object in ${pct(decoderObjectAccuracy)} of the scenes the decoder draws from its own captions (its gate).`;
  const here = `Here ${say('identity', maxIdentity)} and ${say('harmonised', maxHarmonised)}.`;
  const line = atFloor
    ? `${decoder} ${here} No run set's identity or harmonised rate is more than 2 s.e. above zero: these checker scores sit at the decoder's floor and cannot separate arms, so the verdicts that need them are bounded by the decoder, not decided by the method; crop CLIP-I is the score that separates the arms here.`
    : `${decoder} ${here} Some run set scores more than 2 s.e. above zero, so the checker scores do separate arms.`;
  return { decoderObjectAccuracy, maxIdentity, maxHarmonised, atFloor, line };
}
