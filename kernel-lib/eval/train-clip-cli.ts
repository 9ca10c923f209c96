/**
 * `npm run train:clip` (→ node dist/kernel-lib/eval/train-clip-cli.js): trains the workbench CLIP on the
 * emoji and scene train splits, resumably, and ships it as a float16 checkpoint with metrics.json.
 *
 *   --steps N        training steps (default 900)        --batch N      pairs per batch (default 256)
 *   --lr X           peak learning rate (default 2e-3)   --seed N       (default 0)
 *   --out DIR        checkpoint folder (default data/checkpoints/clip-emoji)
 *   --run-dir DIR    resumable run state (default .cache/runs/clip-emoji); an interrupted run continues
 *   --fresh          discard the run state and start over
 *   --quick          a 30-step smoke run into .cache/runs/clip-quick (does not touch --out unless given)
 *   --measure-only   no training: re-measure the checkpoint in --out and rewrite its metrics.json (the
 *                    loss curve and training info come from the run directory)
 *
 * After training, the float16 checkpoint is reloaded and measured — held-out retrieval on the emoji and
 * scene test splits, CLIP-T of matching vs shuffled captions, FID sanity values — and everything goes
 * into <out>/metrics.json.
 */
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../backend/backend';
import { atomicWriteFile } from '../checkpoint/files';
import { repoRoot } from '../data/paths';
import { mulberry32 } from '../model/params';
import { DataStore, ensureData } from '../data/store';
import { loadTextTokenizer } from '../data/text-tokenizer';
import { ClipModel, defaultClipDir } from './clip';
import { defaultClipConfig } from './clip-config';
import { canonicalCaptions, CHECK_SAMPLE, clipExamples } from './clip-data';
import { clipFid } from './fid';
import { clipRetrieval, RetrievalMetrics } from './retrieval';
import { ClipEvalRecord, ClipStepRecord, trainClip } from './train-clip';

const USAGE = 'usage: npm run train:clip -- [--steps N] [--batch N] [--lr X] [--seed N] [--out DIR] [--run-dir DIR] [--fresh] [--quick] [--measure-only]';
const log = (line: string): void => console.log(`[clip] ${line}`);

interface Args {
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  out: string;
  runDir: string;
  fresh: boolean;
  quick: boolean;
  measureOnly: boolean;
}

function parseArgs(argv: string[]): Args | string {
  const root = repoRoot();
  const quick = argv.includes('--quick');
  const a: Args = {
    steps: quick ? 30 : 900,
    batch: quick ? 64 : 256,
    lr: 2e-3,
    seed: 0,
    out: quick ? path.join(root, '.cache', 'runs', 'clip-quick', 'out') : defaultClipDir(),
    runDir: path.join(root, '.cache', 'runs', quick ? 'clip-quick' : 'clip-emoji'),
    fresh: quick,
    quick,
    measureOnly: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const num = (v: string): number => {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`${flag}: not a number: ${v}`);
      return n;
    };
    try {
      if (flag === '--steps') a.steps = num(value());
      else if (flag === '--batch') a.batch = num(value());
      else if (flag === '--lr') a.lr = num(value());
      else if (flag === '--seed') a.seed = num(value());
      else if (flag === '--out') a.out = path.resolve(value());
      else if (flag === '--run-dir') a.runDir = path.resolve(value());
      else if (flag === '--fresh') a.fresh = true;
      else if (flag === '--measure-only') a.measureOnly = true;
      else if (flag !== '--quick') return `unknown argument ${flag}`;
    } catch (e) {
      return (e as Error).message;
    }
  }
  return a;
}

const fmtTime = (s: number): string => {
  if (s < 60) return `${s.toFixed(1)}s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
};
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const summary = (m: RetrievalMetrics): string =>
  `image→text top-1 ${pct(m.imageToText.top1)} top-5 ${pct(m.imageToText.top5)}, text→image top-1 ${pct(m.textToImage.top1)} top-5 ` +
  `${pct(m.textToImage.top5)} (chance top-1 ${pct(m.chance.imageToText.top1)}, top-5 ${pct(m.chance.imageToText.top5)}; ${m.images} images, ${m.texts} texts)`;

const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

function roundDeep<T>(x: T): T {
  if (typeof x === 'number') return round(x) as T;
  if (Array.isArray(x)) return x.map(roundDeep) as T;
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, roundDeep(v)])) as T;
  return x;
}

interface RunState {
  history: ClipStepRecord[];
  evals: ClipEvalRecord[];
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if (typeof parsed === 'string') {
    process.stderr.write(`${parsed}\n${USAGE}\n`);
    return 2;
  }
  const args = parsed;
  const tStart = performance.now();
  const device = await initBackend();
  log(`backend ${device.backend}${device.simd ? ' (SIMD)' : ''}, ${device.threads} thread(s)`);
  const store = await ensureData({ onProgress: (l) => log(`data: ${l}`) });

  let run: RunState & { resumedFrom: number };
  if (args.measureOnly) {
    const file = path.join(args.runDir, 'trainer_state.json');
    const state = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as RunState) : { history: [], evals: [] };
    if (state.history.length === 0) log(`no run state in ${path.relative(process.cwd(), args.runDir)}: metrics.json gets no loss curve`);
    run = { history: state.history, evals: state.evals, resumedFrom: 0 };
  } else {
    run = await train(args, store);
  }

  const shipped = ClipModel.load(args.out); // measure what ships: the float16 weights
  log(`measuring ${path.relative(process.cwd(), args.out)}`);
  const tMeasure = performance.now();
  const emojiTest = canonicalCaptions(clipExamples(store, 'emoji', 'test'));
  const scenesTest = canonicalCaptions(clipExamples(store, 'scenes', 'test'));
  const heldOut = { 'emoji-test': clipRetrieval(shipped, emojiTest), 'scenes-test': clipRetrieval(shipped, scenesTest) };
  for (const [name, m] of Object.entries(heldOut)) log(`held-out ${name}: ${summary(m)}`);
  const check = {
    [`emoji-test-${CHECK_SAMPLE.emoji}`]: clipRetrieval(shipped, emojiTest.slice(0, CHECK_SAMPLE.emoji)),
    [`scenes-test-${CHECK_SAMPLE.scenes}`]: clipRetrieval(shipped, scenesTest.slice(0, CHECK_SAMPLE.scenes)),
  };

  // CLIP-T of matching captions vs the same captions shuffled (a derangement), on held-out emoji.
  const rand = mulberry32(args.seed + 1);
  const n = emojiTest.length;
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * i); // Sattolo: a single cycle, so no caption stays in place
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const images = emojiTest.map((x) => x.image);
  const clipT = {
    matched: shipped.clipT(images, emojiTest.map((x) => x.caption)).mean,
    shuffled: shipped.clipT(images, perm.map((j) => emojiTest[j].caption)).mean,
  };
  log(`CLIP-T on held-out emoji: matching captions ${clipT.matched.toFixed(3)}, shuffled ${clipT.shuffled.toFixed(3)}`);

  // FID sanity: a set against itself (0), two halves of one distribution (small), emoji vs scenes (large).
  const sceneImages = scenesTest.map((x) => x.image);
  const half = Math.floor(sceneImages.length / 2);
  const fid = {
    sameSet: clipFid(shipped, sceneImages, sceneImages).distance,
    scenesHalfVsHalf: clipFid(shipped, sceneImages.slice(0, half), sceneImages.slice(half)).distance,
    emojiVsScenes: clipFid(shipped, images, sceneImages.slice(0, images.length)).distance,
    images: { sameSet: sceneImages.length, halves: half, emojiVsScenes: images.length },
  };
  log(`FID (CLIP features): same set ${fid.sameSet.toExponential(2)}, scene halves ${fid.scenesHalfVsHalf.toFixed(4)}, emoji vs scenes ${fid.emojiVsScenes.toFixed(4)}`);

  const every = Math.max(1, Math.floor(run.history.length / 300));
  const weightsBytes = fs.statSync(path.join(args.out, 'model.safetensors')).size;
  const training = (shipped.extra.training ?? {}) as Record<string, unknown>;
  const last = run.history.at(-1);
  const metrics = {
    model: path.basename(args.out),
    measuredAt: new Date().toISOString(),
    backend: { name: device.backend, simd: device.simd, threads: device.threads },
    params: shipped.numParams,
    weightsBytes,
    dtype: 'float16',
    config: shipped.config,
    training: {
      ...training,
      pairsSeen: typeof training.steps === 'number' && typeof training.batchSize === 'number' ? training.steps * training.batchSize : null,
      trainWallSeconds: round((last?.elapsedMs ?? NaN) / 1000, 1),
      finalLoss: round(last?.loss ?? NaN),
      finalLogitScale: round(last?.logitScale ?? NaN, 3),
      ...(args.measureOnly ? {} : { resumedFrom: run.resumedFrom }),
    },
    measureWallSeconds: round((performance.now() - tMeasure) / 1000, 1),
    ...(args.measureOnly ? {} : { wallSeconds: round((performance.now() - tStart) / 1000, 1) }),
    lossCurve: run.history.filter((_h, i) => i % every === 0 || i === run.history.length - 1).map((h) => [h.step, round(h.loss)]),
    validation: roundDeep(run.evals),
    heldOut: roundDeep({
      ...heldOut,
      protocol: 'test splits in stored order, canonical captions (captions[0]); repeated captions merged; ties count against the model',
    }),
    check: roundDeep({ ...check, sample: `the first ${CHECK_SAMPLE.emoji} emoji and ${CHECK_SAMPLE.scenes} scenes of the test splits (tests re-measure these)` }),
    clipT: roundDeep({ ...clipT, set: 'emoji test, canonical captions; shuffled = a fixed derangement' }),
    fid: roundDeep({ ...fid, features: 'L2-normalised CLIP image embeddings' }),
  };
  atomicWriteFile(path.join(args.out, 'metrics.json'), `${JSON.stringify(metrics, null, 1)}\n`);
  shipped.dispose();
  log(`wrote ${path.relative(process.cwd(), path.join(args.out, 'metrics.json'))}; weights ${(weightsBytes / 1e6).toFixed(2)} MB; total ${fmtTime((performance.now() - tStart) / 1000)}`);
  return 0;
}

/** Trains (resuming from the run directory when it holds a run) and saves the float16 checkpoint. */
async function train(args: Args, store: DataStore): Promise<RunState & { resumedFrom: number }> {
  const tokenizer = loadTextTokenizer();
  const model = ClipModel.create(tokenizer, defaultClipConfig({ vocabSize: tokenizer.vocabSize }), args.seed);
  const data = { emoji: clipExamples(store, 'emoji', 'train'), scenes: clipExamples(store, 'scenes', 'train') };
  const evalSets = {
    'emoji-val': canonicalCaptions(clipExamples(store, 'emoji', 'val')),
    'scenes-val': canonicalCaptions(clipExamples(store, 'scenes', 'val', args.quick ? 200 : 1000)),
  };
  log(`${model.numParams.toLocaleString('en-US')} parameters; train pairs: ${data.emoji.length} emoji, ${data.scenes.length} scenes`);
  if (args.fresh) fs.rmSync(args.runDir, { recursive: true, force: true });
  let lastLine = 0;
  const result = await trainClip(model, data, {
    steps: args.steps,
    batchSize: args.batch,
    lr: args.lr,
    seed: args.seed,
    evalSets,
    evalEvery: args.quick ? 15 : 250,
    runDir: args.runDir,
    checkpointEvery: args.quick ? 15 : 100,
    onEvent: (e) => {
      if (e.kind === 'resume') log(`resuming ${path.relative(process.cwd(), e.dir)} at step ${e.step}`);
      if (e.kind === 'step') {
        const now = performance.now();
        if (now - lastLine < 10_000 && e.step % 50 !== 0 && e.step !== e.totalSteps && e.step > 3) return;
        lastLine = now;
        const perStep = e.elapsedMs / 1000 / e.step;
        log(
          `step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(3)} scale ${e.logitScale.toFixed(1)} lr ${e.lr.toExponential(2)} ` +
            `${e.pairsPerSec.toFixed(0)} pairs/s, ${fmtTime(e.elapsedMs / 1000)} elapsed, eta ${fmtTime(perStep * (e.totalSteps - e.step))}`,
        );
      }
      if (e.kind === 'eval') for (const [name, m] of Object.entries(e.sets)) log(`eval @${e.step} ${name}: ${summary(m)}`);
    },
  });
  model.save(args.out, {
    dtype: 'float16',
    extra: {
      training: {
        steps: args.steps, batchSize: args.batch, lr: args.lr, seed: args.seed,
        data: 'emoji train (caption variants, ±2 px shifts) + scenes train, half each per batch',
      },
    },
  });
  model.dispose();
  log(`saved float16 checkpoint to ${path.relative(process.cwd(), args.out)}`);
  return { history: result.history, evals: result.evals, resumedFrom: result.resumedFrom };
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`[clip] error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
