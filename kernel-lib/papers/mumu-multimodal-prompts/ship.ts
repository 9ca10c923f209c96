/**
 * Shipping finished MUMU runs with the repository, so notebook 05's quick mode runs on committed files
 * (`npm run ship:mumu`, scripts/ship-mumu.js). The shipped folder has the layout of the cache's, so the
 * notebook and placeRuns read both alike:
 *
 *   data/checkpoints/mumu/<run>/metrics.json        every finished run: its metrics and its per-prompt held-out
 *                              eval-heldout.json     scores, byte for byte
 *                              connector/            only for the live runs (LIVE_RUNS: seed 0 of every run set
 *                              decoder-lora/         but decoder-full): the trained weights, float16, which the
 *                                                    notebook loads onto the shipped decoder to draw live
 *                              shipped.json          what shipped (files, weight bytes, largest rounding)
 *
 * Budget: every shipped MUMU weight together ≤ 15 MB in float16 (issue #17; a connector with its pooling is
 * about 1.1 MB, a decoder LoRA 0.2 MB). decoder-full's weights are a whole denoiser and do not ship; its scores
 * do. Shipping refuses, naming the run, what is missing and the command that finishes it: a named run that is
 * not finished, a live run whose weights are missing, and anything over the budget. Nothing is written when a
 * check fails.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSafetensors } from '../../checkpoint/safetensors';
import { runName } from './arms';
import { METRICS_FILE, readRunMetrics, RunMetrics } from './run-metrics';
import { placeRuns, RunPlace, RUN_SETS, WantedRun, wantedRuns } from './run-places';
import { SCORES_FILE } from './scores';
import { checkBudget, filesBytes, float16Safetensors, pickRuns, prepareShipments, requireRunsFolder, SHIPPED_FILE, ShipOptionsBase, ShipRecordBase, ShipRunsResultBase, writeShipments } from '../ship';

export { SHIPPED_FILE };
/** The folder (of .cache, or of data/checkpoints once shipped) that holds one directory per run. */
export const RUNS_FOLDER = 'mumu';
/** The limit for every shipped MUMU weight together (float16). */
export const SHIP_MAX_WEIGHT_BYTES = 15 * 2 ** 20;

/** The runs whose weights ship: seed 0 of every run set the notebook draws live (decoder-full's denoiser does not ship). */
export const LIVE_RUNS: readonly string[] = RUN_SETS.filter((s) => s.arm !== 'decoder-full').map((s) => runName(s.arm, s.tokensPerCrop, 0));

/** shipped.json of one shipped run. */
export interface ShipRecord extends ShipRecordBase {
  /** The float16 weights that shipped with it, or null. */
  weights: { bytes: number; maxRoundingError: number } | null;
}

const mb = (b: number) => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MB` : `${(b / 1024).toFixed(1)} KB`);

/** Weight directories a run's metrics name (connector/, decoder-lora/), relative to its output directory. */
function weightDirs(m: RunMetrics): string[] {
  return [m.files.connector, m.files.decoderLoRA].filter((x): x is string => typeof x === 'string');
}

/** A run's weight directories, every safetensors file converted to float16; throws naming what is missing. */
function float16Weights(dir: string, m: RunMetrics, command: string): { files: Map<string, Uint8Array>; bytes: number; maxRoundingError: number } {
  const files = new Map<string, Uint8Array>();
  let bytes = 0;
  let maxErr = 0;
  const rels = weightDirs(m);
  if (rels.length === 0) throw new Error(`mumu.shipRuns: ${m.name} names no weights in its ${METRICS_FILE}; train it again with ${command} --fresh`);
  for (const rel of rels) {
    const wdir = path.join(dir, rel);
    const names = fs.existsSync(wdir) ? fs.readdirSync(wdir).sort() : [];
    if (!names.some((f) => f.endsWith('.safetensors')) || !names.some((f) => f.endsWith('.json'))) {
      throw new Error(`mumu.shipRuns: ${m.name}'s ${rel}/ is missing or incomplete (${wdir}); train it again with ${command} --fresh`);
    }
    for (const f of names) {
      const file = path.join(wdir, f);
      if (!f.endsWith('.safetensors')) {
        files.set(`${rel}/${f}`, fs.readFileSync(file));
        continue;
      }
      const h = float16Safetensors(readSafetensors(file), file, `mumu.shipRuns: ${m.name}`, `${rel}/${f}`);
      maxErr = Math.max(maxErr, h.maxRoundingError);
      files.set(`${rel}/${f}`, h.bytes);
      bytes += h.bytes.length;
    }
  }
  return { files, bytes, maxRoundingError: maxErr };
}

export interface ShipRunsResult extends ShipRunsResultBase<ShipRecord> {
  /** Every MUMU weight in `to` after shipping (bytes). */
  weightBytes: number;
}

/** from: .cache/mumu; to: data/checkpoints/mumu. */
export interface ShipOptions extends ShipOptionsBase {
  /** The runs that can ship (default wantedRuns()). */
  wanted?: readonly WantedRun[];
  /** Default SHIP_MAX_WEIGHT_BYTES. */
  maxWeightBytes?: number;
}

/** Ships runs from `from` into `to` (see the file comment). Nothing is written when any check fails. */
export function shipRuns(o: ShipOptions): ShipRunsResult {
  requireRunsFolder(o.from, 'mumu');
  const wanted = pickRuns(o.wanted ?? wantedRuns(), o.runs, 'mumu');
  const { todo, skipped } = prepareShipments<RunPlace, ShipRecord>(placeRuns(o.from, wanted), { paper: 'mumu', strict: o.runs !== undefined }, (p) => {
    const read = (f: string) => fs.readFileSync(path.join(p.dir, f));
    const content = new Map<string, Uint8Array | string>([[METRICS_FILE, read(METRICS_FILE)], [SCORES_FILE, read(SCORES_FILE)]]);
    let weights: ShipRecord['weights'] = null;
    if (LIVE_RUNS.includes(p.name)) {
      const w = float16Weights(p.dir, readRunMetrics(p.dir), p.command);
      for (const [f, b] of w.files) content.set(f, b);
      weights = { bytes: w.bytes, maxRoundingError: w.maxRoundingError };
    }
    return { content, extra: { weights } };
  });
  // the budget: the new weights with those already shipped in runs this call does not replace
  const weightBytes = checkBudget(o.to, todo, {
    paper: 'mumu',
    what: 'the MUMU weights',
    max: o.maxWeightBytes ?? SHIP_MAX_WEIGHT_BYTES,
    mb,
    shipped: (dir) => {
      const n = filesBytes(dir, (f) => f.endsWith('.safetensors'));
      return n > 0 ? n : null;
    },
    adding: (r) => r.weights?.bytes ?? null,
  });
  const shipped = writeShipments(o.to, todo, o.log, (r) => (r.weights ? ` with its weights (${(r.weights.bytes / 1024).toFixed(0)} KB float16)` : ''));
  return { shipped, skipped, weightBytes };
}
