/** sb.moss.causalityCheck on a tiny model: zero change before the changed code, a change after, the session left as it was. */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session } from '../../kernel-lib/session';
import { moss } from '../../kernel-lib';

let s: Session;
beforeAll(async () => {
  await useBackend();
  s = await tinySession({ seed: 5 });
});
afterAll(() => s.dispose());

const grid = (k: number) => ({ height: 4, width: 4, codes: Array.from({ length: 16 }, (_, i) => (i * 5 + k) % 32) });
const item: moss.CodedItem = { id: 'hand/story/0', kind: 'story', prompt: [{ text: 'a red heart' }, { image: grid(1) }], target: [{ text: 'the tiger' }, { image: grid(2) }] };

test('earlier positions bit-identical, later ones move; no adapter or tensor left behind', () => {
  const names = s.model.adapters.names;
  moss.causalityCheck(s, item, { codeOffset: 3 }); // the model caches a causal mask per length on first use
  const before = tf.memory().numTensors;
  const r = moss.causalityCheck(s, item, { codeOffset: 3 });
  expect(r.earlierMaxChange).toBe(0);
  expect(r.laterMaxChange).toBeGreaterThan(1e-3);
  const row = moss.itemRow(s.tokenizer, item);
  expect(s.tokenizer.isImageCode(row.ids[r.changedAt])).toBe(true);
  expect(r.changedAt).toBeGreaterThanOrEqual(row.targetAt + 3);
  expect(s.model.adapters.names).toEqual(names);
  expect(tf.memory().numTensors).toBe(before);
});

test('bad input is named', () => {
  expect(() => moss.causalityCheck(s, item, { codeOffset: 99 })).toThrow('moss.causalityCheck: item hand/story/0 has no image code 99 or more tokens into its target');
});
