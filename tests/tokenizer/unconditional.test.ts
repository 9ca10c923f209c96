/**
 * Liquid's <unconditional> token: appended as the last id (every other id unchanged), saved and loaded
 * through tokenizer.json + layout, refused anywhere but last; tokenizers and layouts without it (every
 * shipped checkpoint) load as before. A session grown with it keeps every old logit bit-exactly.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MultimodalTokenizer } from '../../kernel-lib/tokenizer';
import { UNCONDITIONAL_TOKEN } from '../../kernel-lib/tokenizer/added-tokens';
import { Session } from '../../kernel-lib/session';
import { tinySession, tinyTokenizer } from '../helpers/fixtures';
import { useBackend } from '../helpers/backend';

beforeAll(async () => {
  await useBackend();
});

const roundTrip = (t: MultimodalTokenizer): MultimodalTokenizer =>
  MultimodalTokenizer.fromHF(JSON.parse(JSON.stringify(t.toHF())), JSON.parse(JSON.stringify(t.layout())));

test('withUnconditional appends one id at the end and moves no other', () => {
  for (const images of [true, false]) {
    const t = tinyTokenizer(images);
    const u = t.withUnconditional();
    expect(u.vocabSize).toBe(t.vocabSize + 1);
    expect(u.unconditional).toBe(t.vocabSize);
    expect(u.pieceOf(u.unconditional)).toBe(UNCONDITIONAL_TOKEN);
    expect(u.modalityOf(u.unconditional)).toBe('special');
    for (let id = 0; id < t.vocabSize; id++) expect(u.pieceOf(id)).toBe(t.pieceOf(id));
    expect(u.layout().specials.unconditional).toBe(t.vocabSize);
    expect({ ...u.layout(), specials: { ...u.layout().specials, unconditional: undefined } }).toEqual({ ...t.layout(), specials: { ...t.layout().specials, unconditional: undefined } });
    expect(u.encodePrompt('a tiger').ids).toEqual(t.encodePrompt('a tiger').ids); // text never becomes the special
    expect(u.encodePrompt('<unconditional>').ids).not.toContain(u.unconditional);
  }
});

test('save → load keeps the token; tokenizers and layouts without it load as before', () => {
  const u = tinyTokenizer(true).withUnconditional();
  const back = roundTrip(u);
  expect(back.hasUnconditional).toBe(true);
  expect(back.unconditional).toBe(u.unconditional);
  expect(back.layout()).toEqual(u.layout());
  const plain = roundTrip(tinyTokenizer(true));
  expect(plain.hasUnconditional).toBe(false);
  expect(() => plain.unconditional).toThrow('this tokenizer has no <unconditional> token; call withUnconditional first');
  // A layout written before the token existed has no `unconditional` key at all.
  const old = JSON.parse(JSON.stringify(tinyTokenizer(true).layout()));
  expect('unconditional' in old.specials).toBe(false);
  expect(MultimodalTokenizer.fromHF(tinyTokenizer(true).toHF(), old).vocabSize).toBe(tinyTokenizer(true).vocabSize);
});

test('bad files and orders are refused, naming the problem', () => {
  const t = tinyTokenizer(true);
  const u = t.withUnconditional();
  // tokenizer.json with the token but a layout without it
  expect(() => MultimodalTokenizer.fromHF(u.toHF(), JSON.parse(JSON.stringify(t.layout()))))
    .toThrow(`layout.specials.unconditional is undefined but tokenizer.json has ${t.vocabSize}`);
  // <unconditional> anywhere but last
  const json = JSON.parse(JSON.stringify(u.toHF()));
  const added = json.added_tokens as { id: number; content: string }[];
  const last = added.length - 1;
  [added[last].content, added[last - 1].content] = [added[last - 1].content, added[last].content];
  expect(() => MultimodalTokenizer.fromHF(json, JSON.parse(JSON.stringify(u.layout()))))
    .toThrow(`added_tokens: "<unconditional>" has id ${t.vocabSize - 1}; it must be the last added token`);
  expect(() => u.withUnconditional()).toThrow('withUnconditional: this tokenizer already has <unconditional>');
  expect(() => tinyTokenizer(false).withUnconditional().extendWithImages({ numImageCodes: 4, grid: { height: 2, width: 2 } }))
    .toThrow('extendWithImages: this tokenizer has <unconditional>');
});

test('a session grown with <unconditional>: old logits bit-exact, the new row at the mean, saved and loaded', async () => {
  const s = await tinySession({ seed: 3 });
  const g = s.withUnconditional();
  try {
    expect(g.config.vocabSize).toBe(s.config.vocabSize + 1);
    const ids = s.encode('a tiger to the left of an apple').ids;
    const V = s.config.vocabSize;
    const a = s.model.forward([ids], { capture: 'none' }).logits;
    const b = g.model.forward([ids], { capture: 'none' }).logits;
    for (let p = 0; p < ids.length; p++) {
      expect(Array.from(b.subarray(p * (V + 1), p * (V + 1) + V))).toEqual(Array.from(a.subarray(p * V, (p + 1) * V)));
    }
    const embed = g.model.toHost().get('embed')!;
    const H = s.config.hiddenSize;
    for (const h of [0, 5, H - 1]) {
      let m = 0;
      for (let v = 0; v < V; v++) m += embed.data[v * H + h];
      expect(embed.data[V * H + h]).toBeCloseTo(m / V, 6);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-uncond-'));
    try {
      g.save(dir);
      const back = await Session.load(dir);
      expect(back.tokenizer.unconditional).toBe(g.tokenizer.unconditional);
      expect(Array.from(back.model.forward([[...ids, V]], { capture: 'none' }).logits)).toEqual(Array.from(g.model.forward([[...ids, V]], { capture: 'none' }).logits));
      back.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    g.dispose();
    s.dispose();
  }
});
