/**
 * The finished runs of a runs folder read back for the results builder: per run set (arm × tokens per crop, in
 * RUN_SETS order) each finished seed's metrics.json and eval-heldout.json, seeds in order, as results.ts's
 * RunScores; and the held-out sets' sizes. Every run must have been scored on the same prompts (ids checked),
 * or its scores would not pair.
 */
import * as path from 'node:path';
import { OTHER_SOURCES, OtherSource } from './claims';
import type { Measurements, RunScores, SeedSet } from './results';
import { readRunMetrics } from './run-metrics';
import { RUN_SETS, RunPlace } from './run-places';
import { HeldOutScores, readHeldOutScores, SCORES_FILE, seedSetOf } from './scores';

export interface FinishedRuns {
  runs: RunScores[];
  /** The held-out sets' split and sizes (null: no run is finished). */
  sameSource: Measurements['sameSource'] | null;
  otherSource: Measurements['otherSource'] | null;
}

/** The finished runs among `places` (see the file comment). */
export function readFinished(places: readonly RunPlace[]): FinishedRuns {
  const done = places.filter((p) => p.state === 'finished');
  const scored = new Map<string, HeldOutScores>(done.map((p) => [p.name, readHeldOutScores(p.dir)]));
  const first = done[0];
  if (!first) return { runs: [], sameSource: null, otherSource: null };
  const ref = scored.get(first.name)!;
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  for (const p of done.slice(1)) {
    const s = scored.get(p.name)!;
    const bad = !same(s.sameSource.ids, ref.sameSource.ids) ? 'same-source' : OTHER_SOURCES.find((k) => !same(s.otherSource[k].ids, ref.otherSource[k].ids));
    if (bad) {
      throw new Error(`mumu.readFinished: ${p.name} was scored on other ${bad} prompts than ${first.name}; delete ${path.join(p.dir, SCORES_FILE)} and run ${p.command} to score it on the held-out prompts again`);
    }
  }
  const runs: RunScores[] = [];
  for (const set of RUN_SETS) {
    const ps = done.filter((p) => p.arm === set.arm && p.tokensPerCrop === set.tokensPerCrop).sort((a, b) => a.seed - b.seed);
    if (ps.length === 0) continue;
    runs.push({
      arm: set.arm,
      tokensPerCrop: set.tokensPerCrop,
      metrics: ps.map((p) => readRunMetrics(p.dir)),
      sameSource: ps.map((p) => seedSetOf(scored.get(p.name)!.sameSource)),
      otherSource: ps.map((p) => Object.fromEntries(OTHER_SOURCES.map((k) => [k, seedSetOf(scored.get(p.name)!.otherSource[k])])) as Record<OtherSource, SeedSet>),
    });
  }
  return {
    runs,
    sameSource: { split: ref.split, items: ref.sameSource.ids.length },
    otherSource: { split: ref.split, items: ref.otherSource[OTHER_SOURCES[0]].ids.length },
  };
}
