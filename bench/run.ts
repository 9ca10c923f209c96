/**
 * `switchboard bench` (`npm run bench`): Switchboard's engine beside the PyTorch eager reference
 * (scripts/torch_ref/bench_torch.py) on the same checkpoint, same machine, same run. Prints a table
 * of ratios and writes JSON (bench/results/bench-<timestamp>.json, or --out).
 *
 *   decode tokens/s at positions 16, 128, 512 with routing capture on and off; prefill tokens/s;
 *   64-code image with and without CFG; training tokens/s; tensors alive after 10,000 decode steps.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { Session } from '../kernel-lib/session';
import { benchCheckpoint } from './checkpoint';
import { Generation, stepRoutingOf } from '../kernel-lib/decode/generate';
import { mulberry32 } from '../kernel-lib/util/random';
import { repoRoot } from '../kernel-lib/paths';
import { CommandSpec, UsageError, helpText, numberArg, parseCommand } from '../kernel-lib/cli/args';


function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

function randomIds(n: number, V: number, rand: () => number): number[] {
  return Array.from({ length: n }, () => Math.floor(rand() * V));
}

interface Measures {
  decode: Record<string, { capture_off: number; capture_on: number }>;
  prefill_tokens_per_s: number;
  image_seconds: { no_cfg: number; cfg: number };
  train_tokens_per_s: number;
  /** CPU milliseconds per decoded token (capture on), by position. */
  decode_cpu_ms_per_token: Record<string, number>;
  /** CPU seconds per image. */
  image_cpu_seconds: { no_cfg: number; cfg: number };
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

export const BENCH: CommandSpec = {
  usage: 'switchboard bench',
  positionals: [],
  about:
    "Switchboard's engine beside the PyTorch eager reference on the same checkpoint: decode, prefill, image and training\n" +
    'speed, capture overhead and tensor growth; prints a table of ratios and writes JSON (bench/results/ or --out).',
  options: {
    quick: { type: 'boolean', help: 'fewer repetitions and positions (a smoke run)' },
    out: { type: 'string', arg: 'FILE', help: 'where the JSON goes (default bench/results/bench-<time>.json)' },
    checkpoint: { type: 'string', arg: 'DIR', help: 'the model to measure (default data/checkpoints/mm-moe-small)' },
    'torch-threads': { type: 'string', arg: 'N', help: 'PyTorch threads (default 1)' },
    'no-torch': { type: 'boolean', help: 'measure Switchboard only' },
    only: { type: 'string', arg: 'LIST', help: 'only these sections, comma-separated: decode, prefill, image, train, leak (default all)' },
  },
};

/** Runs the benchmark; returns the exit status (0, or 0 after printing --help). */
export async function runBench(argv: string[]): Promise<number> {
  const { values, help } = parseCommand(argv, BENCH);
  if (help) {
    process.stdout.write(`${helpText(BENCH)}\n`);
    return 0;
  }
  const quick = values.quick === true;
  const ckDir = (values.checkpoint as string | undefined) ?? (await benchCheckpoint(repoRoot(), log));
  const threads = numberArg(values, 'torch-threads', { integer: true, min: 1 }) ?? 1;
  // --only decode,image,…: run only these sections, e.g. to compare decode ratios before/after an
  // engine change without the minutes of training.
  const SECTIONS = ['decode', 'prefill', 'image', 'train', 'leak'];
  const onlyArg = values.only as string | undefined;
  const only = new Set(onlyArg === undefined ? SECTIONS : onlyArg.split(','));
  for (const o of only) if (!SECTIONS.includes(o)) throw new UsageError(`--only: unknown section '${o}' (expected ${SECTIONS.join(', ')})`);
  // PyTorch runs before and after Switchboard and each metric keeps its better value: on a shared
  // machine this makes the reference, not Switchboard, the one that benefits from a quiet moment.
  const torchBefore = values['no-torch'] ? null : runTorch(ckDir, threads, quick);
  const s = await Session.load(ckDir);
  log(`checkpoint ${ckDir}; backend ${s.device.backend} (simd ${s.device.simd}, threads ${s.device.threads})`);
  const rand = mulberry32(1);
  const steps = quick ? 8 : 48;
  const repeats = quick ? 1 : 5;
  const ts: Measures = { decode: {}, prefill_tokens_per_s: 0, image_seconds: { no_cfg: 0, cfg: 0 }, train_tokens_per_s: 0, decode_cpu_ms_per_token: {}, image_cpu_seconds: { no_cfg: NaN, cfg: NaN } };
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
  const pre: number[] = [];
  if (only.has('prefill')) log('prefill 256');
  for (let r = 0; only.has('prefill') && r < repeats + 1; r++) {
    const ids = randomIds(256, s.config.vocabSize, rand);
    const t0 = performance.now();
    s.model.prefill(ids, 'none').cache.dispose();
    if (r > 0) pre.push(256 / ((performance.now() - t0) / 1000));
  }
  ts.prefill_tokens_per_s = pre.length ? median(pre) : NaN;
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
  } else {
    ts.image_seconds = { no_cfg: NaN, cfg: NaN };
  }
  ts.train_tokens_per_s = NaN;
  if (only.has('train')) {
    log('training 8×128');
    ts.train_tokens_per_s = await measureTrain(s, quick ? 2 : 5);
  }

  const total = only.has('leak') ? (quick ? 1000 : 10000) : 0;
  if (total > 0) log(`tensors alive over ${total} decode steps`);
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

  let torch: Record<string, unknown> | null = null;
  if (!values['no-torch']) {
    torch = bestOf(torchBefore, runTorch(ckDir, threads, quick));
  }
  const report = buildReport(ts, torch, tensorGrowth, total, ckDir);
  printTable(report);
  const outFile = (values.out as string | undefined) ?? path.join(repoRoot(), 'bench', 'results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, JSON.stringify(report, null, 2));
  log(`wrote ${outFile}`);
  return 0;
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

interface Row {
  metric: string;
  switchboard: number;
  torch: number | null;
  /** > 1 means Switchboard is better. */
  ratio: number | null;
  target?: string;
}

function buildReport(ts: Measures, torch: Record<string, unknown> | null, growth: number, steps: number, ck: string) {
  const rows: Row[] = [];
  const t = (torch ?? {}) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const [P, d] of Object.entries(ts.decode)) {
    const td = t.decode?.[P] ?? t.decode?.find?.((x: any) => String(x.position) === P); // eslint-disable-line @typescript-eslint/no-explicit-any
    const off = td?.capture_off?.tokens_per_s ?? td?.capture_off ?? null;
    const on = td?.capture_on?.tokens_per_s ?? td?.capture_on ?? null;
    rows.push({ metric: `decode tok/s @${P}, capture off`, switchboard: d.capture_off, torch: off, ratio: off ? d.capture_off / off : null, target: '≥ 1.0×' });
    rows.push({ metric: `decode tok/s @${P}, capture on`, switchboard: d.capture_on, torch: on, ratio: on ? d.capture_on / on : null, target: '≥ 1.0×' });
  }
  const tp = t.prefill?.tokens_per_s ?? t.prefill_tokens_per_s ?? null;
  rows.push({ metric: 'prefill tok/s (256)', switchboard: ts.prefill_tokens_per_s, torch: tp, ratio: tp ? ts.prefill_tokens_per_s / tp : null });
  const ti = t.image ?? {};
  const tin = ti.no_cfg?.seconds ?? ti.no_cfg ?? null;
  const tic = ti.cfg?.seconds ?? ti.cfg ?? null;
  rows.push({ metric: 'image 64 codes, s (no CFG)', switchboard: ts.image_seconds.no_cfg, torch: tin, ratio: tin ? tin / ts.image_seconds.no_cfg : null });
  rows.push({ metric: 'image 64 codes, s (CFG)', switchboard: ts.image_seconds.cfg, torch: tic, ratio: tic ? tic / ts.image_seconds.cfg : null });
  const tt = t.train?.tokens_per_s ?? t.train_tokens_per_s ?? null;
  rows.push({ metric: 'train tok/s (8×128)', switchboard: ts.train_tokens_per_s, torch: tt, ratio: tt ? ts.train_tokens_per_s / tt : null, target: '≥ 0.5×' });
  const d16 = ts.decode['16'];
  const d512 = ts.decode['512'];
  const derived = {
    capture_overhead: Object.fromEntries(Object.entries(ts.decode).map(([P, d]) => [P, d.capture_off / d.capture_on - 1])),
    per_token_cost_512_over_16: d16 && d512 ? d16.capture_on / d512.capture_on : null,
    cfg_over_no_cfg: ts.image_seconds.cfg / ts.image_seconds.no_cfg,
    per_token_cpu_cost_512_over_16: ts.decode_cpu_ms_per_token['512'] / ts.decode_cpu_ms_per_token['16'],
    cfg_over_no_cfg_cpu: ts.image_cpu_seconds.cfg / ts.image_cpu_seconds.no_cfg,
    tensors_alive_growth: growth,
    decode_steps_for_growth: steps,
  };
  return { checkpoint: ck, date: new Date().toISOString(), switchboard: ts, torch, rows, derived };
}

function printTable(r: ReturnType<typeof buildReport>): void {
  const f = (x: number | null) => (x === null || Number.isNaN(x) ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(3));
  const lines = [`${'metric'.padEnd(34)} ${'switchboard'.padStart(12)} ${'pytorch'.padStart(10)} ${'ratio'.padStart(8)}  target`];
  for (const row of r.rows) {
    lines.push(`${row.metric.padEnd(34)} ${f(row.switchboard).padStart(12)} ${f(row.torch).padStart(10)} ${(row.ratio === null ? '—' : row.ratio.toFixed(2) + '×').padStart(8)}  ${row.target ?? ''}`);
  }
  const d = r.derived;
  lines.push('');
  lines.push(`capture overhead: ${Object.entries(d.capture_overhead).map(([P, o]) => `@${P} ${(o * 100).toFixed(1)}%`).join(', ')}  (target ≤ 5%)`);
  lines.push(`per-token cost @512 / @16: ${d.per_token_cost_512_over_16 === null ? '—' : d.per_token_cost_512_over_16.toFixed(2)}×  (target ≤ 1.2×)`);
  lines.push(`one 64-code image, CFG / no CFG: ${Number.isNaN(d.cfg_over_no_cfg) ? '—' : d.cfg_over_no_cfg.toFixed(2)}×  (target ≤ 1.3×)`);
  const x = (v: number) => (Number.isNaN(v) ? '—' : `${v.toFixed(2)}×`);
  lines.push(`  the same two ratios in CPU time (steadier on a shared machine): ${x(d.per_token_cpu_cost_512_over_16)}, ${x(d.cfg_over_no_cfg_cpu)}`);
  lines.push(`tensors alive after ${d.decode_steps_for_growth} decode steps: ${d.tensors_alive_growth >= 0 ? '+' : ''}${d.tensors_alive_growth}  (target 0)`);
  lines.push('ratio > 1 means Switchboard is faster (for image seconds: PyTorch time / Switchboard time).');
  process.stdout.write(lines.join('\n') + '\n');
}
