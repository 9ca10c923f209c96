/**
 * MUMU's encoder side: the frozen LM (mm-moe-small) reads the interleaved prompt, and its last-layer
 * hidden states (the final norm's output, what its head reads) of EVERY prompt position — text, <boi>/<eoi>
 * and crop tokens — are what the connector turns into the decoder's conditioning (§3: MUMU replaces SDXL's
 * CLIP states with the VLM's).
 *
 * Pooled crops (pooler.ts) enter through the embedding: the `embed` hook point's output is replaced at the
 * crops' <img> slots by the pooled tokens, everywhere else it is left exactly as it is:
 *
 *   h' = h ⊙ keep + S · P      h [B·T, H] embeddings, keep [B·T, 1] (0 at the slots), S [B·T, n·N] one-hot
 *                              rows (slot → its pooled token), P [n·N, H] the pooled tokens
 *
 * Two paths give the same states: `encoderStates` on the tensor forward (under a gradient tape: the
 * gradient reaches the pooling through the LM; the LM's weights are never trained), and `promptStates` on
 * the host-side forward with the hidden-state capture of model/hidden.ts (evaluation). Both stop at the final
 * norm (forwardStates / forwardHidden): the LM head, as dear per token as the LM's four layers, is never run.
 * Tests check both against each prompt's own unpadded forward.
 */
import * as tf from '@tensorflow/tfjs';
import type { MoEModel } from '../../model/model';
import { HookContext, HookFn } from '../../model/hooks';
import { linear } from '../../model/linear';
import type { Connector } from './connector';
import { batchRows, PromptBatch } from './items';

/** The embed hook that puts a batch's pooled crops into their slots (null: no pooled crops). */
function poolingHook(model: MoEModel, b: PromptBatch, connector: Connector | null): HookFn | null {
  if (b.crops.length === 0) return null;
  if (!connector?.config.pooler) throw new Error('mumu: the prompts have pooled crop slots, but the connector has no pooling');
  const { tokens: N, codes: C } = connector.config.pooler;
  const n = b.crops.length;
  const H = model.config.hiddenSize;
  const codeIds = new Int32Array(n * C);
  const select = new Float32Array(b.B * b.T * n * N); // S [B·T, n·N]
  const keep = new Float32Array(b.B * b.T).fill(1); // [B·T]
  b.crops.forEach((c, j) => {
    if (c.codeIds.length !== C) throw new Error(`mumu: a pooled crop has ${c.codeIds.length} codes, the pooling reads ${C}`);
    codeIds.set(c.codeIds, j * C);
    for (let k = 0; k < N; k++) {
      const row = c.row * b.T + c.at + k;
      keep[row] = 0;
      select[row * n * N + j * N + k] = 1;
    }
  });
  return (h) => {
    const E = tf.reshape(tf.gather(model.params.get('embed') as tf.Tensor2D, tf.tensor1d(codeIds, 'int32')), [n, C, H]) as tf.Tensor3D; // [n, C, H]
    const P = tf.reshape(connector.pool(E), [n * N, H]) as tf.Tensor2D; // [n·N, H]
    const S = tf.tensor2d(select, [b.B * b.T, n * N]);
    return tf.add(tf.mul(h, tf.tensor2d(keep, [b.B * b.T, 1])), linear(S, P)); // [B·T, H]
  };
}

/**
 * The final-norm states of every position of a padded batch [B, T, H], in the caller's scope (tidy or a
 * gradient tape). `training` runs the LM's training forward (custom-gradient linears): needed when a gradient
 * must pass through it to the pooling.
 */
export function encoderStates(model: MoEModel, b: PromptBatch, connector: Connector | null, o: { training?: boolean } = {}): tf.Tensor3D {
  const pool = poolingHook(model, b, connector);
  const hooks = pool ? new HookContext(new Map([['embed', pool]])) : undefined;
  const r = model.forwardStates(tf.tensor2d(b.ids, [b.B, b.T], 'int32'), { capture: 'none', hooks, training: o.training ?? false }); // no LM head: only its input is read
  return tf.reshape(r.states, [b.B, b.T, model.config.hiddenSize]);
}

/**
 * The same states through the host-side forward and model/hidden.ts's capture of every row: a tensor
 * [B, T, H] kept on the backend (constants: no gradient; the caller disposes it).
 */
export function promptStates(model: MoEModel, b: PromptBatch, connector: Connector | null): tf.Tensor3D {
  const pool = poolingHook(model, b, connector);
  const r = model.forwardHidden(batchRows(b), { capture: 'none', hooks: pool ? new Map([['embed', pool]]) : undefined, hidden: { names: ['final_norm'], as: 'tensor' } });
  const states = r.hidden.tensors?.get('final_norm') as tf.Tensor2D; // [B·T, H]
  const out = tf.reshape(states, [b.B, b.T, model.config.hiddenSize]) as tf.Tensor3D; // shares the data
  states.dispose();
  return out;
}
