/**
 * Where notebook 02 finds the runs it shows: one directory per run under a root (data/checkpoints/moss for
 * the shipped runs, .cache/moss for `npm run train:moss`'s output), each present or missing with the
 * command that trains it, and the present ones read back as the results builder's ArmRuns.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ARM_NAMES, Arm } from './arms';
import { runName } from './recipe';
import { evalFile, METRICS_FILE, readItemScores, readRunMetrics } from './run-metrics';
import type { ArmRun } from './results';

/** The command that trains (or resumes) one run. */
export function trainCommand(arm: Arm, rank: number, seed: number): string {
  return arm === 'full' ? `npm run train:moss -- --arm full --seed ${seed}` : `npm run train:moss -- --arm ${arm} --rank ${rank} --seed ${seed}`;
}

/** A run the notebook wants: present (its directory) or missing (the command that trains it). */
export interface RunPlace {
  arm: Arm;
  rank?: number;
  seed: number;
  name: string;
  dir: string;
  present: boolean;
  command: string;
}

/**
 * Where each wanted run is under `root` (data/checkpoints/moss or .cache/moss): present when its directory
 * holds metrics.json and eval-test.json (a finished run with its held-out scores).
 */
export function placeRuns(root: string, wanted: ReadonlyArray<{ arm: Arm; rank?: number; seeds: readonly number[] }>): RunPlace[] {
  return wanted.flatMap((w) => {
    if (!(ARM_NAMES as readonly string[]).includes(w.arm)) throw new Error(`moss.placeRuns: unknown arm '${String(w.arm)}' (arms: ${ARM_NAMES.join(', ')})`);
    if (w.arm !== 'full' && w.rank === undefined) throw new Error(`moss.placeRuns: ${w.arm} needs a rank`);
    const rank = w.rank ?? 8;
    return w.seeds.map((seed) => {
      const name = runName(w.arm, rank, seed);
      const dir = path.join(root, name);
      const present = fs.existsSync(path.join(dir, METRICS_FILE)) && fs.existsSync(path.join(dir, evalFile('test')));
      return { arm: w.arm, ...(w.arm === 'full' ? {} : { rank }), seed, name, dir, present, command: trainCommand(w.arm, rank, seed) };
    });
  });
}

/** The seeds every verdict-bearing arm trains (issue #13). */
export const SEEDS = [0, 1, 2] as const;

/**
 * The runs behind each part of the notebook: Table 2 (four arms at r = 8), Fig. 5 (LoRA, MoE-LoRA and MoSS at
 * ranks 4, 16, 32; r = 8 is Table 2's), Table 10 (SAM-ConvLoRA at r = 8), Table 12 (full fine-tuning).
 */
export function wantedRuns(part: 'table2' | 'ranks' | 'table10' | 'table12', seeds: readonly number[] = SEEDS): Array<{ arm: Arm; rank?: number; seeds: readonly number[] }> {
  switch (part) {
    case 'table2':
      return (['lora', 'moe-lora', 'moss', 'moe-lora-matched'] as const).map((arm) => ({ arm, rank: 8, seeds }));
    case 'ranks':
      return [4, 16, 32].flatMap((rank) => (['lora', 'moe-lora', 'moss'] as const).map((arm) => ({ arm, rank, seeds })));
    case 'table10':
      return [{ arm: 'sam-convlora', rank: 8, seeds }];
    case 'table12':
      return [{ arm: 'full', seeds }];
  }
}

const groupKey = (p: Pick<RunPlace, 'arm' | 'rank'>) => `${p.arm}|${p.rank ?? ''}`;

/** The seeds present for every arm and rank among `places` (a verdict pairs seed k of one arm with seed k of another). */
export function commonSeeds(places: readonly RunPlace[]): number[] {
  const groups = new Map<string, Set<number>>();
  for (const p of places) {
    if (!groups.has(groupKey(p))) groups.set(groupKey(p), new Set());
    if (p.present) groups.get(groupKey(p))?.add(p.seed);
  }
  const sets = [...groups.values()];
  if (sets.length === 0) return [];
  return [...sets[0]].filter((k) => sets.every((s) => s.has(k))).sort((a, b) => a - b);
}

/**
 * The present runs read back (metrics.json and eval-test.json, each checked by its shape), one ArmRun per arm
 * and rank with its seeds in ascending order; `seeds` keeps only those.
 */
export function readArmRuns(places: readonly RunPlace[], o: { seeds?: readonly number[] } = {}): ArmRun[] {
  const out = new Map<string, ArmRun>();
  const keep = places.filter((p) => p.present && (o.seeds === undefined || o.seeds.includes(p.seed))).sort((a, b) => a.seed - b.seed);
  for (const p of keep) {
    const m = readRunMetrics(p.dir);
    if (m.name !== p.name) throw new Error(`moss.readArmRuns: ${p.dir} holds run ${m.name}, expected ${p.name}`);
    const k = groupKey(p);
    if (!out.has(k)) out.set(k, { arm: p.arm, ...(p.arm === 'full' ? {} : { rank: p.rank }), metrics: [], scores: [] });
    const r = out.get(k) as ArmRun;
    r.metrics.push(m);
    r.scores.push(readItemScores(p.dir, 'test'));
  }
  return [...out.values()];
}

/** What the results builder gets from the runs found: the runs, the seeds they share, and what was left out and why. */
export interface RunsForResults {
  /** Table 2's four arms at the seeds all four have, and each other part whose every run has those seeds. */
  runs: ArmRun[];
  seeds: number[];
  /** One sentence per part left out (or Table 2 incomplete): what is missing. */
  notes: string[];
}

/**
 * The runs a results JSON can be built from: Table 2 (every arm at r = 8) at the seeds all four arms have;
 * then the rank sweep, Table 10 and Table 12, each only when every one of its runs has those same seeds
 * (a verdict pairs seed k of one arm with seed k of another). Empty `runs` when Table 2 has no common seed.
 */
export function runsForResults(places: { table2: readonly RunPlace[] } & Partial<Record<'ranks' | 'table10' | 'table12', readonly RunPlace[]>>): RunsForResults {
  const seeds = commonSeeds(places.table2);
  const missing = (ps: readonly RunPlace[]) => ps.filter((p) => !p.present).map((p) => p.name);
  if (seeds.length === 0) {
    return { runs: [], seeds, notes: [`Table 2 has no seed at which all four arms are present (missing: ${missing(places.table2).join(', ')})`] };
  }
  const notes: string[] = [];
  if (missing(places.table2).length > 0) notes.push(`Table 2 is judged on seed${seeds.length === 1 ? '' : 's'} ${seeds.join(', ')} only (missing: ${missing(places.table2).join(', ')})`);
  const runs = readArmRuns(places.table2, { seeds });
  for (const part of ['ranks', 'table10', 'table12'] as const) {
    const ps = places[part];
    if (!ps || ps.length === 0) continue;
    const have = commonSeeds(ps);
    const lacking = seeds.filter((k) => !have.includes(k));
    if (lacking.length > 0) {
      notes.push(`${part === 'ranks' ? 'the rank sweep' : part === 'table10' ? 'Table 10' : 'Table 12'} is left out: ${ps.filter((p) => !p.present && seeds.includes(p.seed)).map((p) => p.name).join(', ')} not present`);
      continue;
    }
    runs.push(...readArmRuns(ps, { seeds }));
  }
  return { runs, seeds, notes };
}
