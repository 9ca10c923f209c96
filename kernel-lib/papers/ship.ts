/**
 * What shipping finished runs shares across the paper folders (Liquid, MiniGPT-5, MUMU: `npm run ship:<paper>`,
 * scripts/lib/ship.js): the runs to ship (named ones must be known and finished; by default every finished
 * one, the others skipped with the reason), each run's files with its shipped.json, a budget over what the
 * shipped folder holds afterwards, float16 copies of trained weights, and the writes, one atomic directory
 * per run, which start only when every check has passed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeSafetensors } from '../checkpoint/safetensors';
import type { SafetensorsContents } from '../checkpoint/safetensors';
import { roundToFloat16 } from '../checkpoint/float16';
import { writeDirAtomic } from '../checkpoint/files';

/** What shipping writes beside a run's files. */
export const SHIPPED_FILE = 'shipped.json';

/** What every shipped.json starts with. */
export interface ShipRecordBase {
  run: string;
  /** Paths relative to the run's shipped directory. */
  files: string[];
}

/** What every paper's shipRuns takes (each adds its own limits and choices). */
export interface ShipOptionsBase {
  /** The runs folder to ship from (.cache/<paper>). */
  from: string;
  /** The shipped folder (data/checkpoints/<paper>). */
  to: string;
  /** Run names: exactly these, and one that cannot ship is an error. Default: every finished run. */
  runs?: readonly string[];
  log?: (s: string) => void;
}

/** What every paper's shipRuns returns (each adds its budget's total where it has one). */
export interface ShipRunsResultBase<R> {
  shipped: R[];
  /** Wanted runs that did not ship, with the reason (not trained, still training, not evaluated, …). */
  skipped: Array<{ run: string; reason: string }>;
}

/** One run ready to write: its files (relative path → bytes, shipped.json included) and its record. */
export interface Shipment<R> {
  name: string;
  content: Map<string, Uint8Array | string>;
  record: R;
}

/** Throws unless the runs folder `from` exists (`paper`: the code name, its train script and cache folder). */
export function requireRunsFolder(from: string, paper: string): void {
  if (!fs.existsSync(from)) throw new Error(`${paper}.shipRuns: ${from} does not exist (the runs' folder: npm run train:${paper} writes .cache/${paper}/<run>/)`);
}

/** The runs named `runs` among `all`, in `all`'s order (every one when `runs` is not given); throws naming any unknown. */
export function pickRuns<W extends { name: string }>(all: readonly W[], runs: readonly string[] | undefined, paper: string): readonly W[] {
  if (!runs) return all;
  const unknown = runs.filter((r) => !all.some((w) => w.name === r));
  if (unknown.length > 0) throw new Error(`${paper}.shipRuns: unknown run ${unknown.map((r) => `'${r}'`).join(', ')}; runs are ${all.map((w) => w.name).join(', ')}`);
  return all.filter((w) => runs.includes(w.name));
}

/**
 * Each finished place's files (`files`: relative path → bytes, and what its record adds after `run` and
 * `files`) with its shipped.json. A place that is not finished is skipped with its problem, or, when
 * `strict` (the runs were named), is an error.
 */
export function prepareShipments<P extends { name: string; problem: string | null }, R extends ShipRecordBase>(
  places: readonly P[],
  o: { paper: string; strict: boolean },
  files: (p: P) => { content: Map<string, Uint8Array | string>; extra: Omit<R, keyof ShipRecordBase> },
): { todo: Shipment<R>[]; skipped: Array<{ run: string; reason: string }> } {
  const todo: Shipment<R>[] = [];
  const skipped: Array<{ run: string; reason: string }> = [];
  for (const p of places) {
    if (p.problem !== null) {
      if (o.strict) throw new Error(`${o.paper}.shipRuns: ${p.problem}`);
      skipped.push({ run: p.name, reason: p.problem });
      continue;
    }
    const { content, extra } = files(p);
    const record = { run: p.name, files: [...content.keys()], ...extra } as R;
    content.set(SHIPPED_FILE, `${JSON.stringify(record, null, 1)}\n`);
    todo.push({ name: p.name, content, record });
  }
  return { todo, skipped };
}

/**
 * The budget: the bytes `todo` adds (`adding`, null for a run that adds none) with those already shipped in
 * `to` by runs this call does not replace (`shipped` of a run's shipped directory, null for none). Returns
 * their sum; throws, listing each run's part, when it is over `max` ("<paper>.shipRuns: <what> would take …").
 */
export function checkBudget<R>(
  to: string,
  todo: readonly Shipment<R>[],
  o: { paper: string; what: string; max: number; mb: (bytes: number) => string; shipped: (runDir: string) => number | null; adding: (r: R) => number | null },
): number {
  const replacing = new Set(todo.map((t) => t.name));
  const kept = fs.existsSync(to)
    ? fs.readdirSync(to, { withFileTypes: true }).flatMap((e) => {
        const bytes = e.isDirectory() && !replacing.has(e.name) ? o.shipped(path.join(to, e.name)) : null;
        return bytes === null ? [] : [{ run: e.name, bytes }];
      })
    : [];
  const adding = todo.flatMap((t) => {
    const bytes = o.adding(t.record);
    return bytes === null ? [] : [{ run: t.name, bytes }];
  });
  const parts = [...kept, ...adding];
  const total = parts.reduce((s, x) => s + x.bytes, 0);
  if (total > o.max) {
    throw new Error(`${o.paper}.shipRuns: ${o.what} would take ${o.mb(total)} (${parts.map((x) => `${x.run} ${o.mb(x.bytes)}`).join(', ')}), over the ${o.mb(o.max)} they may take together; nothing was shipped`);
  }
  return total;
}

/** Writes each shipment to `<to>/<run>` (atomically, replacing what was there), logging "shipped <run><note>"; returns the records. */
export function writeShipments<R>(to: string, todo: readonly Shipment<R>[], log: ((s: string) => void) | undefined, note: (r: R) => string): R[] {
  return todo.map((t) => {
    writeDirAtomic(path.join(to, t.name), t.content);
    log?.(`shipped ${t.name}${note(t.record)}`);
    return t.record;
  });
}

/** Bytes of the files below `dir` whose names `keep` accepts (every file by default). */
export function filesBytes(dir: string, keep: (name: string) => boolean = () => true): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) n += filesBytes(path.join(dir, e.name), keep);
    else if (keep(e.name)) n += fs.statSync(path.join(dir, e.name)).size;
  }
  return n;
}

/**
 * A safetensors file's tensors stored float16 (names, shapes, order and metadata kept): its bytes, the
 * dtypes it held ("F32", "F32+F16"; "none" when empty) and the largest |w − float16(w)|. A value float16
 * cannot hold is an error, "`who`: tensor "<name>" of `of` has a value (…) that float16 cannot hold".
 */
export function float16Safetensors(st: SafetensorsContents, file: string, who: string, of: string): { bytes: Uint8Array; from: string; maxRoundingError: number } {
  let maxErr = 0;
  for (const [name, t] of st.tensors) {
    const half = roundToFloat16(t.data);
    for (let i = 0; i < half.length; i++) {
      if (!Number.isFinite(half[i])) throw new Error(`${who}: tensor "${name}" of ${of} has a value (${t.data[i]}) that float16 cannot hold`);
      maxErr = Math.max(maxErr, Math.abs(half[i] - t.data[i]));
    }
  }
  const from = [...new Set([...st.tensors.values()].map((t) => t.dtype))].join('+') || 'none';
  const bytes = encodeSafetensors([...st.tensors].map(([n, t]) => [n, { shape: t.shape, data: t.data }]), { dtype: 'F16', metadata: st.metadata ?? undefined }, file);
  return { bytes, from, maxRoundingError: maxErr };
}
