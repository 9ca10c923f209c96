/**
 * `switchboard bench` (`npm run bench`): Switchboard's engine beside the PyTorch eager reference
 * (scripts/torch_ref/bench_torch.py) on the same checkpoint, same machine, same run. Prints a table
 * of ratios and writes JSON (bench/results/bench-<timestamp>.json, or --out).
 *
 *   decode tokens/s at positions 16, 128, 512 with routing capture on and off; prefill tokens/s, and prefill
 *   (64, 200 tokens) and the routing-only trace forward with the LM head on the rows read against the old paths
 *   (CPU ms new ÷ old, bench/prefill-head.ts);
 *   64-code image with and without CFG; training tokens/s (the trainer, and data-parallel workers);
 *   tensors alive after 10,000 decode steps. Above the table: the baseline's BLAS, a 512×512 matmul's
 *   GFLOP/s on both sides and the machine's load; ratios are withheld when PyTorch runs on the reference BLAS.
 *   `--only profile` prints the kernel profile of one training step instead (README, "Training kernels").
 *   `diffusion`: one latent diffusion image, 25 DDIM steps with CFG, against its ≤ 1 s target (bench/diffusion.ts).
 *   `--only capacity` (not in the default run): the same one-thread work in 1 and in N processes at once, the
 *   ceiling of any data-parallel speed-up on this machine (bench/capacity.ts).
 *   `--only diffusion-train` (not in the default run): seconds per training step of the latent diffusion
 *   decoder on one thread and on data-parallel workers (`--workers`), and the recipe's budgets at those rates.
 *   `--only vqvae-train` (not in the default run): the same for the VQ-VAE's training step (bench/vqvae-train.ts).
 *   `--only clip-train` (not in the default run): the same for CLIP's training step at batch 256 (bench/clip-train.ts).
 *   `--only head-rows` (not in the default run): the LM head only where its output is read against every position,
 *   on real MUMU, MoSS and MiniGPT-5 batches: exactness and CPU per step, new / old (bench/head-rows.ts).
 *   `--only moss-train` (not in the default run): one MoSS training step of each adapter arm in the fused adapter
 *   form against the form before, paired rounds on the recipe's batches: CPU per step, ratio, exactness
 *   (bench/moss-train.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { Session } from '../kernel-lib/session';
import { benchCheckpoint } from './checkpoint';
import { Generation, stepRoutingOf } from '../kernel-lib/decode/generate';
import { mulberry32 } from '../kernel-lib/util/random';
import { repoRoot } from '../kernel-lib/paths';
import { CommandSpec, helpText, numberArg, parseCommand, UsageError } from '../kernel-lib/cli/args';
import { BlasInfo, probeTorchBlas, ratioRefusal, tfMatmulGflops } from './blas';
import { buildReport, formatReport, Measures } from './report';
import { parallelTrainRates } from './parallel-train';
import { profileTable, profileTrainStep } from './profile';
import { benchDiffusion, formatDiffusion } from './diffusion';
import { benchDiffusionTrain, formatDiffusionTrain } from './diffusion-train';
import { benchVqvaeTrain, formatVqvaeTrain } from './vqvae-train';
import { benchClipTrain, formatClipTrain } from './clip-train';
import { benchCapacity, formatCapacity } from './capacity';
import { benchDecodeCost, formatDecodeCost } from './decode-cost';
import { benchPrefillHead, formatPrefillHead, PrefillHeadBench } from './prefill-head';
import { median } from './train-turns';
import { benchHeadRows, formatHeadRows, HEAD_USERS, HeadUser } from './head-rows';
import { benchMossTrain, formatMossTrain, MOSS_TRAIN_ARMS, MossTrainArm } from './moss-train';


function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

function randomIds(n: number, V: number, rand: () => number): number[] {
  return Array.from({ length: n }, () => Math.floor(rand() * V));
}


/**
 * This process's CPU seconds (user + system) since `from`. On a machine other jobs share, CPU time
 * moves much less than wall time (it does not count the time spent waiting for a core), so the
 * within-run ratios below are also reported on it.
 */
function cpuSince(from: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(from);
  return (c.user + c.system) / 1e6;
}

/** CPU seconds per token of the last measureDecode call, and per image of the last measureImage call. */
const cpuCost = { decode: NaN, image: NaN };

function measureDecode(s: Session, P: number, steps: number, capture: boolean, repeats: number, rand: () => number): number {
  const m = s.model;
  const c = m.config;
  const rates: number[] = [];
  const cpus: number[] = [];
  for (let r = 0; r < repeats + 1; r++) {
    const { cache, logits: first } = m.prefill(randomIds(P, c.vocabSize, rand), 'none');
    let logits = first;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      let best = 0;
      for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
      const out = m.step(cache, best, capture ? 'routing' : 'none');
      if (capture) stepRoutingOf(out.routing, c.topK, c.numExperts, 0); // to plain arrays, as a visualiser would
      logits = out.logits;
    }
    const dt = (performance.now() - t0) / 1000;
    const cpu = cpuSince(c0);
    cache.dispose();
    if (r > 0) rates.push(steps / dt); // first run is warm-up
    if (r > 0) cpus.push(cpu / steps);
  }
  cpuCost.decode = median(cpus);
  return median(rates);
}

async function measureImage(s: Session, cfgScale: number, repeats: number): Promise<number> {
  const times: number[] = [];
  const cpus: number[] = [];
  const rand = mulberry32(11);
  const t = s.tokenizer;
  if (!t.hasImages) return NaN;
  const grid = t.imageGrid;
  for (let r = 0; r < repeats + 1; r++) {
    const prompt = { ids: randomIds(6, t.textVocabSize, rand) };
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    // 8 prompt tokens (<bos>, 6 text ids, <boi>) then 64 codes; CFG's unconditional branch drops the text.
    const gen = new Generation(
      s.model, s.decodeVocab(), [t.bos, ...prompt.ids, t.boi],
      cfgScale !== 1 ? [t.bos, t.boi] : null,
      { maxNewTokens: grid.height * grid.width, cfgScale, seed: r, imageGrammar: { height: 8, width: 8 }, capture: 'routing' },
    );
    let n = 0;
    for await (const st of gen) if (st.modality === 'image') n++;
    const dt = (performance.now() - t0) / 1000;
    const cpu = cpuSince(c0);
    if (n !== 64) throw new Error(`bench: image generation produced ${n} codes, expected 64`);
    if (r > 0) times.push(dt);
    if (r > 0) cpus.push(cpu);
  }
  cpuCost.image = median(cpus);
  return median(times);
}

async function measureTrain(s: Session, steps: number): Promise<number> {
  const V = s.config.vocabSize;
  const rand = mulberry32(5);
  const batches = Array.from({ length: steps + 2 }, () => ({ ids: Array.from({ length: 8 }, () => randomIds(129, V, rand)) }));
  const rates: number[] = [];
  await s.train({ steps: steps + 2, batches: (i) => batches[i], lr: 1e-3, warmupSteps: 0, onStep: (e) => { if (e.step > 2) rates.push(e.tokensPerSec); } });
  return median(rates);
}

const SECTIONS = ['decode', 'prefill', 'image', 'train', 'leak', 'diffusion'];
/** Sections run only when --only names them. */
const OPT_IN = ['profile', 'diffusion-train', 'vqvae-train', 'clip-train', 'capacity', 'decode-cost', 'head-rows', 'moss-train'];

export const BENCH: CommandSpec = {
  usage: 'switchboard bench',
  positionals: [],
  about:
    "Switchboard's engine beside the PyTorch eager reference on the same checkpoint: decode, prefill, image and training\n" +
    'speed, capture overhead and tensor growth; prints a table of ratios and writes JSON (bench/results/ or --out).\n' +
    'The diffusion section times one latent diffusion image (25 DDIM steps, CFG) against its 1 s target.',
  options: {
    quick: { type: 'boolean', help: 'fewer repetitions and positions (a smoke run)' },
    out: { type: 'string', arg: 'FILE', help: 'where the JSON goes (default bench/results/bench-<time>.json)' },
    checkpoint: { type: 'string', arg: 'DIR', help: 'the model to measure (default data/checkpoints/mm-moe-small)' },
    'torch-threads': { type: 'string', arg: 'N,M', help: 'PyTorch thread counts, one table column each (default 1,2)' },
    workers: { type: 'string', arg: 'N,M', help: 'data-parallel worker counts for the train, diffusion-train, vqvae-train and clip-train sections (default 1,2; 0 = none)' },
    only: { type: 'string', arg: 'A,B', help: `sections to run: ${SECTIONS.join(', ')} (default all), or profile (the kernel profile of one training step), or diffusion-train (the diffusion decoder's training step by worker count), or vqvae-train (the VQ-VAE's training step by worker count), or clip-train (CLIP's training step by worker count), or capacity (how much the cores do together: the ceiling of data-parallel speed-ups), or decode-cost (a decode step's CPU time and its attention's by position), or head-rows (the LM head only where read against every position: exactness and CPU per step of MUMU, MoSS and MiniGPT-5 steps), or moss-train (a MoSS training step per adapter arm, the fused adapters against the form before: CPU per step and exactness)` },
    'no-torch': { type: 'boolean', help: 'measure Switchboard only' },
    'head-users': { type: 'string', arg: 'A,B', help: `the head-rows section's users: ${HEAD_USERS.join(', ')} (default all)` },
    'head-rounds': { type: 'string', arg: 'N', help: 'timed rounds of each path in the head-rows section (default 5, --quick 1; 0: exactness only)' },
    'prefill-rounds': { type: 'string', arg: 'N', help: "rounds of the prefill section's old-against-new comparison of the LM head on the rows read (default 25, --quick 2)" },
    'moss-arms': { type: 'string', arg: 'A,B', help: `the moss-train section's arms: ${MOSS_TRAIN_ARMS.join(', ')} (default all)` },
    'moss-rounds': { type: 'string', arg: 'N', help: 'paired rounds of each arm in the moss-train section, round r on batch r mod 4 of the window (default 4, --quick 1; 0: exactness only)' },
    'moss-profile': { type: 'boolean', help: 'the moss-train section also profiles one gradient step of each path (kernels by time)' },
  },
};

/** A comma-separated list of positive integers (`--workers 0`: none), else a UsageError naming the flag. */
function countsArg(values: Record<string, unknown>, flag: string, dflt: string, noneAllowed: boolean): number[] {
  const text = typeof values[flag] === 'string' ? (values[flag] as string) : dflt;
  if (noneAllowed && text.trim() === '0') return [];
  return text.split(',').map((part) => numberArg({ [flag]: part }, flag, { integer: true, min: 1 }) as number);
}

/** Runs the benchmark; returns the exit status (0, or 0 after printing --help). */
export async function runBench(argv: string[]): Promise<number> {
  const { values, help } = parseCommand(argv, BENCH);
  if (help) {
    process.stdout.write(`${helpText(BENCH)}\n`);
    return 0;
  }
  const quick = values.quick === true;
  const only = new Set(typeof values.only === 'string' ? values.only.split(',') : SECTIONS);
  for (const o of only) if (![...SECTIONS, ...OPT_IN].includes(o)) throw new UsageError(`--only: unknown section '${o}' (expected ${[...SECTIONS, ...OPT_IN].join(', ')})`);
  const workerCounts = countsArg(values, 'workers', '1,2', true);
  const torchThreads = values['no-torch'] ? [] : countsArg(values, 'torch-threads', '1,2', false);
  if (only.has('capacity')) {
    const capacity = await benchCapacity({ quick, counts: workerCounts.length > 0 ? workerCounts : [1, 2], log });
    process.stdout.write(formatCapacity(capacity));
    only.delete('capacity');
    if (only.size === 0) {
      writeResults(values.out as string | undefined, { date: new Date().toISOString(), capacity });
      return 0;
    }
  }
  if (only.has('head-rows')) {
    const users = (typeof values['head-users'] === 'string' ? values['head-users'].split(',') : [...HEAD_USERS]) as HeadUser[];
    for (const u of users) if (!HEAD_USERS.includes(u)) throw new UsageError(`--head-users: unknown user '${u}' (expected ${HEAD_USERS.join(', ')})`);
    const rounds = values['head-rounds'] === undefined ? (quick ? 1 : 5) : (numberArg(values, 'head-rounds', { integer: true, min: 0 }) as number);
    const headRows = await benchHeadRows({ users, rounds, log });
    process.stdout.write(formatHeadRows(headRows));
    only.delete('head-rows');
    if (only.size === 0) {
      writeResults(values.out as string | undefined, { date: new Date().toISOString(), load: { start: os.loadavg()[0] }, head_rows: headRows });
      return 0;
    }
  }
  if (only.has('moss-train')) {
    const arms = (typeof values['moss-arms'] === 'string' ? values['moss-arms'].split(',') : [...MOSS_TRAIN_ARMS]) as MossTrainArm[];
    for (const a of arms) if (!MOSS_TRAIN_ARMS.includes(a)) throw new UsageError(`--moss-arms: unknown arm '${a}' (expected ${MOSS_TRAIN_ARMS.join(', ')})`);
    const rounds = values['moss-rounds'] === undefined ? (quick ? 1 : 4) : (numberArg(values, 'moss-rounds', { integer: true, min: 0 }) as number);
    const start = os.loadavg()[0];
    const mossTrain = await benchMossTrain({ arms, rounds, profile: values['moss-profile'] === true, log });
    process.stdout.write(formatMossTrain(mossTrain));
    only.delete('moss-train');
    if (only.size === 0) {
      writeResults(values.out as string | undefined, { date: new Date().toISOString(), load: { start, end: os.loadavg()[0] }, moss_train: mossTrain });
      return 0;
    }
  }
  // the diffusion sections build their own model: they need neither the MoE checkpoint nor PyTorch
  let diffusionTrain: Awaited<ReturnType<typeof benchDiffusionTrain>> | undefined;
  if (only.has('diffusion-train')) {
    if (workerCounts.length === 0) throw new UsageError('--only diffusion-train needs worker counts (--workers 1,2)');
    diffusionTrain = await benchDiffusionTrain({ quick, counts: workerCounts, log });
    process.stdout.write(formatDiffusionTrain(diffusionTrain));
    only.delete('diffusion-train');
    if (only.size === 0) {
      writeResults(values.out as string | undefined, { date: new Date().toISOString(), diffusion_train: diffusionTrain });
      return 0;
    }
  }
  let vqvaeTrain: Awaited<ReturnType<typeof benchVqvaeTrain>> | undefined;
  if (only.has('vqvae-train')) {
    if (workerCounts.length === 0) throw new UsageError('--only vqvae-train needs worker counts (--workers 1,2)');
    vqvaeTrain = await benchVqvaeTrain({ quick, counts: workerCounts, log });
    process.stdout.write(formatVqvaeTrain(vqvaeTrain));
    only.delete('vqvae-train');
    if (only.size === 0) {
      writeResults(values.out as string | undefined, { date: new Date().toISOString(), vqvae_train: vqvaeTrain, diffusion_train: diffusionTrain });
      return 0;
    }
  }
  let clipTrain: Awaited<ReturnType<typeof benchClipTrain>> | undefined;
  if (only.has('clip-train')) {
    if (workerCounts.length === 0) throw new UsageError('--only clip-train needs worker counts (--workers 1,2)');
    clipTrain = await benchClipTrain({ quick, counts: workerCounts, log });
    process.stdout.write(formatClipTrain(clipTrain));
    only.delete('clip-train');
    if (only.size === 0) {
      writeResults(values.out as string | undefined, { date: new Date().toISOString(), clip_train: clipTrain, vqvae_train: vqvaeTrain, diffusion_train: diffusionTrain });
      return 0;
    }
  }
  let diffusion: Awaited<ReturnType<typeof benchDiffusion>> | undefined;
  if (only.has('diffusion')) {
    diffusion = await benchDiffusion({ quick, log });
    process.stdout.write(formatDiffusion(diffusion));
    only.delete('diffusion');
    if (only.size === 0) {
      writeResults(values.out as string | undefined, { date: new Date().toISOString(), diffusion, diffusion_train: diffusionTrain, vqvae_train: vqvaeTrain, clip_train: clipTrain });
      return 0;
    }
  }
  const ckDir = (values.checkpoint as string | undefined) ?? (await benchCheckpoint(repoRoot(), log));
  const loadStart = os.loadavg()[0];
  if (only.has('profile')) {
    log('kernel profile of one training step 8×128');
    const s = await Session.load(ckDir);
    const p = await profileTrainStep(s.model);
    s.dispose();
    process.stdout.write(profileTable(p) + '\n');
    only.delete('profile');
    if (only.size === 0) return 0;
  }
  if (only.has('decode-cost')) {
    const s = await Session.load(ckDir);
    const cost = benchDecodeCost(s.model, { quick, log });
    s.dispose();
    process.stdout.write(formatDecodeCost(cost) + '\n');
    only.delete('decode-cost');
    if (only.size === 0) {
      writeResults(values.out as string | undefined, { date: new Date().toISOString(), checkpoint: ckDir, load: { start: loadStart, end: os.loadavg()[0] }, decode_cost: cost });
      return 0;
    }
  }
  const torchScript = path.join(repoRoot(), 'scripts/torch_ref/bench_torch.py');
  const blas: BlasInfo[] = torchThreads.map((t) => probeTorchBlas(torchScript, t));
  const refusal = ratioRefusal(blas);
  if (refusal) log(refusal);
  // PyTorch runs before and after Switchboard and each metric keeps its better value: on a shared
  // machine this makes the reference, not Switchboard, the one that benefits from a quiet moment.
  const torchBefore = new Map(torchThreads.map((t) => [t, runTorch(ckDir, t, quick)]));
  const s = await Session.load(ckDir);
  log(`checkpoint ${ckDir}; backend ${s.device.backend} (simd ${s.device.simd}, threads ${s.device.threads})`);
  const sbGflops = tfMatmulGflops();
  const rand = mulberry32(1);
  const steps = quick ? 8 : 48;
  const repeats = quick ? 1 : 5;
  const ts: Measures = { decode: {}, prefill_tokens_per_s: NaN, image_seconds: { no_cfg: NaN, cfg: NaN }, train_tokens_per_s: NaN, parallel_train: null, decode_cpu_ms_per_token: {}, image_cpu_seconds: { no_cfg: NaN, cfg: NaN } };
  for (const P of only.has('decode') ? [16, 128, 512] : []) {
    if (P + steps > s.config.maxPositions) continue;
    log(`decode at position ${P}`);
    // capture off and on alternate, so drifting machine load affects both alike
    const off: number[] = [];
    const on: number[] = [];
    const onCpu: number[] = [];
    for (let r = 0; r < repeats; r++) {
      off.push(measureDecode(s, P, steps, false, 1, rand));
      on.push(measureDecode(s, P, steps, true, 1, rand));
      onCpu.push(cpuCost.decode);
    }
    ts.decode[String(P)] = { capture_off: median(off), capture_on: median(on) };
    ts.decode_cpu_ms_per_token[String(P)] = median(onCpu) * 1000;
  }
  let prefillHead: PrefillHeadBench | undefined;
  if (only.has('prefill')) {
    log('prefill 256');
    const pre: number[] = [];
    for (let r = 0; r < repeats + 1; r++) {
      const ids = randomIds(256, s.config.vocabSize, rand);
      const t0 = performance.now();
      s.model.prefill(ids, 'none').cache.dispose();
      if (r > 0) pre.push(256 / ((performance.now() - t0) / 1000));
    }
    ts.prefill_tokens_per_s = median(pre);
    const rounds = values['prefill-rounds'] === undefined ? undefined : (numberArg(values, 'prefill-rounds', { integer: true, min: 1 }) as number);
    prefillHead = benchPrefillHead(s.model, { quick, rounds, log });
  }
  if (only.has('image')) {
    log('image 64 codes, without and with CFG (alternating)');
    const no: number[] = [];
    const yes: number[] = [];
    const noCpu: number[] = [];
    const yesCpu: number[] = [];
    for (let r = 0; r < repeats; r++) {
      no.push(await measureImage(s, 1, 1));
      noCpu.push(cpuCost.image);
      yes.push(await measureImage(s, 3, 1));
      yesCpu.push(cpuCost.image);
    }
    ts.image_seconds = { no_cfg: median(no), cfg: median(yes) };
    ts.image_cpu_seconds = { no_cfg: median(noCpu), cfg: median(yesCpu) };
  }
  if (only.has('train')) {
    log('training 8×128');
    ts.train_tokens_per_s = await measureTrain(s, quick ? 2 : 5);
    if (workerCounts.length > 0) {
      log(`training 8×128 with data-parallel workers: ${workerCounts.join(', ')} (taking turns step by step)`);
      const copy = await Session.load(ckDir); // the workers' runs update weights: keep them off the decode model
      ts.parallel_train = await parallelTrainRates(copy, workerCounts, quick ? 2 : 6, log);
      copy.dispose();
    }
  }

  const total = only.has('leak') ? (quick ? 1000 : 10000) : 0;
  if (total > 0) {
    log(`tensors alive over ${total} decode steps`);
    // what the model builds once and keeps (decode weights, RoPE tables, the prompt's causal mask) is not a leak
    const warm = s.model.prefill(randomIds(8, s.config.vocabSize, rand), 'none').cache;
    s.model.step(warm, 0, 'routing');
    warm.dispose();
  }
  const before = tf.memory().numTensors;
  let done = 0;
  while (done < total) {
    const { cache } = s.model.prefill(randomIds(8, s.config.vocabSize, rand), 'none');
    const n = Math.min(total - done, s.config.maxPositions - 8);
    for (let i = 0; i < n; i++) s.model.step(cache, Math.floor(rand() * s.config.vocabSize), 'routing');
    cache.dispose();
    done += n;
  }
  const tensorGrowth = tf.memory().numTensors - before;
  s.dispose();

  const torch: Record<string, Record<string, unknown>> = {};
  for (const t of torchThreads) torch[String(t)] = bestOf(torchBefore.get(t) ?? null, runTorch(ckDir, t, quick));
  const device = `${s.device.backend}${s.device.simd ? ' SIMD' : ''}, ${s.device.threads} thread${s.device.threads === 1 ? '' : 's'}`;
  const env = { device, matmul_512_gflops: sbGflops, load: { start: loadStart, end: os.loadavg()[0], cores: os.cpus().length }, blas };
  const report = buildReport(ts, torch, env, tensorGrowth, total, ckDir);
  process.stdout.write(formatReport(report));
  if (prefillHead) process.stdout.write(`\n${formatPrefillHead(prefillHead)}`);
  writeResults(values.out as string | undefined, { ...report, ...(prefillHead ? { prefill_head: prefillHead } : {}), ...(diffusion ? { diffusion } : {}), ...(diffusionTrain ? { diffusion_train: diffusionTrain } : {}), ...(vqvaeTrain ? { vqvae_train: vqvaeTrain } : {}), ...(clipTrain ? { clip_train: clipTrain } : {}) });
  return 0;
}

/** The run's JSON: --out, else bench/results/bench-<time>.json. */
function writeResults(out: string | undefined, report: object): void {
  const outFile = out ?? path.join(repoRoot(), 'bench', 'results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, JSON.stringify(report, null, 2));
  log(`wrote ${outFile}`);
}

function runTorch(ckDir: string, threads: number, quick: boolean): Record<string, unknown> {
  log(`PyTorch reference (threads ${threads})`);
  const r = spawnSync('/usr/bin/python3', [path.join(repoRoot(), 'scripts/torch_ref/bench_torch.py'), '--checkpoint', ckDir, '--threads', String(threads), ...(quick ? ['--quick'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`bench: the PyTorch reference failed (exit ${r.status}); is python3-torch installed? (npm run setup installs it)`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** Per metric, the better of two PyTorch runs (higher tokens/s, fewer seconds). */
function bestOf(a: Record<string, unknown> | null, b: Record<string, unknown>): Record<string, unknown> {
  if (!a) return b;
  const pick = (x: unknown, y: unknown, key: string): unknown => {
    if (typeof x === 'number' && typeof y === 'number') return key === 'seconds' ? Math.min(x, y) : key === 'tokens_per_s' ? Math.max(x, y) : x;
    if (x && y && typeof x === 'object' && typeof y === 'object' && !Array.isArray(x)) {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(x)) o[k] = pick((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], k);
      return o;
    }
    return x;
  };
  return { ...(pick(a, b, '') as Record<string, unknown>), runs_combined: 2 };
}

