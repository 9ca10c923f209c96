/**
 * The recipe of the MoSS reproduction (Xu, Liu, Shen et al., "Modality-Specialized Synergizers for
 * Interleaved Vision-Language Generalists", ICLR 2025; code name `moss`): one arm (arms.ts) trained on the
 * shipped mm-moe-small, which stays frozen (paper A.1: only the adapters train; `full` is Table 12's full
 * fine-tuning), on the instruction data's train split (story completion, scene edits, continue with an
 * image; items.ts), the loss on each item's target only.
 *
 *   AdamW, warmup (10 % of the steps, at most 100) + cosine to lr/10, clip 1, weight decay 0.1 (the
 *   project's trainer defaults); lr 1e-3 for adapters (notebook 01's, the paper's 2e-5 scaled to this
 *   model as there), 1e-4 for full fine-tuning (a tenth of what mm-moe-small was trained with).
 *
 * Output directory: `adapter/` (the PEFT export, adapters/peft.ts) or `checkpoint/` (`full`, float32),
 * `metrics.json` (run-metrics.ts: loss curve, per-step wall time, held-out probes) and, with `testItems`,
 * `eval-test.json` (per-item held-out scores, evaluate.ts). The run directory resumes an interrupted run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Session } from '../../session';
import { VQVAE } from '../../image';
import { ensureData } from '../../data/store';
import { instructionData, INSTRUCTION_KINDS } from '../../data/instructions';
import { attachLoRA, loadPeftAdapter, savePeftAdapter } from '../../adapters';
import type { LoRAHandle } from '../../adapters';
import { atomicWriteFile } from '../../checkpoint/files';
import type { TrainEvent } from '../../train/trainer';
import { defaultOptimizer } from '../../train/schedule';
import { optimizerRecord } from '../recipe-metrics';
import { thinCurve } from '../../recipes/text-moe-small';
import { ARM_NAMES, ARMS, armAdapter, Arm } from './arms';
import { CodedItem, CodedItems, heldOutItems, instructionBatches } from './items';
import { finiteMean, ItemScores, scoreItems } from './evaluate';
import { ADAPTER_DIR, CHECKPOINT_DIR, evalFile, ItemScoresFile, METRICS_FILE, Probe, RunMetrics, StepTime } from './run-metrics';
import { median } from '../summary';
import { requireWeights } from './ship-record';

export const DEFAULTS = {
  rank: 8,
  seed: 0,
  /**
   * 360 steps of 8 items (21 % of an epoch): Table 2's 12 runs (4 arms × 3 seeds at r = 8) take about 2 h on two
   * cores by the per-step times measured for issue #13 (README, "MoSS arms").
   */
  steps: 360,
  batchSize: 8,
  lr: 1e-3,
  fullLr: 1e-4,
  /** Held-out val items per task probed before and after training. */
  probeItems: 8,
  /** Held-out test items per task scored into eval-test.json after training. */
  testItems: 64,
  checkpointEvery: 50,
};

export interface ArmOptions {
  arm: Arm;
  /** Adapter rank (ignored by `full`; moe-lora-matched derives its own from it). */
  rank?: number;
  /** Seeds the adapter's initialisation and the order of the training items. */
  seed?: number;
  steps?: number;
  batchSize?: number;
  /** Peak learning rate (default 1e-3 for adapters, 1e-4 for `full`). */
  lr?: number;
  checkpointEvery?: number;
  /** Output directory (adapter or checkpoint, metrics.json). */
  outDir: string;
  /** Run directory (resumable snapshots). */
  runDir: string;
  onProgress?: (e: TrainEvent) => void;
  log?: (s: string) => void;
  signal?: AbortSignal;
}

/** The run's name: `moss-<arm>-r<rank>-seed<k>` (`moss-full-seed<k>`). */
export function runName(arm: Arm, rank: number, seed: number): string {
  return arm === 'full' ? `moss-full-seed${seed}` : `moss-${arm}-r${rank}-seed${seed}`;
}

/** Wall time of the steps after `resumedFrom`: the first (kernel set-up) apart, mean and median of the rest. */
export function stepTimes(history: readonly TrainEvent[], resumedFrom: number, batchTokens: readonly number[]): StepTime {
  const ran = history.filter((e) => e.step > resumedFrom);
  const ms = ran.map((e, i) => e.elapsedMs - (i === 0 ? (history.find((h) => h.step === e.step - 1)?.elapsedMs ?? 0) : ran[i - 1].elapsedMs));
  const rest = ms.slice(1).sort((a, b) => a - b);
  const r1 = (x: number) => Number(x.toFixed(1));
  const mid = median(rest);
  return {
    steps: ms.length,
    firstMs: ms.length > 0 ? r1(ms[0]) : null,
    meanMs: rest.length > 0 ? r1(rest.reduce((a, b) => a + b, 0) / rest.length) : null,
    medianMs: mid === null ? null : r1(mid),
    tokensPerStep: batchTokens.length > 0 ? r1(batchTokens.reduce((a, b) => a + b, 0) / batchTokens.length) : null,
    threads: history.at(-1)?.threads ?? 1,
  };
}

const probeOf = (step: number, split: string, sc: ItemScores): Probe => {
  const text = finiteMean(sc.textNll);
  return { step, split, items: sc.ids.length, imageNll: Number(finiteMean(sc.imageNll).toFixed(4)), textNll: Number.isFinite(text) ? Number(text.toFixed(4)) : null };
};

/** Writes the trained weights into outDir (the adapter's PEFT export, or the whole model for `full`). */
function writeWeights(s: Session, adapter: LoRAHandle | null, outDir: string, name: string): RunMetrics['files'] {
  fs.mkdirSync(outDir, { recursive: true });
  fs.rmSync(path.join(outDir, METRICS_FILE), { force: true }); // a stale metrics.json must not describe new weights
  if (adapter) {
    savePeftAdapter(adapter, path.join(outDir, ADAPTER_DIR));
    return { adapter: ADAPTER_DIR };
  }
  s.save(path.join(outDir, CHECKPOINT_DIR), { dtype: 'float32', extra: { recipe: name } });
  return { checkpoint: CHECKPOINT_DIR };
}

/** What trainArmOn trains on: coded train items, held-out probe items, a sentence saying what they are. */
export interface ArmData {
  train: CodedItems;
  probe: readonly CodedItem[];
  description: string;
  split: string;
}

/**
 * Trains one arm on a loaded session (the shipped base, or a tiny one in tests) and writes its output
 * directory; returns the metrics and the adapter (attached and enabled; null for `full`).
 */
export async function trainArmOn(s: Session, data: ArmData, o: ArmOptions): Promise<{ metrics: RunMetrics; adapter: LoRAHandle | null }> {
  const t0 = Date.now();
  if (!(o.arm in ARMS)) throw new Error(`moss: unknown arm '${String(o.arm)}' (arms: ${ARM_NAMES.join(', ')})`);
  const rank = o.rank ?? DEFAULTS.rank;
  const seed = o.seed ?? DEFAULTS.seed;
  const steps = o.steps ?? DEFAULTS.steps;
  const batchSize = o.batchSize ?? DEFAULTS.batchSize;
  const lr = o.lr ?? (o.arm === 'full' ? DEFAULTS.fullLr : DEFAULTS.lr);
  const log = o.log ?? ((x: string) => process.stderr.write(x + '\n'));
  const name = runName(o.arm, rank, seed);
  const spec = armAdapter(s.config, o.arm, { rank, seed, grid: s.tokenizer.hasImages ? s.tokenizer.imageGrid : null });
  const probes: Probe[] = [];
  const probe = (step: number) => {
    if (data.probe.length === 0) return;
    const p = probeOf(step, data.split, scoreItems(s, data.probe));
    probes.push(p);
    log(`[${name}] step ${step}: held-out ${data.split} image-code NLL ${p.imageNll.toFixed(3)}, text NLL ${p.textNll?.toFixed(3) ?? '—'} (${p.items} items)`);
  };
  probe(0); // the base itself: a new adapter's B is 0, and `full` has not trained yet
  const adapter = spec ? attachLoRA(s, spec) : null;
  try {
    // adapter arms: every model parameter frozen (by exact name); full: everything trains
    const freeze = adapter ? [...s.model.params.keys()] : [];
    const trainable = adapter ? adapter.numParams : [...s.model.params.values()].reduce((n, v) => n + v.size, 0);
    const batches = instructionBatches(s.tokenizer, data.train, { batchSize, seed });
    const batchTokens: number[] = [];
    // AdamW and the clip are the trainer's defaults, the same DEFAULT_ADAMW the record names; they are not passed
    // (weightDecay is in a run directory's fingerprint: passing it would refuse to resume runs that omitted it)
    const opt = defaultOptimizer(steps, lr);
    const r = await s.train({
      steps,
      batches: (step) => {
        const b = batches(step);
        batchTokens.push(b.ids.length * (b.ids[0].length - 1));
        return b;
      },
      lr: opt.lr,
      minLr: opt.minLr,
      warmupSteps: opt.warmupSteps,
      freeze,
      seed, // the adapters' dropout masks, per step (reproducible across processes and resumes)
      runDir: o.runDir,
      checkpointEvery: o.checkpointEvery ?? DEFAULTS.checkpointEvery,
      onStep: o.onProgress,
      signal: o.signal,
    });
    const trainSeconds = (r.history.at(-1)?.elapsedMs ?? 0) / 1000;
    const done = r.stopped === 'done';
    if (done) probe(steps);
    // an interrupted run writes nothing into outDir: its run directory resumes it (from the last snapshot)
    const files: RunMetrics['files'] = done ? writeWeights(s, adapter, o.outDir, name) : {};
    const d = s.device;
    const metrics: RunMetrics = {
      name,
      paper: 'Modality-Specialized Synergizers for Interleaved Vision-Language Generalists (MoSS), workbench scale',
      base: path.basename(s.source),
      arm: o.arm,
      ...(o.arm === 'full' ? {} : { rank }),
      seed,
      ...(adapter
        ? {
            adapter: {
              kind: adapter.spec.kind,
              name: adapter.name,
              rank: adapter.spec.rank,
              alpha: adapter.spec.alpha,
              dropout: adapter.spec.dropout ?? 0,
              scaling: adapter.scaling,
              params: adapter.numParams,
              layers: adapter.spec.layers,
              targets: adapter.spec.targets,
              ...('grid' in adapter.spec && adapter.spec.grid ? { grid: adapter.spec.grid } : {}),
            },
          }
        : {}),
      trainableParams: trainable,
      data: { description: data.description, split: 'train', items: data.train.size, kinds: [...INSTRUCTION_KINDS] },
      optimizer: optimizerRecord(opt, batchSize),
      steps,
      resumedFrom: r.resumedFrom,
      stopped: r.stopped,
      lossCurve: thinCurve(r.history),
      stepTime: stepTimes(r.history, r.resumedFrom, batchTokens),
      probes,
      files,
      backend: { backend: d.backend, tfBackend: d.tfBackend, gpu: d.gpu, threads: d.threads, simd: d.simd, skipped: d.skipped.map((x) => ({ backend: x.backend, reason: x.reason })) },
      date: new Date().toISOString(),
      train_wall_time_s: Number(trainSeconds.toFixed(1)),
      recipe_wall_time_s: NaN,
    };
    metrics.recipe_wall_time_s = Number(((Date.now() - t0) / 1000).toFixed(1));
    if (done) atomicWriteFile(path.join(o.outDir, METRICS_FILE), `${JSON.stringify(metrics, null, 1)}\n`); // last: it names complete weights
    return { metrics, adapter };
  } catch (err) {
    adapter?.detach();
    throw err;
  }
}

/** One arm's scores as eval-<split>.json holds them (NaN as null). */
export function itemScoresFile(arm: Arm, rank: number, seed: number, split: string, sc: ItemScores): ItemScoresFile {
  const r4 = (x: number) => (Number.isFinite(x) ? Number(x.toFixed(4)) : null);
  return { arm, ...(arm === 'full' ? {} : { rank }), seed, split, ids: sc.ids, kinds: sc.kinds, imageNll: sc.imageNll.map(r4), imageTokens: sc.imageTokens, textNll: sc.textNll.map(r4), textTokens: sc.textTokens };
}

export interface RecipeOptions extends ArmOptions {
  baseDir: string;
  vqvaeDir: string;
  /** Held-out val items per task probed before and after (default 8; 0: none). */
  probeItems?: number;
  /** Held-out test items per task scored into eval-test.json (default 64; 0: none). */
  testItems?: number;
}

/** Trains one arm on the shipped base and data (see the file comment); returns its metrics. */
export async function trainArm(o: RecipeOptions): Promise<RunMetrics> {
  const log = o.log ?? ((x: string) => process.stderr.write(x + '\n'));
  const s = await Session.load(o.baseDir);
  const vq = VQVAE.load(o.vqvaeDir);
  try {
    const store = await ensureData();
    const encode = (imgs: Parameters<VQVAE['encodeImages']>[0]) => vq.encodeImages(imgs);
    const nProbe = o.probeItems ?? DEFAULTS.probeItems;
    const nTest = o.testItems ?? DEFAULTS.testItems;
    const data: ArmData = {
      train: new CodedItems(instructionData(store, { split: 'train' }), encode),
      probe: nProbe > 0 ? heldOutItems(store, encode, { split: 'val', perKind: nProbe }) : [],
      description: 'MoSS instruction data (story completion, scene edits, continue with an image), train split; loss on the target',
      split: 'val',
    };
    const { metrics, adapter } = await trainArmOn(s, data, { ...o, log });
    if (nTest > 0 && metrics.stopped === 'done') {
      const items = heldOutItems(store, encode, { split: 'test', perKind: nTest });
      log(`[${metrics.name}] scoring ${items.length} held-out test items …`);
      const sc = scoreItems(s, items);
      const file = itemScoresFile(o.arm, o.rank ?? DEFAULTS.rank, metrics.seed, 'test', sc);
      atomicWriteFile(path.join(o.outDir, evalFile('test')), `${JSON.stringify(file)}\n`);
    }
    adapter?.detach();
    return metrics;
  } finally {
    vq.dispose();
    s.dispose();
  }
}

/**
 * A trained arm back in a session: the base with the adapter attached (enabled), or the fine-tuned model.
 * A shipped `full` run has no weights to load: that is an error saying so (ship-record.ts).
 * Detach the adapter before disposing the session (Session.dispose frees the model's weights, not its adapters').
 */
export async function loadArm(dir: string, baseDir: string): Promise<{ session: Session; adapter: LoRAHandle | null }> {
  if (fs.existsSync(path.join(dir, CHECKPOINT_DIR))) return { session: await Session.load(path.join(dir, CHECKPOINT_DIR)), adapter: null };
  requireWeights(dir, 'moss.loadArm');
  if (!fs.existsSync(path.join(dir, ADAPTER_DIR))) throw new Error(`moss.loadArm: ${dir} has neither ${ADAPTER_DIR}/ nor ${CHECKPOINT_DIR}/`);
  const session = await Session.load(baseDir);
  try {
    return { session, adapter: loadPeftAdapter(session, path.join(dir, ADAPTER_DIR)) };
  } catch (err) {
    session.dispose();
    throw err;
  }
}
