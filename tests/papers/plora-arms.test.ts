/**
 * The PLoRA recipe's mechanism arms (issue #18): on a tiny model, two training steps with each arm's
 * trainable set change exactly the parameters the arm trains, and leave every other one bit-identical
 * (text rows of the embedding and head included).
 */
import * as tf from '@tensorflow/tfjs';
import { plora, attachLoRA } from '../../kernel-lib';
import type { LoRAHandle, Session } from '../../kernel-lib';
import { tinySession, tinyTokenizer } from '../helpers/fixtures';

const snapshot = (s: Session) => new Map([...s.model.toHost()].map(([k, v]) => [k, Float32Array.from(v.data)]));
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

/** Rows [from, to) of a row-major [rows, cols] matrix, or columns [from, to) of it. */
const rows = (x: Float32Array, cols: number, from: number, to: number) => x.slice(from * cols, to * cols);
const columns = (x: Float32Array, cols: number, from: number, to: number) => x.filter((_, i) => i % cols >= from && i % cols < to);

async function trainArm(arm: plora.Arm): Promise<{ changed: Set<string>; textRowsSame: boolean; newRowsChanged: boolean; adapterChanged: boolean; s: Session; adapter: LoRAHandle }> {
  const s = await tinySession({ seed: 3 });
  const oldVocab = tinyTokenizer(false).vocabSize;
  const adapter = attachLoRA(s, { kind: 'plora', rank: 2, alpha: 2, seed: 1 });
  const before = snapshot(s);
  const adapterBefore = [...adapter.adapter.parameters()].map(([k, v]) => [k, Float32Array.from(v.dataSync())] as const);
  const t = s.tokenizer;
  // caption tokens then image codes: text and image positions in every row
  const row = [t.bos, ...t.bpe.encode('the cat sat'), t.boi, ...Array.from({ length: 16 }, (_, i) => t.imageCodeId((i * 7) % 32)), t.eoi];
  const { freeze, trainSlices } = plora.trainableSet(s, oldVocab, { arm });
  await s.train({ steps: 2, lr: 1e-2, warmupSteps: 0, batches: () => ({ ids: [row, row.slice().reverse()] }), freeze, trainSlices });
  const after = snapshot(s);
  const changed = new Set([...after.keys()].filter((k) => !same(before.get(k)!, after.get(k)!)));
  const H = s.config.hiddenSize;
  const V = s.config.vocabSize;
  const embedText = same(rows(before.get('embed')!, H, 0, oldVocab), rows(after.get('embed')!, H, 0, oldVocab));
  const headText = s.config.tieWordEmbeddings || same(columns(before.get('lm_head')!, V, 0, oldVocab), columns(after.get('lm_head')!, V, 0, oldVocab));
  const newRowsChanged = !same(rows(before.get('embed')!, H, oldVocab, V), rows(after.get('embed')!, H, oldVocab, V));
  const adapterChanged = adapterBefore.some(([k, v]) => !same(v, adapter.adapter.parameters().get(k)!.dataSync() as Float32Array));
  return { changed, textRowsSame: embedText && headText, newRowsChanged, adapterChanged, s, adapter };
}

describe('plora arms: which parameters train', () => {
  const moe = (changed: Set<string>, part: 'router' | 'w13' | 'w2') => [...changed].filter((k) => k.endsWith(`.moe.${part}`)).length;
  const expected: Record<plora.Arm, { router: boolean; experts: boolean }> = {
    paper: { router: true, experts: true },
    frozen: { router: false, experts: false },
    routers: { router: true, experts: false },
    experts: { router: false, experts: true },
    replay: { router: true, experts: true },
  };
  for (const arm of plora.ARM_NAMES) {
    test(`${arm}: ${plora.ARMS[arm]}`, async () => {
      const n0 = tf.memory().numTensors;
      const { changed, textRowsSame, newRowsChanged, adapterChanged, s, adapter } = await trainArm(arm);
      const L = s.config.numLayers;
      expect(moe(changed, 'router')).toBe(expected[arm].router ? L : 0);
      expect(moe(changed, 'w13')).toBe(expected[arm].experts ? L : 0);
      expect(moe(changed, 'w2')).toBe(expected[arm].experts ? L : 0);
      // attention, norms: never
      expect([...changed].filter((k) => /attn|norm/.test(k))).toEqual([]);
      // embedding / head: only the new rows
      expect(textRowsSame).toBe(true);
      expect(newRowsChanged).toBe(true);
      expect(adapterChanged).toBe(true);
      adapter.detach();
      s.dispose();
      expect(tf.memory().numTensors).toBe(n0);
    });
  }
  test('the older trainRoutersAndExperts: false is the frozen arm; contradictions and unknown arms are refused', () => {
    expect(plora.armOf({})).toBe('paper');
    expect(plora.armOf({ trainRoutersAndExperts: false })).toBe('frozen');
    expect(() => plora.armOf({ trainRoutersAndExperts: false, arm: 'routers' })).toThrow("plora: trainRoutersAndExperts: false is the 'frozen' arm, but arm is 'routers'");
    expect(() => plora.armOf({ arm: 'nope' as plora.Arm })).toThrow("plora: unknown arm 'nope' (arms: paper, frozen, routers, experts, replay)");
  });
});
