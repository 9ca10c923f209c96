/**
 * The `capacity` section of `switchboard bench` (`npm run bench -- --only capacity`, not in the default run):
 * how much work the machine's cores do together. The same one-thread wasm work runs in one process alone,
 * then in N processes at once (separate processes: nothing is shared but the hardware); the aggregate rate
 * of N over the rate of one is the most any N-way data-parallel training can gain here, whatever its
 * code. Two kinds of work: 512×512 matMuls (compute-bound, GFLOP/s) and a·b + c over 16 MB arrays
 * (memory-bound, GB/s). The configurations take turns in rounds, so a drifting load affects them alike.
 */
import * as os from 'node:os';
import { spawn } from 'node:child_process';
import { compiledModule } from '../kernel-lib/train/parallel/pool';
import { median } from './train-turns';

export interface CapacityRow {
  kind: 'matmul' | 'stream';
  processes: number;
  /** Median over rounds of the mean per-process rate (GFLOP/s or GB/s). */
  perProcess: number;
  /** perProcess × processes. */
  aggregate: number;
  /** aggregate ÷ the one-process rate: N for perfectly independent cores. */
  scaling: number;
  /** CPU seconds per wall second per process (1 = never waited for a core). */
  cpuShare: number;
}

export interface CapacityBench {
  cores: number;
  seconds: number;
  rounds: number;
  loadStart: number;
  loadEnd: number;
  rows: CapacityRow[];
}

interface ChildResult { kind: string; rate: number; wall: number; cpu: number }

function runTogether(kind: string, n: number, seconds: number): Promise<ChildResult[]> {
  const file = compiledModule('bench/capacity-child');
  const startAt = Date.now() + 4000; // after every child has loaded and warmed up
  return Promise.all(
    Array.from({ length: n }, () => new Promise<ChildResult>((resolve, reject) => {
      const c = spawn(process.execPath, [file, kind, String(startAt), String(seconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (b: Buffer) => (out += b.toString()));
      c.stderr.on('data', (b: Buffer) => (err += b.toString()));
      c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1) as string) as ChildResult) : reject(new Error(`bench capacity: a probe process failed (exit ${code}): ${err.trim().split('\n').at(-1)}`))));
    })),
  );
}

export async function benchCapacity(o: { quick: boolean; counts: number[]; log: (s: string) => void }): Promise<CapacityBench> {
  const counts = [...new Set([1, ...o.counts])].sort((a, b) => a - b);
  const seconds = o.quick ? 1.5 : 3;
  const rounds = o.quick ? 1 : 3;
  const loadStart = os.loadavg()[0];
  const got = new Map<string, { rate: number[]; share: number[] }>();
  for (let r = 0; r < rounds; r++) {
    for (const kind of ['matmul', 'stream'] as const) {
      for (const n of counts) {
        const res = await runTogether(kind, n, seconds);
        const key = `${kind}|${n}`;
        const g = got.get(key) ?? { rate: [], share: [] };
        g.rate.push(res.reduce((a, x) => a + x.rate, 0) / n);
        g.share.push(res.reduce((a, x) => a + x.cpu / x.wall, 0) / n);
        got.set(key, g);
        o.log(`round ${r + 1}: ${kind} × ${n} process(es): ${(g.rate.at(-1) as number).toFixed(2)} ${kind === 'matmul' ? 'GFLOP/s' : 'GB/s'} each`);
      }
    }
  }
  const rows: CapacityRow[] = [];
  for (const kind of ['matmul', 'stream'] as const) {
    const one = median(got.get(`${kind}|1`)!.rate);
    for (const n of counts) {
      const g = got.get(`${kind}|${n}`)!;
      const perProcess = median(g.rate);
      rows.push({ kind, processes: n, perProcess, aggregate: perProcess * n, scaling: (perProcess * n) / one, cpuShare: median(g.share) });
    }
  }
  return { cores: os.cpus().length, seconds, rounds, loadStart, loadEnd: os.loadavg()[0], rows };
}

export function formatCapacity(b: CapacityBench): string {
  const lines = [
    `machine capacity: the same one-thread wasm work in 1 process alone, then in N at once; ${b.cores} cores, ${b.rounds} round(s) of ${b.seconds} s; load ${b.loadStart.toFixed(2)} → ${b.loadEnd.toFixed(2)}`,
    '',
    '| work | processes | rate per process | aggregate | scaling vs 1 | CPU share |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of b.rows) {
    const unit = r.kind === 'matmul' ? 'GFLOP/s' : 'GB/s';
    lines.push(`| ${r.kind === 'matmul' ? '512² matMul' : 'a·b + c, 16 MB arrays'} | ${r.processes} | ${r.perProcess.toFixed(2)} ${unit} | ${r.aggregate.toFixed(2)} ${unit} | ${r.scaling.toFixed(2)}× | ${r.cpuShare.toFixed(2)} |`);
  }
  lines.push('', 'scaling is the ceiling of any N-way data-parallel speed-up on this machine (N for independent cores).', '');
  return lines.join('\n');
}
