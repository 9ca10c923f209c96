/**
 * `tf.customGrad` whose gradient is computed per input, and only for the inputs that need one.
 *
 * TF.js's tape asks each recorded op for the gradients of its inputs as one thunk per input, and calls only
 * the thunks of inputs on a path from the tensors being differentiated (tape.js `getFilteredNodesXToY` prunes
 * the others). Built-in kernels take advantage of that; `tf.customGrad` does not: it runs the whole gradFunc
 * and wraps the finished tensors in thunks, so a frozen weight's gradient (dW = xᵀ·dy, the experts' dW, the
 * embedding's scatter-add) is computed every step and thrown away. Training adapters on a frozen model
 * (MoSS, MiniGPT-5, MUMU) wasted about a third of the backward pass on it.
 *
 * `lazyCustomGrad` is `tf.customGrad` with the thunks handed through: its gradFunc returns one function per
 * input, and the tape calls those it needs, each in its own tidy, in input order. This needs the engine's
 * `runKernelFunc`, the method `tf.customGrad` itself calls (engine.js), which TF.js's typings mark private;
 * tests/model/lazy-grad.test.ts fails if a TF.js upgrade changes it.
 */
import * as tf from '@tensorflow/tfjs';

/** What the forward function returns: the output, and per input a function computing its gradient. */
export interface LazyGrad<T extends tf.Tensor> {
  value: T;
  /**
   * One function per input, in input order. The tape calls only those of inputs that need a gradient,
   * inside a tidy of its own; anything one of them shares with another must be kept on the host (or
   * recomputed), not as a tensor.
   */
  gradFunc: (dy: T, saved: tf.Tensor[]) => Array<() => tf.Tensor>;
}

/** The part of TF.js's engine that tf.customGrad uses (engine.js `customGrad`). */
interface KernelFuncEngine {
  runKernelFunc(params: {
    forwardFunc: (backend: unknown, save: tf.GradSaveFunc) => tf.Tensor;
    backwardsFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => Record<string, () => tf.Tensor>;
    inputs: Record<string, tf.Tensor>;
  }): tf.Tensor;
}

function kernelFuncEngine(): KernelFuncEngine {
  const e = tf.engine() as unknown as Partial<KernelFuncEngine>;
  if (typeof e.runKernelFunc !== 'function') {
    throw new Error(`lazyCustomGrad: TF.js ${tf.version.tfjs} has no engine.runKernelFunc (util/lazy-grad.ts relies on the one of 4.x)`);
  }
  return e as KernelFuncEngine;
}

/**
 * Like tf.customGrad(f), but f receives the inputs as an array and the save function, and its gradFunc
 * returns a function per input (see LazyGrad). The same tape node, saved tensors and memory behaviour as
 * tf.customGrad; the difference is only which gradients are computed.
 */
export function lazyCustomGrad<I extends tf.Tensor[], T extends tf.Tensor>(f: (inputs: I, save: tf.GradSaveFunc) => LazyGrad<T>): (...inputs: I) => T {
  return (...inputs: I): T => {
    if (!inputs.every((t) => t instanceof tf.Tensor)) throw new Error('lazyCustomGrad: every input must be a tensor');
    const inputMap: Record<string, tf.Tensor> = {};
    inputs.forEach((t, i) => {
      inputMap[i] = t;
    });
    let res: LazyGrad<T> | undefined;
    return kernelFuncEngine().runKernelFunc({
      forwardFunc: (_backend, save) => {
        res = f(inputs, save);
        return res.value;
      },
      backwardsFunc: (dy, saved) => {
        const grads = (res as LazyGrad<T>).gradFunc(dy as T, saved);
        if (grads.length !== inputs.length) throw new Error(`lazyCustomGrad: gradFunc returned ${grads.length} gradient functions for ${inputs.length} inputs`);
        const map: Record<string, () => tf.Tensor> = {};
        grads.forEach((g, i) => {
          map[i] = g;
        });
        return map;
      },
      inputs: inputMap,
    }) as T;
  };
}
