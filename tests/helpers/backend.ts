/** Test helper: pick the backend for a test file (default: what initBackend picks, wasm here). */
import * as tf from '@tensorflow/tfjs';
import { initBackend, BackendName } from '../../kernel-lib/backend/backend';

export async function useBackend(name?: BackendName): Promise<void> {
  await initBackend(name);
  tf.engine().startScope();
  tf.engine().endScope();
}

/** Max |a − b| over two arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
