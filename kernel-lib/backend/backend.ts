/**
 * Backend selection. TensorFlow.js runs the same model code on several backends; Switchboard picks the
 * first that loads, in this order, unless SWITCHBOARD_BACKEND (or an explicit option) forces one:
 *
 *   tensorflow-gpu  @tensorflow/tfjs-node-gpu  (libtensorflow + CUDA 11.2 + cuDNN 8.1)
 *   tensorflow      @tensorflow/tfjs-node      (libtensorflow, CPU)
 *   wasm            @tensorflow/tfjs-backend-wasm (SIMD; one thread under Node)
 *   cpu             plain JavaScript (slow; the reference the wasm workarounds are tested against)
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** What `session.device` reports. */
export interface DeviceInfo {
  /** Switchboard's name for the backend that runs the model. */
  backend: BackendName;
  /** The name TensorFlow.js registered it under (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string;
  gpu: boolean;
  /** Threads the backend computes with (wasm under Node is single-threaded). */
  threads: number;
  /**
   * Data-parallel worker threads training uses (train/parallel: each its own backend and copy of the
   * weights), from SWITCHBOARD_TRAIN_WORKERS; 1 = train on this thread, the fallback.
   */
  trainWorkers: number;
  simd: boolean;
  /** Why each backend earlier in the order did not load (empty when forced or first succeeded). */
  skipped: { backend: BackendName; reason: string }[];
}

const INSTALL_HINT: Record<BackendName, string> = {
  'tensorflow-gpu':
    'install it with `npm install @tensorflow/tfjs-node-gpu@4.22.0` on a machine with network access, ' +
    'an NVIDIA GPU, CUDA 11.2 and cuDNN 8.1 (its install script downloads libtensorflow)',
  tensorflow:
    'install it with `npm install @tensorflow/tfjs-node@4.22.0` on a machine with network access ' +
    '(its install script downloads libtensorflow)',
  wasm: 'install it with `npm install @tensorflow/tfjs-backend-wasm@4.22.0`',
  cpu: 'it ships with @tensorflow/tfjs; reinstall dependencies with `npm install`',
};

let current: DeviceInfo | undefined;
let pending: Promise<DeviceInfo> | undefined;

function isBackendName(s: string): s is BackendName {
  return (BACKEND_ORDER as readonly string[]).includes(s);
}

/** Loads one backend and makes it current; throws with the reason when it cannot. */
async function tryLoad(name: BackendName): Promise<DeviceInfo> {
  let tfName: string;
  let gpu = false;
  let threads = 1;
  if (name === 'tensorflow-gpu' || name === 'tensorflow') {
    const pkg = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
    // The node bindings register a backend called 'tensorflow' on the shared tfjs-core instance.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(pkg);
    tfName = 'tensorflow';
    gpu = name === 'tensorflow-gpu';
    threads = os.cpus().length;
  } else if (name === 'wasm') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-backend-wasm');
    tfName = 'wasm';
  } else {
    tfName = 'cpu';
  }
  const ok = await tf.setBackend(tfName);
  if (!ok) throw new Error(`tf.setBackend('${tfName}') returned false`);
  await tf.ready();
  const simd = tfName === 'wasm' ? Boolean(tf.env().getBool('WASM_HAS_SIMD_SUPPORT')) : false;
  return { backend: name, tfBackend: tfName, gpu, threads, simd, trainWorkers: tfName === 'tensorflow' ? 1 : trainWorkersFromEnv(), skipped: [] };
}

/**
 * SWITCHBOARD_TRAIN_WORKERS: a positive integer, or `auto` for one worker per core (at most 8). Unset: 1.
 * Only for backends that compute on one thread: libtensorflow already uses every core.
 */
export function trainWorkersFromEnv(value = process.env.SWITCHBOARD_TRAIN_WORKERS, cores = os.availableParallelism()): number {
  if (value === undefined || value === '') return 1;
  if (value === 'auto') return Math.max(1, Math.min(8, cores));
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`SWITCHBOARD_TRAIN_WORKERS must be a positive integer or 'auto', got '${value}'`);
  return n;
}

/**
 * Initialise TensorFlow.js once per process. `backend` (or env SWITCHBOARD_BACKEND) forces one; a forced
 * backend that cannot load is an error that says why and what to install. Later calls return the
 * backend already chosen, unless a different one is forced.
 */
export async function initBackend(backend?: BackendName | string): Promise<DeviceInfo> {
  const forced = backend ?? process.env.SWITCHBOARD_BACKEND;
  if (forced !== undefined && forced !== '') {
    if (!isBackendName(forced)) {
      throw new Error(
        `Unknown backend '${forced}' (from ${backend !== undefined ? 'the backend option' : 'SWITCHBOARD_BACKEND'}); ` +
          `expected one of ${BACKEND_ORDER.join(', ')}`,
      );
    }
    if (current?.backend === forced) return current;
    if (pending) await pending.catch(() => undefined);
    try {
      current = await tryLoad(forced);
      return current;
    } catch (e) {
      throw new Error(
        `Backend '${forced}' was requested but could not load: ${(e as Error).message.split('\n')[0]}. ` +
          `To use it, ${INSTALL_HINT[forced]}. Or unset SWITCHBOARD_BACKEND to pick the first backend that loads.`,
      );
    }
  }
  if (current) return current;
  if (!pending) {
    pending = (async () => {
      const skipped: DeviceInfo['skipped'] = [];
      for (const name of BACKEND_ORDER) {
        try {
          const info = await tryLoad(name);
          info.skipped = skipped;
          current = info;
          return info;
        } catch (e) {
          skipped.push({ backend: name, reason: (e as Error).message.split('\n')[0] });
        }
      }
      throw new Error(`No TensorFlow.js backend could load: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`);
    })();
  }
  return pending;
}

/** The backend chosen so far, if any. */
export function currentDevice(): DeviceInfo | undefined {
  return current;
}
