/**
 * Runs notebook 01's sweep (issue #18): trains the runs that are missing when asked (resumable, as
 * `switchboard train s1-<variant> --arm A --seed K` does), evaluates each fine-tune on the same held-out
 * material, and returns the checked sweep. Every evaluated run is saved at once to a partial file
 * (atomically), so a kill loses at most the run being evaluated and a re-run continues where it stopped.
 * `scripts/plora-sweep.js` (`npm run plora:sweep`) is the command around it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Session } from '../../session';
import { VQVAE } from '../../image';
import { ClipModel } from '../../eval';
import { coActivationByLayer } from '../../analysis/co-activation';
import { exclusivityByDepth } from '../../analysis/routing-by-modality';
import { textSuite } from '../../analysis/text-suite';
import { evalSceneCaptions } from '../../recipes/mm-moe-small';
import { atomicWriteFile } from '../../checkpoint/files';
import { arr, checkShape, obj } from '../shape';
import type { Infer } from '../shape';
import { heldOut, traces } from './analyses';
import { NOTEBOOK } from './clip-t';
import { earlyProbes, readRunMetrics } from './run-metrics';
import { extendForImages, loadVariant, trainVariant } from './recipe';
import { BEFORE, checkSweep, evaluateRun, initAblationFile, PROTOCOL, Protocol, RUN_EVAL, runDir, runName, sweepRuns, SUITE, suiteEntry, SWEEP_SEEDS, Sweep, SweepRun } from './sweep';

/** The notebook's full-mode protocol: 200 passages, 20k perplexity tokens, 64 + 64 traced sequences, 48 captions at guidance 3. */
export const FULL_PROTOCOL: Protocol = { passages: 200, perplexityTokens: 20000, traceCaptions: 64, tracePassages: 64, captions: 48, cfgScale: 3 };

export interface SweepOptions {
  /** The repository (data/checkpoints, .cache, notebooks/results under it). */
  root: string;
  protocol?: Protocol;
  /** Train the runs that are missing (else a missing run is an error naming the command that trains it). */
  train?: boolean;
  /** Evaluated runs are kept here as they finish (default .cache/s1/sweep-partial.json). */
  partialFile?: string;
  log?: (line: string) => void;
  onProgress?: (what: string, done: number, total: number) => void;
}

/** What the partial file keeps: the shared measurements and the runs evaluated so far. */
const PARTIAL = obj({ protocol: PROTOCOL, base: SUITE, before: BEFORE, runs: arr(RUN_EVAL) });
type PartialSweep = Infer<typeof PARTIAL>;

const command = (r: SweepRun) => `npm run train:s1-${r.variant} -- --arm ${r.arm} --seed ${r.seed}`;

/** Which runs (and mean-init ablation seeds) have no saved result yet. */
export function missingRuns(root: string): { runs: SweepRun[]; initSeeds: number[] } {
  return {
    runs: sweepRuns().filter((r) => !fs.existsSync(path.join(runDir(root, r), 'metrics.json'))),
    initSeeds: SWEEP_SEEDS.filter((k) => !fs.existsSync(initAblationFile(root, k))),
  };
}

function readPartial(file: string, protocol: Protocol, log: (s: string) => void): PartialSweep | null {
  if (!fs.existsSync(file)) return null;
  try {
    const p = checkShape(PARTIAL, JSON.parse(fs.readFileSync(file, 'utf8')), file);
    if (JSON.stringify(p.protocol) === JSON.stringify(protocol)) return p;
    log(`${file} was measured with another protocol: starting over`);
  } catch (e) {
    log(`${file} is unreadable (${(e as Error).message}): starting over`);
  }
  return null;
}

/**
 * Trains what is missing (with `train`), evaluates every trained run not yet in the partial file, and
 * returns the sweep; without `train`, a run still missing is an error at the end (after the others are
 * evaluated and kept) naming the commands that train it.
 */
export async function runSweep(o: SweepOptions): Promise<Sweep> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const protocol = o.protocol ?? FULL_PROTOCOL;
  const ck = (name: string) => path.join(o.root, 'data', 'checkpoints', name);
  const missing = missingRuns(o.root);
  const untrained = o.train ? [] : [...missing.runs.map(command), ...missing.initSeeds.map((k) => `npm run train:s1-init-ablation -- --seed ${k}`)];
  // without --train: evaluate what exists, then name what is missing
  const toTrain = o.train ? missing : { runs: [], initSeeds: [] };
  for (const r of toTrain.runs) {
    log(`training ${runName(r)} …`);
    await trainVariant({ variant: r.variant, arm: r.arm, seed: r.seed, baseDir: ck('text-moe-small'), vqvaeDir: ck('vqvae-emoji'), outDir: runDir(o.root, r), runDir: path.join(o.root, '.cache', 'runs', runName(r)), log });
  }
  for (const seed of toTrain.initSeeds) {
    log(`training the mean-init ablation, seed ${seed} …`);
    const m = await trainVariant({ variant: 'plora', init: 'mean', lowResOnly: true, seed, baseDir: ck('text-moe-small'), vqvaeDir: ck('vqvae-emoji'), outDir: path.dirname(initAblationFile(o.root, seed)), runDir: path.join(o.root, '.cache', 'runs', `s1-init-ablation-seed${seed}`), log });
    atomicWriteFile(initAblationFile(o.root, seed), JSON.stringify(m, null, 1) + '\n');
  }
  const partialFile = o.partialFile ?? path.join(o.root, '.cache', 's1', 'sweep-partial.json');
  const vq = VQVAE.load(ck('vqvae-emoji'));
  const clip = ClipModel.load(ck('clip-emoji'));
  try {
    const held = await heldOut(vq, { captions: protocol.traceCaptions, passages: protocol.passages });
    const captions = (await evalSceneCaptions(vq, protocol.captions)).caps;
    let partial = readPartial(partialFile, protocol, log);
    if (!partial) {
      log('the base model’s text suite and the starting model’s routing …');
      const base = await Session.load(ck('text-moe-small'));
      let baseSuite;
      try {
        baseSuite = suiteEntry(textSuite(base, held.passages, { seed: 0, perplexity: { maxTokens: protocol.perplexityTokens }, onProgress: (d, t) => o.onProgress?.('base: text suite', d, t) }));
      } finally {
        base.dispose();
      }
      const start = await extendForImages(ck('text-moe-small'), vq, 'gromov-wasserstein', 0);
      try {
        const routed = traces(start.session, { t2i: held.t2i, passages: held.passages.slice(0, protocol.tracePassages) });
        const r3 = (x: number) => Number(x.toFixed(3));
        partial = { protocol, base: baseSuite, before: { eca: coActivationByLayer(routed).map((c) => r3(c.topPartnerAverage)), exclusivity: exclusivityByDepth(routed).map(r3) }, runs: [] };
      } finally {
        start.session.dispose();
      }
      fs.mkdirSync(path.dirname(partialFile), { recursive: true });
      atomicWriteFile(partialFile, JSON.stringify(partial, null, 1) + '\n');
    }
    const material = { held, captions, base: partial.base, vq, clip, protocol };
    for (const r of sweepRuns()) {
      if (partial.runs.some((x) => x.name === runName(r))) continue;
      if (!fs.existsSync(path.join(runDir(o.root, r), 'metrics.json'))) continue;
      const dir = runDir(o.root, r);
      log(`evaluating ${runName(r)} …`);
      const t0 = Date.now();
      const { session } = await loadVariant(dir, r.variant);
      try {
        partial.runs.push(await evaluateRun(session, r, readRunMetrics(dir), material, { onProgress: o.onProgress }));
      } finally {
        session.dispose();
      }
      fs.mkdirSync(path.dirname(partialFile), { recursive: true });
      atomicWriteFile(partialFile, JSON.stringify(partial, null, 1) + '\n');
      log(`${runName(r)} evaluated in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
    if (untrained.length > 0) {
      throw new Error(
        `plora sweep: ${partial.runs.length} run(s) evaluated (kept in ${partialFile}); ${untrained.length} not trained yet. ` +
          `Train them (about 19 min each on one core, the ablation about 6; two at once, one per core), then run this again, or pass --train:\n  ${untrained.join('\n  ')}`,
      );
    }
    const round4 = (x: number) => Number(x.toFixed(4));
    const init = SWEEP_SEEDS.map((seed) => ({
      seed,
      gw: earlyProbes(readRunMetrics(runDir(o.root, { variant: 'plora', arm: 'paper', seed }))).map(([s, v]): [number, number] => [s, round4(v)]),
      mean: earlyProbes(readRunMetrics(initAblationFile(o.root, seed))).map(([s, v]): [number, number] => [s, round4(v)]),
    }));
    return checkSweep(JSON.parse(JSON.stringify({ notebook: NOTEBOOK, date: new Date().toISOString(), ...partial, init })), 'plora sweep');
  } finally {
    vq.dispose();
    clip.dispose();
  }
}
