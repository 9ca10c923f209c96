/** Per-sequence key/value cache for step decoding (batch 1). */
import * as tf from '@tensorflow/tfjs';
import type { LayerKv } from './attention';

export class KvCache {
  /** One entry per layer; null until the first token is written. */
  layers: (LayerKv | null)[];
  /** Tokens held so far (= position of the next token). */
  length = 0;
  private disposed = false;

  constructor(numLayers: number, readonly maxPositions: number) {
    this.layers = new Array<LayerKv | null>(numLayers).fill(null);
  }

  /** Replace the cache contents with grown tensors (old ones are disposed). */
  replace(next: LayerKv[], newLength: number): void {
    this.assertLive();
    for (let i = 0; i < next.length; i++) {
      const old = this.layers[i];
      if (old) tf.dispose([old.k, old.v]);
      this.layers[i] = next[i];
    }
    this.length = newLength;
  }

  /** A deep copy (for branching decodes). */
  clone(): KvCache {
    this.assertLive();
    const c = new KvCache(this.layers.length, this.maxPositions);
    c.layers = this.layers.map((l) => (l ? { k: tf.clone(l.k), v: tf.clone(l.v) } : null));
    c.length = this.length;
    return c;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    for (const l of this.layers) if (l) tf.dispose([l.k, l.v]);
    this.layers.fill(null);
    this.disposed = true;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('KvCache was disposed');
  }
}
