/**
 * Shipping a trained arm with the repository, so notebook 02's quick mode runs on committed files only:
 *
 *   data/checkpoints/moss/<run>/            <run> = moss-<arm>-r<R>-seed<K> (runName), the layout of the run's
 *     adapter/adapter_model.safetensors     output directory (.cache/moss/<run>/), so loadArm, readRunMetrics and
 *     adapter/adapter_config.json           readItemScores read a shipped run as they read a fresh one; the
 *     metrics.json                          adapter is stored float16 (PEFT names and shapes unchanged, ≤ 2 MB),
 *     eval-test.json                        metrics.json and eval-test.json are the run's own bytes, and
 *     shipped.json                          shipped.json says what shipping changed (dtype, largest rounding).
 *
 * A `full` fine-tuning run is a whole model, not an adapter: its metrics.json and eval-test.json ship (byte for
 * byte, so Table 12 and the results JSON read it as any run) and its weights do not; its shipped.json says
 * `weights: 'none'` and why (ship-record.ts), and loadArm / ArmSet say so for it in one sentence.
 *
 * `shipRun` refuses a run directory that is not a finished run (no metrics.json — it is written last —, an
 * interrupted run, no adapter for an adapter arm, no held-out scores, or files that disagree), naming what is
 * missing and the command that finishes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSafetensors, readSafetensors, roundToFloat16 } from '../../checkpoint';
import type { HostTensor } from '../../model/params';
import { writeDirAtomic } from '../../checkpoint/files';
import { PEFT_CONFIG, PEFT_WEIGHTS } from '../../adapters/peft';
import { trainCommand } from './run-places';
import { SHIPPED_FILE } from '../ship';
import { ADAPTER_DIR, evalFile, METRICS_FILE, readItemScores, readRunMetrics, RunMetrics } from './run-metrics';
import type { AdapterShipRecord, ScoresShipRecord, ShipRecord } from './ship-record';

/** The folder of data/checkpoints (or of .cache) that holds one directory per run. */
export const SHIPPED_FOLDER = 'moss';
/** What shipRun writes beside the run's files (the name every paper's shipping uses). */
export { SHIPPED_FILE };
/** The issue's limit for one shipped adapter (its safetensors file). */
export const SHIP_MAX_BYTES = 2 * 1024 * 1024;

export type { AdapterShipRecord, ScoresShipRecord, ShipRecord };

/**
 * Checks that `dir` holds a finished run with its held-out scores (and its adapter, for an adapter arm; a
 * `full` run's weights do not ship, so they are not asked for), and returns its metrics.
 * Every refusal names the directory and what is missing.
 */
export function checkFinishedRun(dir: string, who = 'moss.shipRun'): RunMetrics {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${who}: ${dir} is not a directory`);
  if (!fs.existsSync(path.join(dir, METRICS_FILE))) {
    throw new Error(`${who}: ${dir} is not a finished run: it has no ${METRICS_FILE} (written last, when training ends); if it is still training, wait; if it was interrupted, run its train:moss command again to resume it`);
  }
  const m = readRunMetrics(dir);
  const again = trainCommand(m.arm, m.rank ?? 8, m.seed);
  if (m.stopped !== 'done') throw new Error(`${who}: ${m.name} in ${dir} stopped early (${m.stopped}); resume it with ${again}`);
  const adapter = path.join(dir, ADAPTER_DIR);
  for (const f of m.arm === 'full' ? [] : [PEFT_WEIGHTS, PEFT_CONFIG]) {
    if (!fs.existsSync(path.join(adapter, f))) throw new Error(`${who}: ${dir} has ${METRICS_FILE} but no ${ADAPTER_DIR}/${f}; the run's output is incomplete: train it again with ${again} --fresh`);
  }
  if (!fs.existsSync(path.join(dir, evalFile('test')))) {
    throw new Error(`${who}: ${dir} has no ${evalFile('test')} (the per-item held-out scores quick mode reads); it was trained with --test-items 0 or interrupted while scoring: train it again with ${again}`);
  }
  const sc = readItemScores(dir, 'test');
  if (sc.arm !== m.arm || sc.seed !== m.seed || sc.rank !== m.rank) {
    throw new Error(`${who}: ${dir}: ${evalFile('test')} scores ${sc.arm} r=${sc.rank} seed ${sc.seed}, but ${METRICS_FILE} describes ${m.name}`);
  }
  return m;
}

/**
 * Ships the finished run in `fromDir` to `toDir` (replacing it atomically): the adapter as float16 (none for
 * `full`), its metrics and held-out scores as they are, and shipped.json. Returns what it wrote.
 */
export function shipRun(fromDir: string, toDir: string): ShipRecord {
  const m = checkFinishedRun(fromDir);
  const read = (f: string) => fs.readFileSync(path.join(fromDir, f));
  if (m.arm === 'full') {
    const record: ScoresShipRecord = { run: m.name, weights: 'none', reason: `full fine-tuning trains all ${m.trainableParams} weights of the base: a whole model, not an adapter of ≤ ${SHIP_MAX_BYTES / 2 ** 20} MB` };
    writeDirAtomic(toDir, new Map<string, Uint8Array | string>([
      [evalFile('test'), read(evalFile('test'))],
      [SHIPPED_FILE, `${JSON.stringify(record, null, 1)}\n`],
      [METRICS_FILE, read(METRICS_FILE)],
    ]));
    return record;
  }
  const adapter = path.join(fromDir, ADAPTER_DIR);
  const st = readSafetensors(path.join(adapter, PEFT_WEIGHTS));
  let maxErr = 0;
  let maxAbs = 0;
  const dtypes = new Set([...st.tensors.values()].map((t) => t.dtype));
  if (dtypes.size !== 1) throw new Error(`moss.shipRun: ${m.name}'s adapter ${dtypes.size === 0 ? 'holds no tensors' : `mixes dtypes (${[...dtypes].join(', ')})`}; the recipe writes one dtype`);
  const from = [...dtypes][0];
  const tensors: [string, HostTensor][] = [];
  for (const [name, t] of st.tensors) {
    const half = roundToFloat16(t.data);
    for (let i = 0; i < half.length; i++) {
      if (!Number.isFinite(half[i])) throw new Error(`moss.shipRun: ${m.name}: tensor "${name}" has a value (${t.data[i]}) that float16 cannot hold`);
      maxErr = Math.max(maxErr, Math.abs(half[i] - t.data[i]));
      maxAbs = Math.max(maxAbs, Math.abs(t.data[i]));
    }
    tensors.push([name, { shape: t.shape, data: t.data }]);
  }
  const file = path.join(toDir, ADAPTER_DIR, PEFT_WEIGHTS);
  const weights = encodeSafetensors(tensors, { dtype: 'F16', metadata: st.metadata ?? { format: 'pt' } }, file);
  if (weights.length > SHIP_MAX_BYTES) throw new Error(`moss.shipRun: ${m.name}'s adapter is ${(weights.length / 2 ** 20).toFixed(2)} MB in float16, over the ${SHIP_MAX_BYTES / 2 ** 20} MB a shipped adapter may take`);
  const record: AdapterShipRecord = { run: m.name, dtype: 'F16', from, adapterBytes: weights.length, maxRoundingError: maxErr, maxAbsWeight: maxAbs };
  writeDirAtomic(toDir, new Map<string, Uint8Array | string>([
    [`${ADAPTER_DIR}/${PEFT_WEIGHTS}`, weights],
    [`${ADAPTER_DIR}/${PEFT_CONFIG}`, fs.readFileSync(path.join(adapter, PEFT_CONFIG))],
    [evalFile('test'), read(evalFile('test'))],
    [SHIPPED_FILE, `${JSON.stringify(record, null, 1)}\n`],
    [METRICS_FILE, read(METRICS_FILE)],
  ]));
  return record;
}

export interface ShipRunsResult {
  shipped: ShipRecord[];
  /** Run directories under `from` that did not ship, with the reason (unfinished, interrupted, unscored, …). */
  skipped: Array<{ run: string; reason: string }>;
}

/**
 * Ships runs from `from` (e.g. .cache/moss) into `to` (data/checkpoints/moss), one directory per run. With
 * `runs`, exactly those (a run that cannot ship is an error); without, every run directory under `from`
 * that is a finished run, and the others are listed as skipped with the reason.
 */
export function shipRuns(o: { from: string; to: string; runs?: readonly string[]; log?: (s: string) => void }): ShipRunsResult {
  if (!fs.existsSync(o.from)) throw new Error(`moss.shipRuns: ${o.from} does not exist (the runs' output folder: npm run train:moss writes .cache/moss/<run>/)`);
  const names = o.runs ?? fs.readdirSync(o.from, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  const out: ShipRunsResult = { shipped: [], skipped: [] };
  for (const run of names) {
    let rec: ShipRecord;
    try {
      rec = shipRun(path.join(o.from, run), path.join(o.to, run));
    } catch (err) {
      if (o.runs) throw err;
      out.skipped.push({ run, reason: (err as Error).message });
      o.log?.(`skipped ${run}: ${(err as Error).message}`);
      continue;
    }
    out.shipped.push(rec);
    o.log?.(rec.weights === 'none'
      ? `shipped ${run}: metrics and held-out scores, no weights (${rec.reason})`
      : `shipped ${run}: ${(rec.adapterBytes / 1024).toFixed(0)} KB float16 adapter (largest rounding ${rec.maxRoundingError.toExponential(2)} on weights up to ${rec.maxAbsWeight.toFixed(3)})`);
  }
  return out;
}
