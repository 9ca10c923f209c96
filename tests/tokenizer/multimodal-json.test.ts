import { ByteLevelBPE, MultimodalTokenizer, PromptPart, TokenizerLayout } from '../../kernel-lib/tokenizer';
import { ENGLISH, rng } from './fixtures';

/* eslint-disable @typescript-eslint/no-explicit-any -- tests mutate raw JSON on purpose */

const bpe = ByteLevelBPE.train([ENGLISH], { vocabSize: 400 });
const V = bpe.vocabSize;
const textOnly = MultimodalTokenizer.createTextOnly(bpe);
const tok = MultimodalTokenizer.create(bpe, { numImageCodes: 512, grid: { height: 8, width: 8 }, numVokens: 4 });
const small = MultimodalTokenizer.create(bpe, { numImageCodes: 4, grid: { height: 2, width: 2 }, numVokens: 2 });
const noVokens = MultimodalTokenizer.create(bpe, { numImageCodes: 4, grid: { height: 2, width: 2 } });

/** What a checkpoint directory holds: tokenizer.json text and the config's layout, both as parsed JSON. */
const saved = (t: MultimodalTokenizer): { json: any; layout: any } => ({
  json: JSON.parse(JSON.stringify(t.toHF())),
  layout: JSON.parse(JSON.stringify(t.layout())),
});

describe('multimodal tokenizer.json', () => {
  test('lists every added token after the BPE vocabulary, all special', () => {
    const { json } = saved(tok);
    expect(json.added_tokens.length).toBe(3 + 3 + 512 + 4);
    expect(json.added_tokens[0]).toEqual({
      id: V,
      content: '<bos>',
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    });
    expect(json.added_tokens.map((t: any) => t.content).slice(0, 8)).toEqual([
      '<bos>', '<eos>', '<pad>', '<boi>', '<eoi>', '<img>', '<img_0>', '<img_1>',
    ]);
    expect(json.added_tokens[517]).toMatchObject({ id: V + 517, content: '<img_511>' });
    expect(json.added_tokens[521]).toMatchObject({ id: V + 521, content: '[IMG4]' });
    json.added_tokens.forEach((t: any, i: number) => expect(t.id).toBe(V + i));
    expect(Object.keys(json.model.vocab).length).toBe(V); // added tokens are not in model.vocab
  });

  test('save → load with the layout: same ids, same layout, same decoding', () => {
    const rand = rng(3);
    const img = { height: 8, width: 8, codes: Array.from({ length: 64 }, () => Math.floor(rand() * 512)) };
    const prompt: PromptPart[] = [{ text: 'Look: ' }, { image: img }, { text: ' — what is it? 🐈' }];
    for (const t of [tok, small, noVokens, textOnly]) {
      const { json, layout } = saved(t);
      const loaded = MultimodalTokenizer.fromHF(json, layout);
      expect(loaded.layout()).toEqual(t.layout());
      expect(loaded.vocabSize).toBe(t.vocabSize);
      if (t === tok) {
        const ids = t.encodePrompt(prompt).ids;
        expect(loaded.encodePrompt(prompt).ids).toEqual(ids);
        expect(loaded.decodeIds(ids)).toEqual(prompt);
      }
    }
  });

  test('a text-only tokenizer loads without a layout', () => {
    const loaded = MultimodalTokenizer.fromHF(saved(textOnly).json);
    expect(loaded.layout()).toEqual(textOnly.layout());
    expect(loaded.encodePrompt(ENGLISH).ids).toEqual(textOnly.encodePrompt(ENGLISH).ids);
  });

  test('the image grid comes from the layout', () => {
    const { json, layout } = saved(small);
    const loaded = MultimodalTokenizer.fromHF(json, { ...layout, imageGrid: { height: 1, width: 4 } });
    expect(loaded.imageGrid).toEqual({ height: 1, width: 4 });
    expect(() => MultimodalTokenizer.fromHF(json)).toThrow(
      new Error(
        'tokenizer.json has an image vocabulary but no layout was given; the image grid is stored only ' +
          'in the layout (the checkpoint config\'s "switchboard" block)',
      ),
    );
  });

  test('BPE errors come first, from ByteLevelBPE.fromHF', () => {
    const { json } = saved(tok);
    json.model.type = 'Unigram';
    expect(() => MultimodalTokenizer.fromHF(json)).toThrow(
      new Error('tokenizer.json: model.type must be "BPE", got "Unigram"'),
    );
  });
});

describe('added_tokens validation', () => {
  const cases: Array<[string, MultimodalTokenizer, (j: any) => void, string]> = [
    ['absent', textOnly, (j) => void delete j.added_tokens, 'added_tokens must be an array, got undefined'],
    [
      'entry without id',
      textOnly,
      (j) => void (j.added_tokens[1] = { content: '<eos>' }),
      'added_tokens[1] must have an integer id and a string content, got {"content":"<eos>"}',
    ],
    [
      'gap',
      textOnly,
      (j) => void (j.added_tokens[1].id = V + 5),
      `added token "<pad>" has id ${V + 2}; expected ${V + 1} (added tokens follow model.vocab without gaps)`,
    ],
    [
      'inside model.vocab',
      textOnly,
      (j) => void (j.added_tokens[0].id = 5),
      `added token "<bos>" has id 5; expected ${V} (added tokens follow model.vocab without gaps)`,
    ],
    ['renamed', textOnly, (j) => void (j.added_tokens[0].content = '<s>'), `added_tokens: id ${V} is "<s>"; expected "<bos>"`],
    ['missing', textOnly, (j) => void j.added_tokens.pop(), `added_tokens: missing id ${V + 2}; expected "<pad>"`],
    ['wrong image special', tok, (j) => void (j.added_tokens[4].content = '<x>'), `added_tokens: id ${V + 4} is "<x>"; expected "<eoi>"`],
    ['no codes', tok, (j) => void j.added_tokens.splice(6), `added_tokens: missing id ${V + 6}; expected "<img_0>"`],
    [
      'codes out of order',
      tok,
      (j) => void (j.added_tokens[8].content = '<img_3>'),
      `added_tokens: id ${V + 8} is "<img_3>"; expected "<img_2>" or "[IMG1]"`,
    ],
    [
      'unknown after codes',
      noVokens,
      (j) => void j.added_tokens.push({ id: V + 10, content: '<foo>' }),
      `added_tokens: id ${V + 10} is "<foo>"; expected "<img_4>" or "[IMG1]"`,
    ],
    [
      'unknown after vokens',
      small,
      (j) => void j.added_tokens.push({ id: V + 12, content: '<foo>' }),
      `added_tokens: id ${V + 12} is "<foo>"; expected "[IMG3]"`,
    ],
  ];
  test.each(cases)('%s', (_name, t, mutate, message) => {
    const { json, layout } = saved(t);
    mutate(json);
    expect(() => MultimodalTokenizer.fromHF(json, layout)).toThrow(new Error(`tokenizer.json: ${message}`));
  });
});

describe('layout cross-check', () => {
  const cases: Array<[string, MultimodalTokenizer, (l: any) => any, string]> = [
    ['not an object', tok, () => null, 'layout must be an object, got null'],
    ['textVocabSize', tok, (l) => ({ ...l, textVocabSize: 500 }), `layout.textVocabSize is 500 but tokenizer.json has ${V}`],
    ['numImageCodes', tok, (l) => ({ ...l, numImageCodes: 256 }), 'layout.numImageCodes is 256 but tokenizer.json has 512'],
    ['numVokens', tok, (l) => ({ ...l, numVokens: undefined }), 'layout.numVokens is undefined but tokenizer.json has 4'],
    ['specials missing', tok, (l) => ({ ...l, specials: undefined }), 'layout.specials must be an object, got undefined'],
    [
      'specials.boi',
      tok,
      (l) => ({ ...l, specials: { ...l.specials, boi: 999 } }),
      `layout.specials.boi is 999 but tokenizer.json has ${V + 3}`,
    ],
    [
      'a text-only layout for an image tokenizer',
      tok,
      () => textOnly.layout(),
      'layout.numImageCodes is 0 but tokenizer.json has 512',
    ],
    ['imageCodeStart', tok, (l) => ({ ...l, imageCodeStart: V + 3 }), `layout.imageCodeStart is ${V + 3} but tokenizer.json has ${V + 6}`],
    ['vokenStart', tok, (l) => ({ ...l, vokenStart: null }), `layout.vokenStart is null but tokenizer.json has ${V + 518}`],
    [
      'imageGrid',
      tok,
      (l) => ({ ...l, imageGrid: null }),
      'layout.imageGrid must be {height, width} of positive integers, got null',
    ],
    [
      'imageGrid on a text-only tokenizer',
      textOnly,
      (l) => ({ ...l, imageGrid: { height: 8, width: 8 } }),
      'layout.imageGrid must be null for a tokenizer without images, got {"height":8,"width":8}',
    ],
    [
      'image specials on a text-only tokenizer',
      textOnly,
      (l) => ({ ...l, specials: { ...l.specials, boi: V + 3 } }),
      `layout.specials.boi is ${V + 3} but tokenizer.json has null`,
    ],
  ];
  test.each(cases)('%s', (_name, t, change, message) => {
    const { json, layout } = saved(t);
    expect(() => MultimodalTokenizer.fromHF(json, change(layout) as TokenizerLayout)).toThrow(new Error(message));
  });
});
