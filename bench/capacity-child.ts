/**
 * One probe process of `bench --only capacity` (bench/capacity.ts): waits for a start time, then runs one
 * kind of work on the wasm backend, one thread, for a fixed time and prints its rate as one JSON line.
 *   matmul  512×512 float32 matMuls (compute-bound: GFLOP/s)
 *   stream  element-wise a·b + c over 4 M floats (memory-bound: GB/s moved)
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../kernel-lib/backend/backend';

async function main(): Promise<void> {
  const [kind, startAt, seconds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
  await initBackend('wasm');
  const work =
    kind === 'matmul'
      ? (() => {
          const n = 512;
          const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
          const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
          return { unit: 2 * n ** 3 / 1e9, run: () => tf.tidy(() => void tf.matMul(a, b).dataSync()) };
        })()
      : (() => {
          const n = 4 * 1024 * 1024;
          const a = tf.randomNormal([n], 0, 1, 'float32', 1);
          const b = tf.randomNormal([n], 0, 1, 'float32', 2);
          const c = tf.randomNormal([n], 0, 1, 'float32', 3);
          // a·b reads two arrays and writes one, + c reads two and writes one: six arrays of n floats
          return { unit: (6 * 4 * n) / 1e9, run: () => tf.tidy(() => void tf.add(tf.mul(a, b), c).dataSync()) };
        })();
  for (let i = 0; i < 3; i++) work.run(); // warm-up, before the common start
  while (Date.now() < startAt) await new Promise((r) => setTimeout(r, 5));
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let k = 0;
  while (performance.now() - t0 < seconds * 1000) work.run(), k++;
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ kind, rate: (work.unit * k) / wall, wall, cpu: (cpu.user + cpu.system) / 1e6 }) + '\n');
}

main().catch((e) => {
  process.stderr.write(String((e as Error).stack ?? e) + '\n');
  process.exit(1);
});
