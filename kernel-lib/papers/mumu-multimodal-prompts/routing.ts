/**
 * Beyond the paper: how the frozen MoE LM (mm-moe-small) routes a multimodal prompt. MUMU's encoder is a dense
 * VLM; here every token picks top-k of the LM's experts at each layer, so one can ask where crop codes go. On
 * held-out same-source prompts with every crop as its 64 codes (what the LM reads in the `mumu` t64 arm; the LM
 * never trains, so this holds for every such run), per layer:
 *
 *   cropVsText       JSD (bits) between the experts crop codes pick and those text tokens pick: 0 the same
 *                    experts in the same proportions, 1 disjoint
 *   cropVsWord       JSD between crop codes and the words right after them (the word each crop stands before:
 *                    "cat", or "animal" in a generic prompt)
 *   wordKeptNamed    for the word after a crop, the share of its top-k experts that are the same as in the
 *                    prompt's words alone (no crops): 1 the crop changes nothing of its routing. Named prompts.
 *   wordKeptGeneric  the same in generic-word prompts ("a <crop> animal"), where identity can only come from the
 *                    crop: does the crop move the generic word's routing more than a name's?
 *
 * The word is the first token of the text part after the crop; its no-crop counterpart the first token of the
 * same text part in the prompt's text parts alone (each text part is tokenised on its own either way).
 */
import { arr, Infer, int, numOrNull, obj, str } from '../shape';
import type { Session } from '../../session';
import type { Example } from '../../data/example-list';
import type { MumuMeta } from '../../data/mumu-prompts';
import type { PromptPart } from '../../tokenizer';
import type { LayerRouting } from '../../model/moe';
import { jensenShannon } from '../../analysis/routing-by-modality';
import type { MumuItem } from './items';

export const ROUTING = obj({
  split: str,
  prompts: int,
  /** Words after crops counted, in named and in generic prompts. */
  words: obj({ named: int, generic: int }),
  layers: arr(obj({ layer: int, cropVsText: numOrNull, cropVsWord: numOrNull, wordKeptNamed: numOrNull, wordKeptGeneric: numOrNull })),
});
export type PromptRouting = Infer<typeof ROUTING>;
export const ROUTING_MEASURES = ['cropVsText', 'cropVsWord', 'wordKeptNamed', 'wordKeptGeneric'] as const;

/** Token index of the first token of each prompt part (and of the end), encoded part by part as encodePrompt does. */
function partStarts(s: Session, parts: readonly PromptPart[]): { ids: number[]; start: number[] } {
  const enc = s.tokenizer.encodePrompt([...parts]);
  const start: number[] = [];
  let at = 1; // after <bos>
  for (const p of parts) {
    start.push(at);
    at += 'text' in p ? s.tokenizer.encodePrompt([p], { addBos: false }).ids.length : 2 + p.image.height * p.image.width;
  }
  start.push(at);
  if (at !== enc.ids.length) throw new Error(`mumu.promptRouting: parts cover ${at} tokens, the prompt has ${enc.ids.length}`);
  return { ids: enc.ids, start };
}

/** Routing of every position of `ids` (no LM head: no logits are read). */
const forward = (s: Session, ids: number[]): LayerRouting[] => s.model.forwardRows([ids], [], { capture: 'routing' }).routing;

/** The routing measures of held-out prompts (see the file comment); `examples[i]` is `items[i]` before its crops were coded. */
export function promptRouting(session: Session, examples: ReadonlyArray<Example<MumuMeta>>, items: readonly MumuItem[]): PromptRouting {
  if (examples.length !== items.length || examples.length === 0) throw new Error(`mumu.promptRouting: ${examples.length} examples for ${items.length} items (give the same, at least one)`);
  const { numLayers: L, numExperts: E, topK: k } = session.config;
  const zeros = () => Array.from({ length: L }, () => new Float64Array(E));
  const counts = { crop: zeros(), text: zeros(), word: zeros() };
  const kept = { named: new Float64Array(L), generic: new Float64Array(L) };
  const words = { named: 0, generic: 0 };
  const split = examples[0].meta.split;
  examples.forEach((ex, i) => {
    const prompt = items[i].prompt;
    const withCrops = partStarts(session, prompt);
    const textParts = prompt.map((p, j) => ({ p, j })).filter(({ p }) => 'text' in p);
    const alone = partStarts(session, textParts.map(({ p }) => p));
    const r = forward(session, withCrops.ids);
    const r0 = forward(session, alone.ids);
    const kind = session.tokenizer;
    for (let l = 0; l < L; l++) {
      const ex_ = r[l].experts;
      withCrops.ids.forEach((id, t) => {
        const m = kind.modalityOf(id);
        const into = m === 'image' ? counts.crop[l] : m === 'text' ? counts.text[l] : null;
        if (into) for (let j = 0; j < k; j++) into[ex_[t * k + j]]++;
      });
    }
    for (const c of ex.meta.crops) {
      const next = c.part + 1;
      if (next >= prompt.length || !('text' in prompt[next])) continue;
      const t = withCrops.start[next];
      const t0 = alone.start[textParts.findIndex(({ j }) => j === next)];
      const which = ex.meta.generic ? 'generic' : 'named';
      words[which]++;
      for (let l = 0; l < L; l++) {
        const a = r[l].experts.subarray(t * k, (t + 1) * k);
        const b = r0[l].experts.subarray(t0 * k, (t0 + 1) * k);
        for (let j = 0; j < k; j++) counts.word[l][a[j]]++;
        kept[which][l] += a.filter((e) => b.includes(e)).length / k;
      }
    }
  });
  const jsd = (p: Float64Array, q: Float64Array) => (p.some((x) => x > 0) && q.some((x) => x > 0) ? Number(jensenShannon(p, q).toFixed(4)) : null);
  const share = (x: number, n: number) => (n > 0 ? Number((x / n).toFixed(4)) : null);
  return {
    split,
    prompts: examples.length,
    words,
    layers: Array.from({ length: L }, (_, l) => ({
      layer: l,
      cropVsText: jsd(counts.crop[l], counts.text[l]),
      cropVsWord: jsd(counts.crop[l], counts.word[l]),
      wordKeptNamed: share(kept.named[l], words.named),
      wordKeptGeneric: share(kept.generic[l], words.generic),
    })),
  };
}
