/**
 * Test helper: does a prefill leave a cache in the same state as another? Compares the adapters' decode
 * states tensor by tensor (bit for bit) and then step-decodes the same tokens from both caches, whose
 * logits and routing must agree bit for bit (a step reads every cached key and value of every layer).
 */
import * as tf from '@tensorflow/tfjs';
import type { MoEModel, StepOptions } from '../../kernel-lib/model/model';
import type { KvCache, AdapterDecodeState } from '../../kernel-lib/model/kv-cache';
import { sameBits } from './grads';

/**
 * Every tensor an adapter decode state holds, by key: the states keep them in Maps (a ConvLoRA's
 * GridHistory.rows, the test PrevInputAdapter's last), read here without knowing the class.
 */
export function stateTensors(s: AdapterDecodeState): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [field, v] of Object.entries(s)) {
    if (!(v instanceof Map)) continue;
    for (const [k, t] of v) if (t instanceof tf.Tensor) out.set(`${field}.${String(k)}`, Float32Array.from(t.dataSync() as Float32Array));
  }
  return out;
}

/** The decode states of `adapter` in a batch-1 cache, as stateTensors; null when the cache holds none for it. */
function statesOf(cache: KvCache, adapter: string): Map<string, Float32Array> | null {
  const none = new Error('no state'); // thrown by create before the cache stores anything
  try {
    const [s] = cache.adapterStates(adapter, () => {
      throw none;
    });
    return stateTensors(s);
  } catch (err) {
    if (err === none) return null;
    throw err;
  }
}

/**
 * Whether two prefilled batch-1 caches hold the same: the named adapters' states (present in both or in
 * neither, every tensor bit for bit) and `steps` step-decoded tokens give the same logits and routing bits.
 * The tokens (with their step options) are fed to both caches, which advance.
 */
export function sameCaches(model: MoEModel, a: KvCache, b: KvCache, adapters: readonly string[], steps: ReadonlyArray<{ id: number; o?: Omit<StepOptions, 'capture'> }>): { states: number; stepped: number } {
  let states = 0;
  for (const name of adapters) {
    const sa = statesOf(a, name);
    const sb = statesOf(b, name);
    if ((sa === null) !== (sb === null)) throw new Error(`sameCaches: adapter '${name}' has decode state in one cache only`);
    if (sa === null || sb === null) continue;
    if ([...sa.keys()].join() !== [...sb.keys()].join()) throw new Error(`sameCaches: adapter '${name}' keeps different tensors: ${[...sa.keys()]} vs ${[...sb.keys()]}`);
    for (const [k, x] of sa) {
      if (!sameBits(x, sb.get(k)!)) throw new Error(`sameCaches: adapter '${name}' state '${k}' differs`);
      states++;
    }
  }
  if (a.length !== b.length) throw new Error(`sameCaches: lengths ${a.length} vs ${b.length}`);
  for (const [i, { id, o }] of steps.entries()) {
    const x = model.step(a, id, 'full', o);
    const y = model.step(b, id, 'full', o);
    if (!sameBits(x.logits, y.logits)) throw new Error(`sameCaches: step ${i} (token ${id}) gives different logits`);
    if (JSON.stringify(x.routing.map(plain)) !== JSON.stringify(y.routing.map(plain))) throw new Error(`sameCaches: step ${i} routes differently`);
  }
  return { states, stepped: steps.length };
}

const plain = (r: { experts: Int32Array; weights: Float32Array; probs: Float32Array; logits: Float32Array }) => ({
  e: Array.from(r.experts), w: Array.from(r.weights), p: Array.from(r.probs), l: Array.from(r.logits),
});
