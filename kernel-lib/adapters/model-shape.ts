/** The model shape an adapter file fits (checked on load, in both the switchboard and the PEFT format). */
import type { MoEConfig } from '../model/config';
import { headDim } from '../model/config';

export interface AdapterModelShape {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
}

export function adapterModelShape(cfg: MoEConfig): AdapterModelShape {
  return { hiddenSize: cfg.hiddenSize, numLayers: cfg.numLayers, numHeads: cfg.numHeads, numKvHeads: cfg.numKvHeads, headDim: headDim(cfg) };
}
