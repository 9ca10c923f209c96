/**
 * The benchmark's report: rows of Switchboard beside PyTorch at each thread count, derived ratios, the
 * baseline's BLAS and the machine's load; printed as a table and written as JSON.
 */
import { BlasInfo, describeBlas, ratioRefusal } from './blas';
import { formatPhases, ParallelRates } from './parallel-train';

export interface Measures {
  decode: Record<string, { capture_off: number; capture_on: number }>;
  prefill_tokens_per_s: number;
  image_seconds: { no_cfg: number; cfg: number };
  /** The single-thread trainer (session.train). */
  train_tokens_per_s: number;
  /** Data-parallel training by worker count (null when not measured). */
  parallel_train: ParallelRates | null;
  /** CPU milliseconds per decoded token (capture on), by position. */
  decode_cpu_ms_per_token: Record<string, number>;
  /** CPU seconds per image. */
  image_cpu_seconds: { no_cfg: number; cfg: number };
}

export interface Environment {
  device: string;
  matmul_512_gflops: number;
  /** 1-minute load average at the start and the end of the run, and the core count. */
  load: { start: number; end: number; cores: number };
  blas: BlasInfo[];
}

interface Row {
  metric: string;
  switchboard: number;
  /** PyTorch's value by thread count. */
  torch: Record<string, number | null>;
  /** Ratio by PyTorch thread count, > 1 means Switchboard is better; null when not available or withheld. */
  ratio: Record<string, number | null>;
  target?: string;
}

type TorchRun = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function buildReport(ts: Measures, torch: Record<string, TorchRun>, env: Environment, growth: number, steps: number, ck: string) {
  const refusal = ratioRefusal(env.blas);
  const rows: Row[] = [];
  const threads = Object.keys(torch);
  /** higher: tokens/s (ratio sb/torch); lower: seconds (ratio torch/sb). */
  const row = (metric: string, sb: number, pick: (t: TorchRun) => number | null, kind: 'higher' | 'lower', target?: string, only?: string[]): void => {
    const tv: Record<string, number | null> = {};
    const ratio: Record<string, number | null> = {};
    for (const th of threads) {
      const v = only && !only.includes(th) ? null : pick(torch[th]) ?? null;
      tv[th] = v;
      ratio[th] = v === null || refusal || !Number.isFinite(sb) ? null : kind === 'higher' ? sb / v : v / sb;
    }
    rows.push({ metric, switchboard: sb, torch: tv, ratio, target });
  };
  for (const [P, d] of Object.entries(ts.decode)) {
    row(`decode tok/s @${P}, capture off`, d.capture_off, (t) => t.decode?.[P]?.capture_off?.tokens_per_s, 'higher', '≥ 1.0×');
    row(`decode tok/s @${P}, capture on`, d.capture_on, (t) => t.decode?.[P]?.capture_on?.tokens_per_s, 'higher', '≥ 1.0×');
  }
  row('prefill tok/s (256)', ts.prefill_tokens_per_s, (t) => t.prefill?.tokens_per_s, 'higher');
  row('image 64 codes, s (no CFG)', ts.image_seconds.no_cfg, (t) => t.image?.no_cfg?.seconds, 'lower');
  row('image 64 codes, s (CFG)', ts.image_seconds.cfg, (t) => t.image?.cfg?.seconds, 'lower');
  row('train tok/s (8×128), trainer', ts.train_tokens_per_s, (t) => t.train?.tokens_per_s, 'higher', '≥ 0.5×', ['1']);
  const par = ts.parallel_train;
  for (const [w, v] of Object.entries(par?.tokensPerSec ?? {})) {
    row(`train tok/s (8×128), ${w} worker${w === '1' ? '' : 's'}`, v, (t) => t.train?.tokens_per_s, 'higher', '≥ 0.5× (same threads)', [w]);
  }
  const d16 = ts.decode['16'];
  const d512 = ts.decode['512'];
  const derived = {
    capture_overhead: Object.fromEntries(Object.entries(ts.decode).map(([P, d]) => [P, d.capture_off / d.capture_on - 1])),
    per_token_cost_512_over_16: d16 && d512 ? d16.capture_on / d512.capture_on : null,
    cfg_over_no_cfg: ts.image_seconds.cfg / ts.image_seconds.no_cfg,
    per_token_cpu_cost_512_over_16: ts.decode_cpu_ms_per_token['512'] / ts.decode_cpu_ms_per_token['16'],
    cfg_over_no_cfg_cpu: ts.image_cpu_seconds.cfg / ts.image_cpu_seconds.no_cfg,
    train_2_workers_over_1: par?.tokensPerSec['2'] && par.tokensPerSec['1'] ? par.tokensPerSec['2'] / par.tokensPerSec['1'] : null,
    train_2_workers_over_trainer: par?.tokensPerSec['2'] && Number.isFinite(ts.train_tokens_per_s) ? par.tokensPerSec['2'] / ts.train_tokens_per_s : null,
    train_2_workers_over_1_projected: par?.projectedTokensPerSec?.['2'] && par.projectedTokensPerSec['1'] ? par.projectedTokensPerSec['2'] / par.projectedTokensPerSec['1'] : null,
    torch_train_2_threads_over_1: torch['2']?.train?.tokens_per_s && torch['1']?.train?.tokens_per_s ? torch['2'].train.tokens_per_s / torch['1'].train.tokens_per_s : null,
    tensors_alive_growth: growth,
    decode_steps_for_growth: steps,
  };
  return { checkpoint: ck, date: new Date().toISOString(), environment: env, ratios_withheld: refusal, switchboard: ts, torch, rows, derived };
}

export type Report = ReturnType<typeof buildReport>;

export function formatReport(r: Report): string {
  const f = (x: number | null) => (x === null || Number.isNaN(x) ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(3));
  const env = r.environment;
  const threads = Object.keys(r.torch);
  const lines = [...describeBlas(env.blas, env.matmul_512_gflops, env.device)];
  lines.push(`machine load (1-min average): ${env.load.start.toFixed(2)} at the start, ${env.load.end.toFixed(2)} at the end, on ${env.load.cores} cores` +
    (Math.max(env.load.start, env.load.end) > 0.5 ? ' — timings on a busy machine: compare ratios within this run only' : ''));
  if (r.ratios_withheld) lines.push('', r.ratios_withheld);
  lines.push('');
  const head = [`${'metric'.padEnd(38)} ${'switchboard'.padStart(12)}`];
  for (const th of threads) head.push(`${`pytorch ${th}t`.padStart(11)} ${'ratio'.padStart(7)}`);
  lines.push(`${head.join(' ')}  target`);
  for (const row of r.rows) {
    const cells = [`${row.metric.padEnd(38)} ${f(row.switchboard).padStart(12)}`];
    for (const th of threads) cells.push(`${f(row.torch[th]).padStart(11)} ${(row.ratio[th] === null ? '—' : `${(row.ratio[th] as number).toFixed(2)}×`).padStart(7)}`);
    lines.push(`${cells.join(' ')}  ${row.target ?? ''}`);
  }
  const d = r.derived;
  lines.push('');
  lines.push(`capture overhead: ${Object.entries(d.capture_overhead).map(([P, o]) => `@${P} ${(o * 100).toFixed(1)}%`).join(', ')}  (target ≤ 5%)`);
  lines.push(`per-token cost @512 / @16: ${d.per_token_cost_512_over_16 === null ? '—' : d.per_token_cost_512_over_16.toFixed(2)}×  (target ≤ 1.2×)`);
  lines.push(`one 64-code image, CFG / no CFG: ${Number.isNaN(d.cfg_over_no_cfg) ? '—' : d.cfg_over_no_cfg.toFixed(2)}×  (target ≤ 1.3×)`);
  const x = (v: number) => (Number.isNaN(v) ? '—' : `${v.toFixed(2)}×`);
  lines.push(`  the same two ratios in CPU time (steadier on a shared machine): ${x(d.per_token_cpu_cost_512_over_16)}, ${x(d.cfg_over_no_cfg_cpu)}`);
  lines.push(`training, 2 workers / 1 worker: ${d.train_2_workers_over_1 === null ? '—' : `${d.train_2_workers_over_1.toFixed(2)}×`}  (target ≥ 1.7×); PyTorch 2 threads / 1: ${d.torch_train_2_threads_over_1 === null ? '—' : `${d.torch_train_2_threads_over_1.toFixed(2)}×`}`);
  if (r.switchboard.parallel_train?.cpuMs) {
    const p = r.switchboard.parallel_train;
    const per = Object.entries(p.cpuMs).map(([w, c]) => `${w}: main ${c.main.toFixed(0)} + busiest worker ${c.maxWorker.toFixed(0)} (all workers ${c.workers.toFixed(0)}) → ${p.projectedTokensPerSec[w].toFixed(0)} tok/s`).join('; ');
    lines.push(`  CPU ms per step by worker count: ${per}; projected 2 / 1 on an idle machine: ${d.train_2_workers_over_1_projected === null ? '—' : `${d.train_2_workers_over_1_projected.toFixed(2)}×`}`);
    if (p.phases) lines.push(...formatPhases(p.phases));
  }
  if (d.train_2_workers_over_trainer !== null) lines.push(`training, 2 workers / the one-thread trainer: ${d.train_2_workers_over_trainer.toFixed(2)}×`);
  lines.push(`tensors alive after ${d.decode_steps_for_growth} decode steps: ${d.tensors_alive_growth >= 0 ? '+' : ''}${d.tensors_alive_growth}  (target 0)`);
  lines.push('ratio > 1 means Switchboard is faster (for image seconds: PyTorch time / Switchboard time); a worker row is compared with PyTorch at the same thread count.');
  if (r.ratios_withheld) lines.push('', 'RATIOS WITHHELD: the baseline runs on the reference BLAS (see above).');
  return lines.join('\n') + '\n';
}
