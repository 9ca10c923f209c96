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
import { encodeSafetensors, readSafetensors, roundToFloat16 } from '../../checkpoint';
import type { SafetensorsContents } from '../../checkpoint/safetensors';
import { writeDirAtomic } from '../../checkpoint/files';
import { PEFT_CONFIG, PEFT_WEIGHTS } from '../../adapters/peft';
import { mapperFiles, MAPPER_WEIGHTS_FILE, readMapper } from './mapper';
import { runName } from './recipe';
import { ADAPTER_DIR, MAPPER_DIR, METRICS_FILE, readRunMetrics } from './run-metrics';
import { VOKENS_FILE } from './vokens';
import { EVAL_FILE } from './eval-file';
import { placeRuns, RUNS_FOLDER, WantedRun, wantedRuns } from './run-places';

export { RUNS_FOLDER as SHIPPED_FOLDER };
/** What shipping writes beside a run's files. */
export const SHIPPED_FILE = 'shipped.json';
/** The issue's limit for one shipped weight file (voken rows, mapper, LoRA). */
export const SHIP_MAX_FILE_BYTES = 15 * 2 ** 20;
/** The runs whose weights ship: the full arm's two stages at seed 0 (the live generation, strips and routing). */
export const LIVE_RUNS: readonly string[] = [runName(1, 'full', 0), runName(2, 'full', 0)];

/** shipped.json of one shipped run. */
export interface ShipRecord {
  run: string;
  /** Paths relative to the run's shipped directory. */
  files: string[];
  /** Each weight file shipped (float16): its bytes, the dtype it was trained in, the largest |w − float16(w)|. */
  weights: Array<{ file: string; bytes: number; from: string; maxRoundingError: number }>;
}

export interface ShipRunsResult {
  shipped: ShipRecord[];
  /** Wanted runs that did not ship, with the reason (not trained, still training, not evaluated, …). */
  skipped: Array<{ run: string; reason: string }>;
}

export interface ShipOptions {
  /** The runs folder to ship from (.cache/minigpt5). */
  from: string;
  /** The shipped folder (data/checkpoints/minigpt5). */
  to: string;
  /** Run names: exactly these, and one that cannot ship is an error. Default: every finished run. */
  runs?: readonly string[];
  /** The seeds of the wanted runs (default 0, 1, 2). */
  seeds?: readonly number[];
  /** Default SHIP_MAX_FILE_BYTES. */
  maxFileBytes?: number;
  log?: (s: string) => void;
}

const mb = (b: number) => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(2)} MB` : `${(b / 1024).toFixed(1)} KB`);

/** A safetensors file's tensors stored float16 (names, shapes and metadata kept), with its largest rounding. */
function toFloat16(st: SafetensorsContents, file: string, run: string): { bytes: Uint8Array; from: string; maxRoundingError: number } {
  let maxErr = 0;
  for (const [name, t] of st.tensors) {
    const half = roundToFloat16(t.data);
    for (let i = 0; i < half.length; i++) {
      if (!Number.isFinite(half[i])) throw new Error(`minigpt5.shipRuns: ${run}: tensor "${name}" of ${file} has a value (${t.data[i]}) that float16 cannot hold`);
      maxErr = Math.max(maxErr, Math.abs(half[i] - t.data[i]));
    }
  }
  const from = [...new Set([...st.tensors.values()].map((t) => t.dtype))].join('+') || 'none';
  return { bytes: encodeSafetensors([...st.tensors].map(([n, t]) => [n, { shape: t.shape, data: t.data }]), { dtype: 'F16', metadata: st.metadata ?? undefined }, file), from, maxRoundingError: maxErr };
}

/** The live run's weights as float16 files (relative path → bytes), each checked against the budget. */
function liveWeights(dir: string, w: WantedRun, command: string, max: number): { files: Map<string, Uint8Array | string>; weights: ShipRecord['weights'] } {
  const m = readRunMetrics(dir);
  const files = new Map<string, Uint8Array | string>();
  const weights: ShipRecord['weights'] = [];
  const need = (rel: string) => {
    if (!fs.existsSync(path.join(dir, rel))) throw new Error(`minigpt5.shipRuns: ${w.name} has ${METRICS_FILE} but no ${rel} (${dir}); its output is incomplete: train it again with ${command} --fresh`);
  };
  const add = (rel: string, st: SafetensorsContents) => {
    const h = toFloat16(st, path.join(dir, rel), w.name);
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
  if (!fs.existsSync(o.from)) throw new Error(`minigpt5.shipRuns: ${o.from} does not exist (the runs' folder: npm run train:minigpt5 writes .cache/minigpt5/<run>/)`);
  const all = wantedRuns(o.seeds);
  let wanted: WantedRun[] = all;
  if (o.runs) {
    const unknown = o.runs.filter((r) => !all.some((w) => w.name === r));
    if (unknown.length > 0) throw new Error(`minigpt5.shipRuns: unknown run ${unknown.map((r) => `'${r}'`).join(', ')}; runs are ${all.map((w) => w.name).join(', ')}`);
    wanted = all.filter((w) => o.runs?.includes(w.name));
  }
  const max = o.maxFileBytes ?? SHIP_MAX_FILE_BYTES;
  const out: ShipRunsResult = { shipped: [], skipped: [] };
  const todo: Array<{ name: string; content: Map<string, Uint8Array | string>; record: ShipRecord }> = [];
  for (const p of placeRuns(o.from, wanted)) {
    if (p.problem !== null) {
      if (o.runs) throw new Error(`minigpt5.shipRuns: ${p.problem}`);
      out.skipped.push({ run: p.name, reason: p.problem });
      continue;
    }
    const content = new Map<string, Uint8Array | string>([METRICS_FILE, EVAL_FILE].map((f) => [f, fs.readFileSync(path.join(p.dir, f))]));
    let weights: ShipRecord['weights'] = [];
    if (LIVE_RUNS.includes(p.name)) {
      const live = liveWeights(p.dir, p, p.command, max);
      for (const [f, b] of live.files) content.set(f, b);
      weights = live.weights;
    }
    const record: ShipRecord = { run: p.name, files: [...content.keys()], weights };
    content.set(SHIPPED_FILE, `${JSON.stringify(record, null, 1)}\n`);
    todo.push({ name: p.name, content, record });
  }
  for (const t of todo) {
    writeDirAtomic(path.join(o.to, t.name), t.content);
    out.shipped.push(t.record);
    o.log?.(`shipped ${t.name}${t.record.weights.length > 0 ? ` with its weights (${t.record.weights.map((x) => `${x.file} ${mb(x.bytes)}`).join(', ')}; float16)` : ''}`);
  }
  return out;
}
