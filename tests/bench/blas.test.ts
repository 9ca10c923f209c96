/**
 * bench/blas.ts and bench/report.ts: the benchmark records which BLAS PyTorch's products run on (as mapped
 * into the process, so LD_LIBRARY_PATH counts), and withholds every ratio, saying why and how to fix it,
 * when that is netlib's reference BLAS. The probe tests need /usr/bin/python3 with torch (skipped without).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BlasInfo, probeTorchBlas, ratioRefusal } from '../../bench/blas';
import { buildReport, formatReport, Measures } from '../../bench/report';
import { PYTHON, torchMissing } from '../helpers/torch';

const SCRIPT = path.resolve(__dirname, '../../scripts/torch_ref/bench_torch.py');
const REFERENCE_DIR = '/usr/lib/x86_64-linux-gnu/blas'; // Debian's libblas3 (netlib)
const missing = torchMissing();
const withTorch = missing ? test.skip : test;

function blas(kind: BlasInfo['kind'], threads = 1): BlasInfo {
  const loaded = kind === 'reference' ? `${REFERENCE_DIR}/libblas.so.3.11.0` : '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3';
  return { libblas_so_3: loaded, loaded, mapped: [loaded], kind, env: { OPENBLAS_CORETYPE: 'Haswell' }, matmul_512_gflops: kind === 'reference' ? 2.4 : 40, threads };
}

const measures: Measures = {
  decode: { '16': { capture_off: 500, capture_on: 450 } },
  prefill_tokens_per_s: 2000,
  image_seconds: { no_cfg: 0.1, cfg: 0.15 },
  train_tokens_per_s: 900,
  decode_cpu_ms_per_token: { '16': 2 },
  image_cpu_seconds: { no_cfg: 0.1, cfg: 0.14 },
  parallel_train: { tokensPerSec: { '1': 850, '2': 1530 }, workerMs: { '1': 1000, '2': 560 }, cpuMs: { '1': { maxWorker: 1000, workers: 1000, main: 100 }, '2': { maxWorker: 520, workers: 1040, main: 110 } }, projectedTokensPerSec: { '1': 8192 / 1.1, '2': 8192 / 0.63 }, steps: 6 },
};
const torch = {
  '1': { decode: { '16': { capture_off: { tokens_per_s: 1000 }, capture_on: { tokens_per_s: 900 } } }, prefill: { tokens_per_s: 20000 }, image: { no_cfg: { seconds: 0.05 }, cfg: { seconds: 0.06 } }, train: { tokens_per_s: 3600 } },
  '2': { decode: { '16': { capture_off: { tokens_per_s: 1100 }, capture_on: { tokens_per_s: 950 } } }, prefill: { tokens_per_s: 30000 }, image: { no_cfg: { seconds: 0.05 }, cfg: { seconds: 0.06 } }, train: { tokens_per_s: 5100 } },
};
const env = (b: BlasInfo[]) => ({ device: 'wasm SIMD, 1 thread', matmul_512_gflops: 12, load: { start: 0.1, end: 0.2, cores: 2 }, blas: b });

test('ratios against OpenBLAS: Switchboard ÷ PyTorch at 1 and 2 threads; worker rows against the same thread count', () => {
  const r = buildReport(measures, torch, env([blas('openblas', 1), blas('openblas', 2)]), 0, 1000, 'ck');
  expect(r.ratios_withheld).toBeNull();
  const row = (m: string) => r.rows.find((x) => x.metric === m)!;
  expect(row('prefill tok/s (256)').ratio).toEqual({ '1': 0.1, '2': 2000 / 30000 });
  expect(row('image 64 codes, s (CFG)').ratio['1']).toBeCloseTo(0.06 / 0.15, 12);
  expect(row('train tok/s (8×128), 1 worker').ratio).toEqual({ '1': 850 / 3600, '2': null });
  expect(row('train tok/s (8×128), 2 workers').ratio).toEqual({ '1': null, '2': 1530 / 5100 });
  expect(r.derived.train_2_workers_over_1).toBeCloseTo(1.8, 12);
  expect(r.derived.torch_train_2_threads_over_1).toBeCloseTo(5100 / 3600, 12);
  const text = formatReport(r);
  expect(text).toContain('baseline BLAS: openblas — PyTorch loaded /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3');
  expect(text).toContain('environment: OPENBLAS_CORETYPE=Haswell');
  expect(text).toContain('matmul 512×512 GFLOP/s: PyTorch 40.0 (1 thread), 40.0 (2 threads); Switchboard 12.0 (wasm SIMD, 1 thread)');
  expect(text).toMatch(/prefill tok\/s \(256\) +2000 +20000 +0\.10× +30000 +0\.07×/);
  expect(text).toContain('training, 2 workers / 1 worker: 1.80×');
  expect(text).toContain('2: main 110 + busiest worker 520 (all workers 1040) → 13003 tok/s; projected 2 / 1 on an idle machine: 1.75×');
  expect(text).not.toContain('WITHHELD');
});

test('reference BLAS: every ratio withheld, with the reason and the fix printed', () => {
  const r = buildReport(measures, torch, env([blas('reference', 1), blas('reference', 2)]), 0, 1000, 'ck');
  for (const row of r.rows) for (const v of Object.values(row.ratio)) expect(v).toBeNull();
  const text = formatReport(r);
  expect(text).toContain(`PyTorch runs its matrix products on netlib's REFERENCE BLAS (${REFERENCE_DIR}/libblas.so.3.11.0, 2.4 GFLOP/s on a 512×512 matmul)`);
  expect(text).toContain('Ratios are NOT printed. To fix: `sudo apt-get install libopenblas0-pthread`');
  expect(text).toContain('RATIOS WITHHELD');
});

test('ratioRefusal: only the reference BLAS is refused', () => {
  expect(ratioRefusal([blas('openblas')])).toBeNull();
  expect(ratioRefusal([])).toBeNull();
  expect(ratioRefusal([blas('openblas'), blas('reference', 2)])).toMatch(/^PyTorch runs its matrix products on netlib's REFERENCE BLAS/);
});

withTorch('bench_torch.py --blas-only sees the BLAS actually loaded, including one forced by LD_LIBRARY_PATH', () => {
  const system = probeTorchBlas(SCRIPT, 1);
  expect(system.loaded).toBe(system.libblas_so_3); // no override: the system's libblas.so.3
  expect(system.matmul_512_gflops).toBeGreaterThan(0);
  expect(system.threads).toBe(1);
  if (!fs.existsSync(path.join(REFERENCE_DIR, 'libblas.so.3'))) return; // libblas3 not installed: nothing to force
  const r = spawnSync(PYTHON, [SCRIPT, '--blas-only'], { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: REFERENCE_DIR } });
  expect(r.status).toBe(0);
  const forced = (JSON.parse(r.stdout) as { blas: BlasInfo }).blas;
  expect(forced.kind).toBe('reference');
  expect(forced.loaded.startsWith(`${REFERENCE_DIR}/libblas.so`)).toBe(true);
}, 60_000);
