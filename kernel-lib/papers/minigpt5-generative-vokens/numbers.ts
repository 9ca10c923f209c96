/**
 * From the finished runs of a runs folder to what notebook 04 shows and judges: each run's metrics and
 * held-out scores read back (`readFinished`), and the results builder's input (`measurementsOf`): Tables 5 and
 * 7 from the stage-1 arms, Table 6 and Table 2 from stage 2, the CFG sweep and the loss scales from the full
 * arm's stage 1, and the routing of voken tokens against text and image-code tokens per layer.
 *
 * Arms are paired seed k with seed k, so each table uses the seeds finished in every arm it compares (the
 * seeds a table uses are in `seeds`).
 */
import { jensenShannon } from '../../analysis/routing-by-modality';
import { CONTEXTS, Context } from './claims';
import type { Arm } from './arms';
import { readRunMetrics, RunMetrics } from './run-metrics';
import { EvalRecord, readEval, RoutingCounts } from './eval-file';
import type { ArmImages, Measurements, Results } from './results';
import { RunPlace, STAGE1_ARMS } from './run-places';
import { mean } from '../summary';

/** A finished run read back. */
export interface FinishedRun {
  place: RunPlace;
  metrics: RunMetrics;
  eval: EvalRecord;
}

/** The finished runs among `places`, read and checked (metrics.json and eval.json). */
export function readFinished(places: readonly RunPlace[]): FinishedRun[] {
  return places.filter((p) => p.state === 'finished').map((place) => ({ place, metrics: readRunMetrics(place.dir), eval: readEval(place.dir) }));
}

const of = (runs: readonly FinishedRun[], stage: 1 | 2, arm: Arm) => runs.filter((r) => r.place.stage === stage && r.place.arm === arm).sort((a, b) => a.place.seed - b.place.seed);

/** Seeds present in every group (each group: runs of one arm). */
function commonSeeds(groups: ReadonlyArray<readonly FinishedRun[]>): number[] {
  if (groups.length === 0 || groups.some((g) => g.length === 0)) return [];
  return groups[0].map((r) => r.place.seed).filter((k) => groups.every((g) => g.some((r) => r.place.seed === k)));
}

const atSeeds = (g: readonly FinishedRun[], seeds: readonly number[]) => seeds.map((k) => g.find((r) => r.place.seed === k) as FinishedRun);

/** JSD (bits) between two rows of counts; null when either has no picks. */
function jsd(a: readonly number[], b: readonly number[]): number | null {
  return a.some((x) => x > 0) && b.some((x) => x > 0) ? Number(jensenShannon(a, b).toFixed(4)) : null;
}

/** Routing counts of several seeds summed. */
export function sumRouting(rs: readonly RoutingCounts[]): RoutingCounts {
  const add = (k: 'voken' | 'text' | 'image') => rs[0][k].map((row, l) => row.map((_, e) => rs.reduce((s, r) => s + r[k][l][e], 0)));
  return {
    split: rs[0].split,
    rows: rs.reduce((s, r) => s + r.rows, 0),
    tokens: { voken: rs.reduce((s, r) => s + r.tokens.voken, 0), text: rs.reduce((s, r) => s + r.tokens.text, 0), image: rs.reduce((s, r) => s + r.tokens.image, 0) },
    voken: add('voken'),
    text: add('text'),
    image: add('image'),
  };
}

/** The routing groups the notebook compares: each stage-1 arm and stage 2 of full, its seeds' counts summed. */
export function routingGroups(runs: readonly FinishedRun[]): Array<{ model: string; counts: RoutingCounts }> {
  const groups: Array<{ model: string; counts: RoutingCounts }> = [];
  for (const [stage, arms] of [[1, STAGE1_ARMS], [2, ['full'] as const]] as const) {
    for (const arm of arms) {
      const rs = of(runs, stage, arm).flatMap((r) => (r.eval.routing ? [r.eval.routing] : []));
      if (rs.length > 0) groups.push({ model: `s${stage}-${arm}`, counts: sumRouting(rs) });
    }
  }
  return groups;
}

/** Per layer: JSD of voken vs text and voken vs image-code routing (bits). */
export function routingRows(groups: ReadonlyArray<{ model: string; counts: RoutingCounts }>): NonNullable<Results['routing']> {
  return groups.flatMap(({ model, counts: c }) => c.voken.map((v, layer) => ({ model, layer, vokensVsText: jsd(v, c.text[layer]) ?? 0, vokensVsImage: jsd(v, c.image[layer]) })));
}

/** The full arm's CFG sweep: per scale, CLIP-I and CLIP-T averaged over items, and each seed's mean. */
export function cfgSweepOf(runs: readonly FinishedRun[]): Array<{ scale: number; clipI: number; clipT: number; clipIPerSeed: number[]; clipTPerSeed: number[] }> {
  const full = of(runs, 1, 'full').filter((r) => r.eval.cfgSweep);
  if (full.length === 0) return [];
  const scales = full[0].eval.cfgSweep!.map((s) => s.scale).filter((g) => full.every((r) => r.eval.cfgSweep!.some((s) => s.scale === g)));
  return scales.map((scale) => {
    const per = full.map((r) => r.eval.cfgSweep!.find((s) => s.scale === scale)!);
    const clipIPerSeed = per.map((s) => mean(s.clipI));
    const clipTPerSeed = per.map((s) => mean(s.clipT));
    return { scale, clipI: Number(mean(clipIPerSeed).toFixed(4)), clipT: Number(mean(clipTPerSeed).toFixed(4)), clipIPerSeed, clipTPerSeed };
  });
}

/** Which seeds each table uses (arms paired seed by seed). */
export interface TableSeeds {
  images: number[];
  contexts: number[];
  narration: number[];
}

/** The seeds each table can use from these runs. */
export function tableSeeds(runs: readonly FinishedRun[]): TableSeeds {
  const present = STAGE1_ARMS.map((a) => of(runs, 1, a)).filter((g) => g.length > 0);
  return {
    images: commonSeeds(present),
    contexts: of(runs, 2, 'full').filter((r) => r.eval.contexts).map((r) => r.place.seed),
    narration: commonSeeds([of(runs, 2, 'full'), of(runs, 2, 'text-only')]),
  };
}

/** The results builder's input from the finished runs (see the file comment). */
export function measurementsOf(runs: readonly FinishedRun[], o: { quick: boolean; retrained: boolean; minSeeds?: number; date?: Date }): Measurements & { seeds: TableSeeds } {
  const seeds = tableSeeds(runs);
  const imageArms: ArmImages[] = [];
  for (const arm of STAGE1_ARMS) {
    const g = of(runs, 1, arm);
    if (g.length === 0 || seeds.images.length === 0) continue;
    const rs = atSeeds(g, seeds.images);
    imageArms.push({ arm, metrics: rs.map((r) => r.metrics), scores: rs.map((r) => ({ clipI: r.eval.scenes!.clipI, clipT: r.eval.scenes!.clipT, scene: r.eval.scenes!.scene, fid: r.eval.scenes!.fid })) });
  }
  const first = runs[0];
  const s1 = runs.find((r) => r.eval.scenes);
  const ctx = atSeeds(of(runs, 2, 'full'), seeds.contexts);
  const contexts = ctx.length > 0
    ? (Object.fromEntries((['minigpt5', 'twoStage'] as const).map((m) => [m, Object.fromEntries(CONTEXTS.map((c) => [c, ctx.map((r) => r.eval.contexts![m][c])]))])) as Record<'minigpt5' | 'twoStage', Record<Context, number[][]>>)
    : undefined;
  const narr = seeds.narration.length > 0 ? { minigpt5: atSeeds(of(runs, 2, 'full'), seeds.narration), textOnly: atSeeds(of(runs, 2, 'text-only'), seeds.narration) } : null;
  const sweep = cfgSweepOf(runs);
  const probes = of(runs, 1, 'full').map((r) => r.metrics.probes.find((p) => p.step === 0)).filter((p) => p && p.ldm !== null && p.cap !== null);
  const routing = routingRows(routingGroups(runs));
  return {
    quick: o.quick,
    retrained: o.retrained,
    base: first?.metrics.base ?? 'mm-moe-small',
    decoder: first?.metrics.decoder ?? 'ldm-emoji',
    scenes: s1 ? { split: s1.eval.scenes!.split, items: s1.eval.scenes!.items } : { split: 'test', items: 0 },
    ...(ctx.length > 0 ? { stories: { split: ctx[0].eval.contexts!.split, items: ctx[0].eval.contexts!.items } } : {}),
    imageArms,
    ...(contexts ? { contexts } : {}),
    ...(narr ? { narration: { minigpt5: narr.minigpt5.map((r) => r.eval.narration!.nll), textOnly: narr.textOnly.map((r) => r.eval.narration!.nll) } } : {}),
    ...(sweep.length > 0 ? { cfgSweep: sweep.map(({ scale, clipI, clipT }) => ({ scale, clipI, clipT })) } : {}),
    ...(probes.length > 0 ? { lossScales: { text: Number(mean(probes.map((p) => p!.text)).toFixed(4)), ldm: Number(mean(probes.map((p) => p!.ldm!)).toFixed(4)), cap: Number(mean(probes.map((p) => p!.cap!)).toFixed(4)) } } : {}),
    ...(routing.length > 0 ? { routing } : {}),
    minSeeds: o.minSeeds,
    date: o.date,
    seeds,
  };
}
