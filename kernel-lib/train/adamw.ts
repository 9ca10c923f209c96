/**
 * AdamW (Loshchilov & Hutter): Adam moments with bias correction and weight decay decoupled from the
 * gradient. Decay applies to matrices only (rank ≥ 2; not norms), as is usual for transformers.
 * Moments are tf.Variables so the optimizer state can be saved and restored for resumable training.
 */
import * as tf from '@tensorflow/tfjs';
import type { HostTensor } from '../model/params';
import type { ParamSettings } from './params';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  /** Updates applied so far (bias correction uses it). */
  t = 0;

  /**
   * `masks` (by name, the parameter's shape, 1 = trains, 0 = frozen) restrict weight decay to the
   * trainable part of a partly trained parameter; its gradients must already be masked the same way.
   * `settings` (by name) give a parameter group's learning-rate multiplier and weight decay.
   */
  constructor(
    readonly names: string[],
    private readonly params: Map<string, tf.Variable>,
    readonly o: AdamWOptions,
    private readonly masks: ReadonlyMap<string, tf.Tensor> = new Map(),
    private readonly settings: ReadonlyMap<string, ParamSettings> = new Map(),
  ) {
    for (const n of names) {
      const p = params.get(n);
      if (!p) throw new Error(`AdamW: no parameter '${n}'`);
      this.m.set(n, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(n, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
  }

  /** One update with the given gradients (by name) and learning rate. */
  apply(grads: Map<string, tf.Tensor>, lr: number): void {
    this.t++;
    const { beta1: b1, beta2: b2, eps } = this.o;
    const c1 = 1 - Math.pow(b1, this.t);
    const c2 = 1 - Math.pow(b2, this.t);
    tf.tidy(() => {
      for (const n of this.names) {
        const g = grads.get(n);
        if (!g) continue;
        const p = this.params.get(n) as tf.Variable;
        const m = this.m.get(n) as tf.Variable;
        const v = this.v.get(n) as tf.Variable;
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        const mask = this.masks.get(n);
        const group = this.settings.get(n);
        const weightDecay = group?.weightDecay ?? this.o.weightDecay;
        const decay = p.rank >= 2 && weightDecay > 0 ? tf.mul(mask ? tf.mul(p, mask) : p, weightDecay) : null;
        p.assign(tf.sub(p, tf.mul(decay ? tf.add(update, decay) : update, group ? lr * group.lrScale : lr)));
      }
    });
  }

  /** Moments as host tensors named `m.<param>` / `v.<param>`. */
  state(): Map<string, HostTensor> {
    const out = new Map<string, HostTensor>();
    for (const n of this.names) {
      const m = this.m.get(n) as tf.Variable;
      const v = this.v.get(n) as tf.Variable;
      out.set(`m.${n}`, { shape: m.shape.slice(), data: m.dataSync() as Float32Array });
      out.set(`v.${n}`, { shape: v.shape.slice(), data: v.dataSync() as Float32Array });
    }
    return out;
  }

  /** Restore moments saved by `state()`; every moment must be present with the right shape. */
  load(state: Map<string, HostTensor>, t: number): void {
    for (const n of this.names) {
      for (const [kind, vars] of [['m', this.m], ['v', this.v]] as const) {
        const key = `${kind}.${n}`;
        const h = state.get(key);
        const target = vars.get(n) as tf.Variable;
        if (!h) throw new Error(`optimizer state is missing '${key}'`);
        if (h.shape.join(',') !== target.shape.join(',')) {
          throw new Error(`optimizer state '${key}' has shape [${h.shape}], expected [${target.shape}]`);
        }
        tf.tidy(() => target.assign(tf.tensor(h.data, h.shape)));
      }
    }
    this.t = t;
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}
