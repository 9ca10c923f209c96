/**
 * `switchboard train clip` (`npm run train:clip`): trains the workbench CLIP on the emoji and scene train
 * splits, resumably, and ships it as a float16 checkpoint with metrics.json.
 *
 * After training, the float16 checkpoint is reloaded and measured — held-out retrieval on the emoji and
 * scene test splits, CLIP-T of matching vs shuffled captions, FID sanity values — and everything goes
 * into <out>/metrics.json.
 */
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../backend/backend';
import { atomicWriteFile } from '../checkpoint/files';
import { runDir as runDirOf } from '../paths';
import { mulberry32 } from '../util/random';
import { DataStore, ensureData } from '../data/store';
import { loadTextTokenizer } from '../data/text-tokenizer';
import { ClipModel, defaultClipDir } from '../eval/clip';
import { defaultClipConfig } from '../eval/clip-config';
import { canonicalCaptions, CHECK_SAMPLE, clipExamples } from '../eval/clip-data';
import { clipFid } from '../eval/fid';
import { clipRetrieval, RetrievalMetrics } from '../eval/retrieval';
import { ClipEvalRecord, ClipStepRecord, trainClip } from '../eval/train-clip';
import { CommandSpec, numberArg, parseCommand, seedArg } from './args';
import type { Io } from './io';

export const TRAIN_CLIP: CommandSpec = {
  usage: 'switchboard train clip',
  positionals: [],
  about:
    'Trains the workbench CLIP on the emoji and scene train splits (resumable: run it again after Ctrl-C), saves the\n' +
    'float16 checkpoint, then re-measures it (held-out retrieval, CLIP-T, FID sanity values) into its metrics.json.',
  options: {
    steps: { type: 'string', arg: 'N', help: 'training steps (default 900; --quick 30)' },
    batch: { type: 'string', arg: 'N', help: 'pairs per batch (default 256; --quick 64)' },
    lr: { type: 'string', arg: 'X', help: 'peak learning rate (default 2e-3)' },
    seed: { type: 'string', arg: 'N', help: 'an integer in [0, 2^32) (default 0)' },
    out: { type: 'string', arg: 'DIR', help: 'checkpoint folder (default data/checkpoints/clip-emoji)' },
    'run-dir': { type: 'string', arg: 'DIR', help: 'resumable run state (default .cache/runs/clip-emoji); an interrupted run continues' },
    fresh: { type: 'boolean', help: 'discard the run state and start over' },
    quick: { type: 'boolean', help: 'a 30-step smoke run into .cache/runs/clip-quick (does not touch --out unless given)' },
    'measure-only': { type: 'boolean', help: 'no training: re-measure the checkpoint in --out and rewrite its metrics.json' },
  },
};
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

/** The options, each checked before any work starts (a bad one is a UsageError naming it). */
function clipArgs(values: Record<string, string | boolean | undefined>): Args {
  const quick = values.quick === true;
  const str = (k: string) => values[k] as string | undefined;
  const out = str('out');
  const runDir = str('run-dir');
  return {
    steps: numberArg(values, 'steps', { integer: true, min: 1 }) ?? (quick ? 30 : 900),
    batch: numberArg(values, 'batch', { integer: true, min: 1 }) ?? (quick ? 64 : 256),
    lr: numberArg(values, 'lr', { min: 0 }) ?? 2e-3,
    seed: seedArg(values) ?? 0,
    out: out !== undefined ? path.resolve(out) : quick ? path.join(runDirOf('clip-quick'), 'out') : defaultClipDir(),
    runDir: runDir !== undefined ? path.resolve(runDir) : runDirOf(quick ? 'clip-quick' : 'clip-emoji'),
    fresh: quick || values.fresh === true,
    quick,
    measureOnly: values['measure-only'] === true,
  };
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

export async function trainClipCommand(argv: string[], io: Io): Promise<number> {
  const parsed = parseCommand(argv, TRAIN_CLIP);
  if (parsed.help) return io.help(TRAIN_CLIP);
  const args = clipArgs(parsed.values);
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
            `${e.pairsPerSec.toFixed(0)} pairs/s (${e.threads} thread${e.threads === 1 ? '' : 's'}), ${fmtTime(e.elapsedMs / 1000)} elapsed, eta ${fmtTime(perStep * (e.totalSteps - e.step))}`,
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
