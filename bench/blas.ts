/**
 * The baseline's BLAS. Debian's python3-torch links the generic libblas.so.3; on a fresh Debian 12 that is
 * netlib's reference BLAS, ~10× slower on matrix products than OpenBLAS, which turned an honest 0.12× prefill
 * ratio into a flattering 1.11× (issue #11). The benchmark therefore records which library PyTorch's products
 * ran on and how fast a 512×512 matmul is on each side, prints it above the table, and withholds the ratios
 * when the baseline runs on the reference BLAS.
 */
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';

export const PYTHON = '/usr/bin/python3';

/** What scripts/torch_ref/bench_torch.py reports under "blas". */
export interface BlasInfo {
  /** Where /usr/lib/<triplet>/libblas.so.3 resolves on this machine (null when absent). */
  libblas_so_3: string | null;
  /** The libblas.so.3 PyTorch actually mapped (LD_LIBRARY_PATH may differ from the system link). */
  loaded: string;
  mapped: string[];
  kind: 'openblas' | 'reference' | 'blis' | 'atlas' | 'mkl' | 'unknown';
  /** OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE, OPENBLAS_NUM_THREADS, OMP_NUM_THREADS when set. */
  env: Record<string, string>;
  matmul_512_gflops: number;
  threads: number;
}

/** Runs bench_torch.py --blas-only (a second or two). */
export function probeTorchBlas(script: string, threads: number): BlasInfo {
  const r = spawnSync(PYTHON, [script, '--blas-only', '--threads', String(threads)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    throw new Error(`bench: the PyTorch BLAS probe failed (exit ${r.status}): ${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)}; is python3-torch installed? (npm run setup installs it)`);
  }
  return (JSON.parse(r.stdout) as { blas: BlasInfo }).blas;
}

/** GFLOP/s of a 512×512 float32 matMul on the current TF.js backend (median of several timed batches). */
export function tfMatmulGflops(n = 512): number {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  const once = (): void => tf.tidy(() => void tf.matMul(a, b).dataSync());
  for (let i = 0; i < 3; i++) once();
  const rates: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    let k = 0;
    while (k < 4 || performance.now() - t0 < 100) once(), k++;
    rates.push((2 * n ** 3 * k) / ((performance.now() - t0) / 1000) / 1e9);
  }
  a.dispose();
  b.dispose();
  return rates.sort((x, y) => x - y)[2];
}

/** Why ratios against this baseline would mislead, or null when they are fair. */
export function ratioRefusal(blas: BlasInfo[]): string | null {
  const ref = blas.find((b) => b.kind === 'reference');
  if (!ref) return null;
  return [
    `PyTorch runs its matrix products on netlib's REFERENCE BLAS (${ref.loaded}, ${ref.matmul_512_gflops.toFixed(1)} GFLOP/s on a 512×512 matmul),`,
    'not an optimised BLAS: the baseline is ~10× too slow on prefill and training, so ratios against it would flatter',
    'Switchboard. Ratios are NOT printed. To fix: `sudo apt-get install libopenblas0-pthread` (npm run setup installs it;',
    'it becomes libblas.so.3 through update-alternatives), make sure LD_LIBRARY_PATH does not point at .../blas/, and rerun.',
  ].join('\n');
}

/** Lines printed above the table. */
export function describeBlas(blas: BlasInfo[], sbGflops: number, sbDevice: string): string[] {
  const lines: string[] = [];
  const first = blas[0];
  if (first) {
    lines.push(`baseline BLAS: ${first.kind} — PyTorch loaded ${first.loaded}; libblas.so.3 → ${first.libblas_so_3 ?? '(absent)'}`);
    const env = Object.entries(first.env).map(([k, v]) => `${k}=${v}`).join(' ');
    lines.push(`  environment: ${env || '(no OPENBLAS_* / OMP_NUM_THREADS set)'}`);
  }
  const torchRates = blas.map((b) => `${b.matmul_512_gflops.toFixed(1)} (${b.threads} thread${b.threads === 1 ? '' : 's'})`).join(', ');
  lines.push(`matmul 512×512 GFLOP/s: PyTorch ${torchRates || '—'}; Switchboard ${sbGflops.toFixed(1)} (${sbDevice})`);
  return lines;
}
