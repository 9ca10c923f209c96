/**
 * Held-out measurements of the MiniGPT-5 reproduction that need the LM: the voken states of prompts with
 * the vokens teacher-forced after them (one full forward each; the step-decoded states equal these, tests
 * check it), and the narration NLL of story items (Table 2: adding vokens must not hurt text).
 */
import type { Session } from '../../session';
import type { Prompt } from '../../tokenizer';
import { rowLogSumExp } from '../../util/stats';
import { vokenIds } from './vokens';
import { vokenRow, VokenItem } from './items';

/**
 * h_voken of each prompt: `<bos> prompt [IMG1] … [IMGn]` through the LM, the final-norm states at the n voken
 * positions → Float32Array [prompts, n, H] (what `drawFromVokens` takes).
 */
export function vokenStates(s: Session, prompts: readonly Prompt[]): Float32Array {
  const ids = vokenIds(s.tokenizer);
  const n = ids.length;
  const H = s.config.hiddenSize;
  const out = new Float32Array(prompts.length * n * H);
  prompts.forEach((p, i) => {
    const row = [...s.encode(p).ids, ...ids];
    const rows = Array.from({ length: n }, (_, k) => row.length - n + k);
    const r = s.model.forwardHidden([row], { capture: 'none', positions: s.positions(row), hidden: { names: ['final_norm'], rows } }); // no head: states only
    out.set(r.hidden.host!.get('final_norm')!.data, i * n * H);
  });
  return out;
}

/**
 * Per item, the mean NLL (nats per token) of its target text given its prompt, teacher-forced, with no
 * vokens in the row (the narration is scored alike with and without them); NaN for an item without text.
 */
export function narrationNll(s: Session, items: readonly VokenItem[]): { nll: number[]; tokens: number[] } {
  const tok = s.tokenizer;
  const V = s.config.vocabSize;
  const nll: number[] = [];
  const tokens: number[] = [];
  for (const it of items) {
    if (it.targetText === null) {
      nll.push(NaN);
      tokens.push(0);
      continue;
    }
    const row = vokenRow(tok, { ...it, image: null }, { vokens: false });
    const count = row.ids.length - 1 - row.targetAt; // the text's tokens, not <eos>
    const input = row.ids.slice(0, -1);
    const at = Array.from({ length: count }, (_, i) => row.targetAt - 1 + i); // the rows that predict the text: the head on them only
    const { logits } = s.model.forwardRows([input], at, { capture: 'none', positions: s.positions(input) });
    let sum = 0;
    at.forEach((t, i) => (sum += rowLogSumExp(logits, i * V, V) - logits[i * V + row.ids[t + 1]]));
    nll.push(sum / count);
    tokens.push(count);
  }
  return { nll, tokens };
}
