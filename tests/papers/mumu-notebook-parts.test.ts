/**
 * The pieces notebook 05 reads besides the runs: the held-out prompts every run is scored on, the scores
 * file's check, the routing of crops and the words after them (against counts made here from the LM's own
 * traces), and the live helpers (outlined scene, the prompt as tokens, a user's prompt), on the tiny LM with
 * the stand-in crop encoder and the project's data.
 */
import { mumu, Session } from '../../kernel-lib';
import { ensureData } from '../../kernel-lib/data/store';
import type { DataStore } from '../../kernel-lib/data/store';
import { jensenShannon } from '../../kernel-lib/analysis/routing-by-modality';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import { tinyCropEncoder } from './mumu-helpers';

let store: DataStore;
let session: Session;
beforeAll(async () => {
  await useBackend();
  store = await ensureData();
  session = await tinySession({ seed: 3 });
}, 120_000);
afterAll(() => session?.dispose());

test('held-out prompts: the first scenes of the test split, never augmented, the same for every call; sizes checked', () => {
  const a = mumu.heldOutSets(store, { sameSource: 5, otherSource: 3 });
  expect(a.split).toBe('test');
  expect(a.sameSource.map((e) => e.id)).toEqual([0, 1, 2, 3, 4].map((i) => `mumu/test/${i}`));
  expect(a.otherSource.emoji.map((e) => e.id)).toEqual([0, 1, 2].map((i) => `harmonise/emoji/test/${i}`));
  expect(a.otherSource['two-scenes'].every((e) => e.meta.source === 'two-scenes' && e.meta.sources.length === 2)).toBe(true);
  expect([...a.sameSource, ...mumu.OTHER_SOURCES.flatMap((k) => a.otherSource[k])].every((e) => e.meta.crops.every((c) => c.augmentation === null))).toBe(true);
  expect(mumu.heldOutSets(store, { sameSource: 5, otherSource: 3 }).sameSource.map((e) => e.meta.caption)).toEqual(a.sameSource.map((e) => e.meta.caption));
  const n = store.scenes('test').length;
  expect(() => mumu.heldOutSets(store, { sameSource: n + 1, otherSource: 2 })).toThrow(`mumu: ${n + 1} held-out same-source prompts asked for, the test split has ${n} scenes`);
  expect(() => mumu.heldOutSets(store, { sameSource: 1, otherSource: 2 })).toThrow('mumu: held-out sameSource must be an integer ≥ 2 (a paired comparison needs 2 prompts), got 1');
});

test('a scores file is checked: every measure as long as its prompts', () => {
  const set = { ids: ['a', 'b'], identity: [1, null], cropClipI: [0.5, 0.4], copied: [0, 0], harmonised: [1, 0] };
  const ok = { run: 'r', split: 'test', draw: { cfgScale: 4, steps: 25, seed: 0 }, sameSource: set, otherSource: { emoji: set, 'shifted-emoji': set, 'two-scenes': set }, wall_time_s: 1 };
  expect(mumu.checkHeldOutScores(ok, 'x')).toEqual(ok);
  expect(mumu.seedSetOf(set).identity).toEqual([1, NaN]);
  expect(() => mumu.checkHeldOutScores({ ...ok, otherSource: { ...ok.otherSource, emoji: { ...set, copied: [0] } } }, 'x')).toThrow('x: otherSource.emoji.copied has 1 scores for 2 prompts');
});

test('routing of crops and the words after them equals counts made from the LM’s traces of each prompt, with and without its crops', () => {
  const examples = mumu.heldOutSets(store, { sameSource: 12, otherSource: 2 }).sameSource;
  const items = mumu.codeExamples(examples, tinyCropEncoder);
  const r = mumu.promptRouting(session, examples, items);
  const { numLayers: L, numExperts: E, topK: k } = session.config;
  const tok = session.tokenizer;
  const crop = Array.from({ length: L }, () => new Array<number>(E).fill(0));
  const text = Array.from({ length: L }, () => new Array<number>(E).fill(0));
  const kept = { named: new Array<number>(L).fill(0), generic: new Array<number>(L).fill(0) };
  const words = { named: 0, generic: 0 };
  examples.forEach((ex, i) => {
    const withCrops = session.trace(items[i].prompt);
    const alone = session.trace(items[i].prompt.filter((p) => 'text' in p));
    for (let l = 0; l < L; l++) {
      withCrops.modalities.forEach((m, t) => {
        const into = m === 'image' ? crop[l] : m === 'text' ? text[l] : null;
        if (into) for (const e of withCrops.layers[l].experts.subarray(t * k, (t + 1) * k)) into[e]++;
      });
    }
    // the word after crop j: the token after its <eoi>; alone, the first token of the same text part
    const eois = withCrops.ids.flatMap((id, t) => (id === tok.eoi ? [t + 1] : []));
    const textParts = items[i].prompt.map((p, j) => ('text' in p ? j : -1)).filter((j) => j >= 0);
    const lengths = textParts.map((j) => tok.encodePrompt([items[i].prompt[j]], { addBos: false }).ids.length);
    ex.meta.crops.forEach((c, j) => {
      const at = eois[j];
      const part = textParts.indexOf(c.part + 1);
      const at0 = 1 + lengths.slice(0, part).reduce((a, b) => a + b, 0);
      const which = ex.meta.generic ? 'generic' : 'named';
      words[which]++;
      for (let l = 0; l < L; l++) {
        const a = Array.from(withCrops.layers[l].experts.subarray(at * k, (at + 1) * k));
        const b = Array.from(alone.layers[l].experts.subarray(at0 * k, (at0 + 1) * k));
        expect(tok.pieceOf(withCrops.ids[at])).toBe(tok.pieceOf(alone.ids[at0]));
        kept[which][l] += a.filter((e) => b.includes(e)).length / k;
      }
    });
  });
  expect(r.prompts).toBe(12);
  expect(r.words).toEqual(words);
  expect(words.named).toBeGreaterThan(0);
  expect(words.generic).toBeGreaterThan(0);
  for (let l = 0; l < L; l++) {
    expect(r.layers[l].cropVsText).toBeCloseTo(jensenShannon(crop[l], text[l]), 4);
    expect(r.layers[l].wordKeptNamed).toBeCloseTo(kept.named[l] / words.named, 4);
    expect(r.layers[l].wordKeptGeneric).toBeCloseTo(kept.generic[l] / words.generic, 4);
    expect(r.layers[l].cropVsWord).toBeGreaterThanOrEqual(0);
  }
  expect(() => mumu.promptRouting(session, examples, items.slice(1))).toThrow('mumu.promptRouting: 12 examples for 11 items (give the same, at least one)');
});

test('live helpers: the scene with its boxes outlined, the prompt as tokens at each setting, a user’s prompt', () => {
  const ex = mumu.heldOutSets(store, { sameSource: 2, otherSource: 2 }).sameSource.find((e) => e.meta.crops.length >= 2) ?? mumu.heldOutSets(store, { sameSource: 2, otherSource: 2 }).sameSource[0];
  const boxes = ex.meta.crops.map((c) => c.box);
  const before = ex.meta.target.pixels.slice();
  const out = mumu.outlinedScene(ex.meta.target, boxes);
  expect(ex.meta.target.pixels).toEqual(before);
  const px = (x: number, y: number) => Array.from(out.pixels.subarray((y * out.width + x) * 3, (y * out.width + x) * 3 + 3));
  boxes.forEach((b, i) => {
    expect(px(b.x, b.y)).toEqual([...mumu.BOX_COLORS[i]]);
    expect(px(b.x + b.w - 1, b.y + b.h - 1)).toEqual([...mumu.BOX_COLORS[i]]);
  });
  const [item] = mumu.codeExamples([ex], tinyCropEncoder);
  const n = ex.meta.crops.length;
  const all = mumu.promptTokens(session.tokenizer, item, 16);
  expect(all.filter((t) => t.kind === 'crop code')).toHaveLength(16 * n);
  expect(all.filter((t) => t.crop === n - 1)).toHaveLength(16);
  const pooled = mumu.promptTokens(session.tokenizer, item, 4);
  expect(pooled.filter((t) => t.kind === 'pooled slot')).toHaveLength(4 * n);
  expect(pooled.length).toBe(all.length - 12 * n);
  expect(mumu.layoutLine(all)).toContain('<boi> [crop 1: 16 codes] <eoi>');
  expect(mumu.layoutLine(pooled)).toContain('<boi> [crop 1: 4 pooled] <eoi>');
  const mine = mumu.userPrompt(store, ['a', { emoji: 'tiger face' }, ' animal'], tinyCropEncoder);
  expect(mine.caption).toBe('a animal');
  expect(mine.prompt.map((p) => ('text' in p ? p.text : `${p.image.height}×${p.image.width}`))).toEqual(['a', '4×4', ' animal']);
  expect(mine.crops[0]).toEqual(store.emojiImage(store.emoji.find((e) => e.name === 'tiger face')!.index));
  expect(() => mumu.userPrompt(store, ['a', { emoji: 'no such emoji' }], tinyCropEncoder)).toThrow(`mumu.userPrompt: part 1: no emoji is named 'no such emoji' (names as in store.emoji, e.g. '${store.emoji[0].name}')`);
});
