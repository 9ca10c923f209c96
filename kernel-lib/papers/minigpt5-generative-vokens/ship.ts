/**
 * Shipping finished MiniGPT-5 runs with the repository, so notebook 04's quick mode runs on committed files
 * (`npm run ship:minigpt5`, scripts/ship-minigpt5.js). The shipped folder has the layout of the cache's, so
 * the notebook, placeRuns and loadStage read both alike:
 *
 *   data/checkpoints/minigpt5/<run>/metrics.json   every finished run: its metrics and its per-item
 *                                  eval.json       held-out scores (eval-file.ts), byte for byte
 *                                  vokens.safetensors, mapper/, adapter/   only for the live runs (LIVE_RUNS:
 *                                                  stage 1 and stage 2 of `full` at seed 0, which the notebook
 *                                                  generates with and routes live), float16
 *                                  shipped.json    what shipped (files, each weight file's bytes and rounding)
 *
 * Budget: each weight file ≤ 15 MB in float16 (issue #15; the mapper, the largest, is about 1.9 MB at 2 + 2
 * layers). Shipping refuses a run that is not finished (named, with what is missing and the command that
 * finishes it), a live run whose weights are missing, and a weight file over the budget; nothing is written
 * when any check fails.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSafetensors } from '../../checkpoint';
import type { SafetensorsContents } from '../../checkpoint/safetensors';
import { PEFT_CONFIG, PEFT_WEIGHTS } from '../../adapters/peft';
import { mapperFiles, MAPPER_WEIGHTS_FILE, readMapper } from './mapper';
import { runName } from './recipe';
import { ADAPTER_DIR, MAPPER_DIR, METRICS_FILE, readRunMetrics } from './run-metrics';
import { VOKENS_FILE } from './vokens';
import { EVAL_FILE } from './eval-file';
import { placeRuns, RunPlace, RUNS_FOLDER, WantedRun, wantedRuns } from './run-places';
import { float16Safetensors, pickRuns, prepareShipments, requireRunsFolder, SHIPPED_FILE, ShipOptionsBase, ShipRecordBase, ShipRunsResultBase, writeShipments } from '../ship';

export { RUNS_FOLDER as SHIPPED_FOLDER, SHIPPED_FILE };
/** The issue's limit for one shipped weight file (voken rows, mapper, LoRA). */
export const SHIP_MAX_FILE_BYTES = 15 * 2 ** 20;
/** The runs whose weights ship: the full arm's two stages at seed 0 (the live generation, strips and routing). */
export const LIVE_RUNS: readonly string[] = [runName(1, 'full', 0), runName(2, 'full', 0)];

/** shipped.json of one shipped run. */
export interface ShipRecord extends ShipRecordBase {
  /** Each weight file shipped (float16): its bytes, the dtype it was trained in, the largest |w − float16(w)|. */
  weights: Array<{ file: string; bytes: number; from: string; maxRoundingError: number }>;
}

export type ShipRunsResult = ShipRunsResultBase<ShipRecord>;

/** from: .cache/minigpt5; to: data/checkpoints/minigpt5. */
export interface ShipOptions extends ShipOptionsBase {
  /** The seeds of the wanted runs (default 0, 1, 2). */
  seeds?: readonly number[];
  /** Default SHIP_MAX_FILE_BYTES. */
  maxFileBytes?: number;
}

const mb = (b: number) => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(2)} MB` : `${(b / 1024).toFixed(1)} KB`);

/** The live run's weights as float16 files (relative path → bytes), each checked against the budget. */
function liveWeights(dir: string, w: WantedRun, command: string, max: number): { files: Map<string, Uint8Array | string>; weights: ShipRecord['weights'] } {
  const m = readRunMetrics(dir);
  const files = new Map<string, Uint8Array | string>();
  const weights: ShipRecord['weights'] = [];
  const need = (rel: string) => {
    if (!fs.existsSync(path.join(dir, rel))) throw new Error(`minigpt5.shipRuns: ${w.name} has ${METRICS_FILE} but no ${rel} (${dir}); its output is incomplete: train it again with ${command} --fresh`);
  };
  const add = (rel: string, st: SafetensorsContents) => {
    const h = float16Safetensors(st, path.join(dir, rel), `minigpt5.shipRuns: ${w.name}`, path.join(dir, rel));
    if (h.bytes.length > max) throw new Error(`minigpt5.shipRuns: ${w.name}'s ${rel} is ${mb(h.bytes.length)} in float16, over the ${mb(max)} a shipped weight file may take; nothing was shipped`);
    files.set(rel, h.bytes);
    weights.push({ file: rel, bytes: h.bytes.length, from: h.from, maxRoundingError: h.maxRoundingError });
  };
  need(VOKENS_FILE);
  add(VOKENS_FILE, readSafetensors(path.join(dir, VOKENS_FILE)));
  if (m.files.mapper) {
    need(MAPPER_DIR);
    const { config, params } = readMapper(path.join(dir, MAPPER_DIR));
    const rel = `${MAPPER_DIR}/${MAPPER_WEIGHTS_FILE}`;
    const st = readSafetensors(path.join(dir, rel));
    for (const [name, data] of mapperFiles(config, params, { dtype: 'float16' })) if (name !== MAPPER_WEIGHTS_FILE) files.set(`${MAPPER_DIR}/${name}`, data);
    add(rel, st);
  }
  if (m.files.adapter) {
    for (const f of [PEFT_WEIGHTS, PEFT_CONFIG]) need(`${ADAPTER_DIR}/${f}`);
    add(`${ADAPTER_DIR}/${PEFT_WEIGHTS}`, readSafetensors(path.join(dir, ADAPTER_DIR, PEFT_WEIGHTS)));
    files.set(`${ADAPTER_DIR}/${PEFT_CONFIG}`, fs.readFileSync(path.join(dir, ADAPTER_DIR, PEFT_CONFIG)));
  }
  return { files, weights };
}

/** Ships runs from `from` into `to` (see the file comment). Nothing is written when any check fails. */
export function shipRuns(o: ShipOptions): ShipRunsResult {
  requireRunsFolder(o.from, 'minigpt5');
  const wanted = pickRuns(wantedRuns(o.seeds), o.runs, 'minigpt5');
  const max = o.maxFileBytes ?? SHIP_MAX_FILE_BYTES;
  const { todo, skipped } = prepareShipments<RunPlace, ShipRecord>(placeRuns(o.from, wanted), { paper: 'minigpt5', strict: o.runs !== undefined }, (p) => {
    const content = new Map<string, Uint8Array | string>([METRICS_FILE, EVAL_FILE].map((f) => [f, fs.readFileSync(path.join(p.dir, f))]));
    let weights: ShipRecord['weights'] = [];
    if (LIVE_RUNS.includes(p.name)) {
      const live = liveWeights(p.dir, p, p.command, max);
      for (const [f, b] of live.files) content.set(f, b);
      weights = live.weights;
    }
    return { content, extra: { weights } };
  });
  const shipped = writeShipments(o.to, todo, o.log, (r) => (r.weights.length > 0 ? ` with its weights (${r.weights.map((x) => `${x.file} ${mb(x.bytes)}`).join(', ')}; float16)` : ''));
  return { shipped, skipped };
}
