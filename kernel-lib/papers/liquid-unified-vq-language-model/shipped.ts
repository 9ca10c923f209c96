/**
 * Shipping finished Liquid runs with the repository, so notebook 03's quick mode runs on committed files
 * (`npm run ship:liquid`, scripts/ship-liquid.js). The shipped folder has the layout of the cache's, so the
 * notebook, readRun and placeRuns read both alike:
 *
 *   data/checkpoints/liquid/text-<size>/metrics.json    each trained size's text checkpoint record (held-out
 *                                                       perplexity vs the bigram; moe-h128's is text-moe-small's,
 *                                                       which ships on its own)
 *   data/checkpoints/liquid/<arm>-seed<k>/metrics.json  every finished run: its metrics and its per-item held-out
 *                                        eval/step-N.json scores at every evaluation step, byte for byte
 *                                        checkpoints/step-N/  only for the live runs (LIVE_RUNS): the final float16
 *                                                       checkpoint of each size's mixed run (seed 0), which the
 *                                                       notebook decodes and routes live
 *                                        shipped.json   what shipped (files, checkpoint bytes)
 *
 * Budget: every Liquid checkpoint together ≤ 40 MB (issue #16). At the plan's sizes the four final mixed
 * checkpoints are about 27 MB in float16 (`checkpointEstimate`; the largest, moe-h192, 15.5 MB), so all four
 * ship, and the samples grid (drawn codes in the eval files) needs no checkpoint. A checkpoint over the
 * project's limit for any one shipped checkpoint (15 MB: moe-h192's is about 15.4 MB) does not ship: its run
 * ships without it, shipped.json says so (`omittedCheckpoint`), and full mode reads it from the runs folder.
 * Shipping refuses anything over the budget, a run that is not finished (named, with what is missing and the command that finishes it)
 * and a live checkpoint that is missing or not float16.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSafetensors } from '../../checkpoint';
import type { SizePresetName } from '../../model/config';
import { countParams } from '../../model/params';
import { liquidPlan, LiquidPlan, sizeConfig, unifiedVocab } from './plan';
import { runName } from './recipe';
import { checkpointName, evalName, METRICS_FILE, readRunMetrics } from './run-metrics';
import { placeRuns, RunPlace, wantedRuns } from './run-places';
import { RUNS_FOLDER } from './tools';
import { checkBudget, filesBytes, pickRuns, prepareShipments, requireRunsFolder, SHIPPED_FILE, ShipOptionsBase, ShipRecordBase, ShipRunsResultBase, writeShipments } from '../ship';

export { RUNS_FOLDER as SHIPPED_FOLDER, SHIPPED_FILE };
/** The limit for all Liquid checkpoints together. */
export const SHIP_MAX_CHECKPOINT_BYTES = 40 * 2 ** 20;
/** The project's limit for any one shipped checkpoint; a live checkpoint over it ships without its weights. */
export const SHIP_MAX_ONE_CHECKPOINT_BYTES = 15 * 2 ** 20;
/** What a checkpoint directory holds (checkpoint/: Session.save). */
export const CHECKPOINT_FILES = ['config.json', 'model.safetensors', 'tokenizer.json'] as const;
/** Bytes a checkpoint takes beyond its float16 weights: tokenizer.json (~155 KB with the codes), config.json, the header. */
export const CHECKPOINT_OVERHEAD_BYTES = 200 * 1024;

/** The runs whose final checkpoint ships: each size's mixed run at its first seed. */
export function liveRuns(plan: LiquidPlan = liquidPlan()): string[] {
  return plan.arms.filter((a) => a.name === `${a.size}-mixed`).map((a) => runName(a.name, a.seeds[0]));
}

/** The live checkpoints' float16 size at the plan's configs with the unified vocabulary (the budget's estimate). */
export function checkpointEstimate(plan: LiquidPlan, o: { textVocab: number; numCodes: number }): Array<{ run: string; size: SizePresetName; params: number; bytes: number }> {
  const V = unifiedVocab(o.textVocab, o.numCodes);
  return plan.arms
    .filter((a) => liveRuns(plan).includes(runName(a.name, a.seeds[0])))
    .map((a) => {
      const params = countParams(sizeConfig(a.size, V));
      return { run: runName(a.name, a.seeds[0]), size: a.size, params, bytes: 2 * params + CHECKPOINT_OVERHEAD_BYTES };
    });
}

/** shipped.json of one shipped run. */
export interface ShipRecord extends ShipRecordBase {
  /** The live checkpoint that shipped with it (float16), or null. */
  checkpoint: { step: number; dir: string; bytes: number } | null;
  /** A live run's final checkpoint that did not ship, being over `limit` bytes (absent when none was left out). */
  omittedCheckpoint?: { step: number; bytes: number; limit: number };
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;

/** What a run shipped without its final checkpoint says of it (the ship log, notebook 03). */
export function omittedNote(c: NonNullable<ShipRecord['omittedCheckpoint']>): string {
  return `without its final checkpoint (step ${c.step}, ${mb(c.bytes)} float16, over the ${mb(c.limit)} one shipped checkpoint may take; full mode reads it from the runs folder)`;
}

/** A shipped run's checkpoint left out for its size (shipped.json), or null (not shipped, shipped with it, or not live). */
export function omittedCheckpoint(runDir: string): ShipRecord['omittedCheckpoint'] | null {
  const f = path.join(runDir, SHIPPED_FILE);
  if (!fs.existsSync(f)) return null;
  return (JSON.parse(fs.readFileSync(f, 'utf8')) as ShipRecord).omittedCheckpoint ?? null;
}

/** The final checkpoint of a finished run in `dir`, checked: every file there, every tensor float16. */
function finalCheckpoint(dir: string, name: string, steps: number, again: string): { rel: string; bytes: number } {
  const rel = checkpointName(steps);
  for (const f of CHECKPOINT_FILES) {
    if (!fs.existsSync(path.join(dir, rel, f))) throw new Error(`liquid.shipRuns: ${name}'s final checkpoint ${rel}/ has no ${f} (${dir}); train it again with ${again} --fresh`);
  }
  const st = readSafetensors(path.join(dir, rel, 'model.safetensors'));
  const other = [...st.tensors].find(([, t]) => t.dtype !== 'F16');
  if (other) throw new Error(`liquid.shipRuns: ${name}'s final checkpoint stores "${other[0]}" as ${other[1].dtype}; shipped checkpoints are float16 (the recipe saves them so)`);
  return { rel, bytes: CHECKPOINT_FILES.reduce((s, f) => s + fs.statSync(path.join(dir, rel, f)).size, 0) };
}

export interface ShipRunsResult extends ShipRunsResultBase<ShipRecord> {
  /** Every Liquid checkpoint in `to` after shipping. */
  checkpointBytes: number;
}

/** from: .cache/liquid; to: data/checkpoints/liquid. */
export interface ShipOptions extends ShipOptionsBase {
  /** Run names (`<arm>-seed<k>`, `text-<size>`): exactly these, and one that cannot ship is an error. Default: every finished run. */
  runs?: readonly string[];
  plan?: LiquidPlan;
  /** Default SHIP_MAX_CHECKPOINT_BYTES. */
  maxCheckpointBytes?: number;
  /** Default SHIP_MAX_ONE_CHECKPOINT_BYTES. */
  maxOneCheckpointBytes?: number;
}

/** Ships runs from `from` into `to` (see the file comment). Nothing is written when any check fails. */
export function shipRuns(o: ShipOptions): ShipRunsResult {
  requireRunsFolder(o.from, 'liquid');
  const plan = o.plan ?? liquidPlan();
  const wanted = pickRuns(wantedRuns(plan), o.runs, 'liquid');
  const live = new Set(liveRuns(plan));
  const maxOne = o.maxOneCheckpointBytes ?? SHIP_MAX_ONE_CHECKPOINT_BYTES;
  const { todo, skipped } = prepareShipments<RunPlace, ShipRecord>(placeRuns(o.from, wanted), { paper: 'liquid', strict: o.runs !== undefined }, (p) => {
    const read = (f: string) => fs.readFileSync(path.join(p.dir, f));
    const content = new Map<string, Uint8Array | string>([[METRICS_FILE, read(METRICS_FILE)]]);
    let checkpoint: ShipRecord['checkpoint'] = null;
    let omitted: ShipRecord['omittedCheckpoint'];
    if (p.kind === 'continue') {
      const m = readRunMetrics(p.dir);
      for (const k of m.evalSteps) content.set(evalName(k), read(evalName(k)));
      if (live.has(p.name)) {
        const c = finalCheckpoint(p.dir, p.name, m.steps, p.command);
        if (c.bytes > maxOne) omitted = { step: m.steps, bytes: c.bytes, limit: maxOne };
        else {
          for (const f of CHECKPOINT_FILES) content.set(`${c.rel}/${f}`, read(`${c.rel}/${f}`));
          checkpoint = { step: m.steps, dir: c.rel, bytes: c.bytes };
        }
      }
    }
    return { content, extra: omitted ? { checkpoint, omittedCheckpoint: omitted } : { checkpoint } };
  });
  // the budget: the new checkpoints with those already shipped in runs this call does not replace
  const checkpointBytes = checkBudget(o.to, todo, {
    paper: 'liquid',
    what: 'the Liquid checkpoints',
    max: o.maxCheckpointBytes ?? SHIP_MAX_CHECKPOINT_BYTES,
    mb,
    shipped: (dir) => (fs.existsSync(path.join(dir, 'checkpoints')) ? filesBytes(path.join(dir, 'checkpoints')) : null),
    adding: (r) => r.checkpoint?.bytes ?? null,
  });
  const shipped = writeShipments(o.to, todo, o.log, (r) =>
    r.checkpoint ? ` with its final checkpoint (step ${r.checkpoint.step}, ${mb(r.checkpoint.bytes)} float16)` : r.omittedCheckpoint ? ` ${omittedNote(r.omittedCheckpoint)}` : '',
  );
  return { shipped, skipped, checkpointBytes };
}
