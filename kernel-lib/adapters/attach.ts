/**
 * Attaching LoRA / PLoRA adapters to a loaded model or session, and the trainable set of the paper.
 *
 *   const plora = attachLoRA(session, { kind: 'plora', rank: 8, alpha: 16 });
 *   await session.train({ steps, batches, freeze: ploraFreeze(session.config) });  // adapters + router + experts
 *   plora.enabled = false;   // the base model again, exactly
 *   saveAdapter(plora, 'runs/plora/adapters');  plora.detach();
 *
 * train() trains the weights of every enabled adapter attached to the model (MoEModel.adapters) along
 * with the model's own parameters; freeze patterns apply to both (e.g. `adapters.*` freezes adapters).
 */
import type * as tf from '@tensorflow/tfjs';
import type { MoEConfig } from '../model/config';
import type { MoEModel } from '../model/model';
import { LoRAAdapter, LoRAOptions, LoRASpec, createLoRA } from './lora';
import type { ModalityLoRAAdapter } from './modality-lora';
import { MODALITY_KINDS, ModalityLoRAOptions, ModalityLoRASpec } from './modality-spec';
import { createModalityLoRA } from './modality';

/** What adapters attach to: a model, or anything holding one (a Session). */
export type AdapterHost = MoEModel | { model: MoEModel };

export function modelOf(host: AdapterHost): MoEModel {
  return 'model' in host ? host.model : host;
}

/**
 * The paper's trainable set is adapters + router + experts (§2): these patterns freeze the embedding,
 * attention, norms and LM head. For a model with tied embeddings use `ploraFreeze(config)` (there is no
 * separate `lm_head` to freeze, and a freeze pattern must match something).
 */
export const PLORA_TRAINABLE_FREEZE: readonly string[] = [
  'embed', 'blocks.*.input_norm', 'blocks.*.attn.*', 'blocks.*.post_attn_norm', 'final_norm', 'lm_head',
];

/** PLORA_TRAINABLE_FREEZE for a config (drops `lm_head` when the embeddings are tied). */
export function ploraFreeze(cfg: MoEConfig): string[] {
  return PLORA_TRAINABLE_FREEZE.filter((p) => p !== 'lm_head' || !cfg.tieWordEmbeddings);
}

/** An attached adapter: switch it on and off, train it, save it, detach it. */
export class LoRAHandle<S extends LoRASpec | ModalityLoRASpec = LoRASpec | ModalityLoRASpec> {
  private attached = true;

  constructor(readonly model: MoEModel, readonly adapter: LoRAAdapter | ModalityLoRAAdapter) {}

  get name(): string {
    return this.adapter.name;
  }
  get spec(): S {
    return this.adapter.spec as S;
  }
  get scaling(): number {
    return this.adapter.scaling;
  }

  /** Off: the model computes exactly as without the adapter (and train() leaves it alone). */
  get enabled(): boolean {
    return this.adapter.enabled;
  }
  set enabled(on: boolean) {
    this.check();
    this.adapter.enabled = on;
  }

  get isAttached(): boolean {
    return this.attached;
  }

  /** The weights by parameter path (`adapters.<name>.blocks.<i>.attn.<q|k|v|o>.…`), live variables. */
  parameters(): Map<string, tf.Variable> {
    this.check();
    return this.adapter.parameters();
  }

  /** Total number of adapter weights. */
  get numParams(): number {
    let n = 0;
    for (const v of this.parameters().values()) n += v.size;
    return n;
  }

  /** Removes the adapter from the model and frees its weights. */
  detach(): void {
    this.check();
    this.model.adapters.remove(this.name);
    this.attached = false;
  }

  private check(): void {
    if (!this.attached) throw new Error(`adapter '${this.name}' was detached`);
  }
}

/**
 * Creates a LoRA, PLoRA, MoE-LoRA, ConvLoRA or SAM-ConvLoRA adapter (B = 0, so nothing changes until it
 * is trained) and attaches it.
 */
export function attachLoRA(host: AdapterHost, options: LoRAOptions): LoRAHandle<LoRASpec>;
export function attachLoRA(host: AdapterHost, options: ModalityLoRAOptions): LoRAHandle<ModalityLoRASpec>;
export function attachLoRA(host: AdapterHost, options: LoRAOptions | ModalityLoRAOptions): LoRAHandle;
export function attachLoRA(host: AdapterHost, options: LoRAOptions | ModalityLoRAOptions): LoRAHandle {
  const model = modelOf(host);
  const kind = options.kind as string;
  if (kind !== 'lora' && kind !== 'plora' && !(MODALITY_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`kind must be 'lora' or 'plora', got ${JSON.stringify(options.kind)}; the output-modality adapters are 'moe-lora', 'convlora' and 'sam-convlora'`);
  }
  const adapter = kind === 'lora' || kind === 'plora' ? createLoRA(model.config, options as LoRAOptions) : createModalityLoRA(model.config, options as ModalityLoRAOptions);
  try {
    model.adapters.add(adapter);
  } catch (err) {
    adapter.dispose();
    throw err;
  }
  return new LoRAHandle(model, adapter);
}
