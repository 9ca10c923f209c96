/**
 * The parameter budget of adding a modality (the paper's Table 2 analogue): the base model's parameters
 * (all, and activated per token), the adapters' weights, and the new vocabulary rows (embedding, plus LM
 * head when untied). The paper's "New Modality Params" counts the PLoRA weights alone and discusses the
 * vocabulary growth separately (App. A.1: "a standard procedure"), so both are reported apart and summed.
 */
import type { MoEConfig } from '../model/config';
import { countParams } from '../model/params';
import { LORA_TARGETS, LoRASpec, loraParamCount } from '../adapters/lora';
import type { LoRAHandle } from '../adapters/attach';

/** An attached adapter, or what one would be. */
export type AdapterBudget = LoRAHandle | (Pick<LoRASpec, 'rank'> & Partial<Pick<LoRASpec, 'layers' | 'targets'>>);

export interface BudgetTable {
  /** All parameters of the base (text-only) model. */
  baseParams: number;
  /** Parameters one token passes through: everything but the (E − k) unchosen experts of each layer. */
  activatedParams: number;
  adapterParams: number;
  /** New embedding rows (+ LM-head columns when untied) × hidden size. */
  vocabParams: number;
  newModalityParams: number;
  /** adapterParams / baseParams. */
  adapterShare: number;
  /** newModalityParams / baseParams. */
  newModalityShare: number;
  /** The same numbers as rows for showTable. */
  rows: { item: string; parameters: number; share: string }[];
}

export function budgetTable(base: MoEConfig, adapters: AdapterBudget[], newVocabRows: number): BudgetTable {
  if (!Number.isInteger(newVocabRows) || newVocabRows < 0) throw new Error(`newVocabRows must be an integer ≥ 0, got ${newVocabRows}`);
  const baseParams = countParams(base);
  const expert = 3 * base.hiddenSize * base.intermediateSize; // SwiGLU w1, w3, w2
  const activatedParams = baseParams - base.numLayers * (base.numExperts - base.topK) * expert;
  const adapterParams = adapters.reduce((n, a) => {
    if ('adapter' in a) return n + a.numParams;
    const spec = {
      rank: a.rank,
      layers: a.layers ?? Array.from({ length: base.numLayers }, (_, i) => i),
      targets: a.targets ?? LORA_TARGETS.slice(),
    };
    return n + loraParamCount(base, spec);
  }, 0);
  const vocabParams = newVocabRows * base.hiddenSize * (base.tieWordEmbeddings ? 1 : 2);
  const newModalityParams = adapterParams + vocabParams;
  const pct = (x: number): string => `${((100 * x) / baseParams).toFixed(2)}%`;
  return {
    baseParams,
    activatedParams,
    adapterParams,
    vocabParams,
    newModalityParams,
    adapterShare: adapterParams / baseParams,
    newModalityShare: newModalityParams / baseParams,
    rows: [
      { item: 'base model', parameters: baseParams, share: pct(baseParams) },
      { item: 'activated per token', parameters: activatedParams, share: pct(activatedParams) },
      { item: 'adapters (new modality)', parameters: adapterParams, share: pct(adapterParams) },
      { item: 'new vocabulary rows', parameters: vocabParams, share: pct(vocabParams) },
      { item: 'new parameters in all', parameters: newModalityParams, share: pct(newModalityParams) },
    ],
  };
}
