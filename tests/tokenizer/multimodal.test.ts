import { ByteLevelBPE, ImageCodes, MultimodalTokenizer, PromptPart } from '../../kernel-lib/tokenizer';
import { ENGLISH, rng } from './fixtures';

/* eslint-disable @typescript-eslint/no-explicit-any -- tests pass malformed input on purpose */

const bpe = ByteLevelBPE.train([ENGLISH], { vocabSize: 400 });
const V = bpe.vocabSize; // 400
const NO_IMAGES = 'this tokenizer has no image vocabulary; call extendWithImages first';
const textOnly = MultimodalTokenizer.createTextOnly(bpe);
const tok = MultimodalTokenizer.create(bpe, { numImageCodes: 512, grid: { height: 8, width: 8 }, numVokens: 4 });

function image(height: number, width: number, seed: number, numCodes = 512): ImageCodes {
  const rand = rng(seed);
  return { height, width, codes: Array.from({ length: height * width }, () => Math.floor(rand() * numCodes)) };
}

describe('id layout', () => {
  test('text-only: <bos> <eos> <pad> after the BPE vocabulary', () => {
    expect([textOnly.textVocabSize, textOnly.vocabSize]).toEqual([V, V + 3]);
    expect([textOnly.bos, textOnly.eos, textOnly.pad]).toEqual([V, V + 1, V + 2]);
    expect(textOnly.hasImages).toBe(false);
    expect(textOnly.numImageCodes).toBe(0);
    expect(textOnly.numVokens).toBe(0);
    expect(() => textOnly.boi).toThrow(new Error(NO_IMAGES));
    expect(() => textOnly.eoi).toThrow(new Error(NO_IMAGES));
    expect(() => textOnly.img).toThrow(new Error(NO_IMAGES));
    expect(() => textOnly.imageGrid).toThrow(new Error(NO_IMAGES));
    expect(() => textOnly.imageCodeId(0)).toThrow(new Error(NO_IMAGES));
    expect(textOnly.isImageCode(V + 3)).toBe(false);
    expect(textOnly.layout()).toEqual({
      textVocabSize: V,
      numImageCodes: 0,
      imageGrid: null,
      numVokens: 0,
      specials: { bos: V, eos: V + 1, pad: V + 2 },
      imageCodeStart: null,
      vokenStart: null,
    });
  });

  test('with images: <boi> <eoi> <img>, codes, then vokens', () => {
    expect(tok.vocabSize).toBe(V + 3 + 3 + 512 + 4);
    expect([tok.bos, tok.eos, tok.pad, tok.boi, tok.eoi, tok.img]).toEqual([V, V + 1, V + 2, V + 3, V + 4, V + 5]);
    expect(tok.imageCodeId(0)).toBe(V + 6);
    expect(tok.imageCodeId(511)).toBe(V + 517);
    expect(tok.vokenId(1)).toBe(V + 518);
    expect(tok.vokenId(4)).toBe(V + 521);
    expect(tok.imageGrid).toEqual({ height: 8, width: 8 });
    expect(tok.layout()).toEqual({
      textVocabSize: V,
      numImageCodes: 512,
      imageGrid: { height: 8, width: 8 },
      numVokens: 4,
      specials: { bos: V, eos: V + 1, pad: V + 2, boi: V + 3, eoi: V + 4, img: V + 5 },
      imageCodeStart: V + 6,
      vokenStart: V + 518,
    });
    expect(JSON.parse(JSON.stringify(tok.layout()))).toEqual(tok.layout());
  });

  test('names, modalities, codes', () => {
    expect(tok.specialId('<eos>')).toBe(V + 1);
    expect(tok.specialId('<img_17>')).toBe(V + 6 + 17);
    expect(tok.specialId('[IMG2]')).toBe(V + 519);
    expect(() => tok.specialId('<foo>')).toThrow(new Error('specialId: no added token named "<foo>"'));
    expect(tok.pieceOf(tok.imageCodeId(17))).toBe('<img_17>');
    expect(tok.pieceOf(tok.vokenId(3))).toBe('[IMG3]');
    expect(tok.pieceOf(tok.boi)).toBe('<boi>');
    expect(tok.pieceOf(bpe.tokenToId('Ġthe') as number)).toBe(' the');
    expect(tok.modalityOf(5)).toBe('text');
    expect(tok.modalityOf(V - 1)).toBe('text');
    for (const id of [V, V + 1, V + 2, V + 3, V + 4, V + 5, V + 518, V + 521]) expect(tok.modalityOf(id)).toBe('special');
    expect(tok.modalityOf(V + 6)).toBe('image');
    expect(tok.modalityOf(V + 517)).toBe('image');
    expect(tok.codeOf(V + 6 + 300)).toBe(300);
    expect(tok.codeOf(V + 5)).toBe(-1);
    expect(tok.codeOf(V + 518)).toBe(-1);
    expect(tok.codeOf(3)).toBe(-1);
    expect(tok.isImageCode(V + 517)).toBe(true);
    expect(tok.isImageCode(V + 518)).toBe(false);
  });

  test('accessor errors', () => {
    expect(() => tok.modalityOf(V + 522)).toThrow(new Error(`modalityOf: id ${V + 522} is not a token id in [0, ${V + 522})`));
    expect(() => tok.pieceOf(-1)).toThrow(new Error(`pieceOf: id -1 is not a token id in [0, ${V + 522})`));
    expect(() => tok.imageCodeId(512)).toThrow(new Error('image code 512 is outside [0, 512)'));
    expect(() => tok.imageCodeId(1.5)).toThrow(new Error('image code 1.5 is not an integer'));
    expect(() => tok.vokenId(0)).toThrow(new Error('voken 0 is outside [1, 4]'));
    expect(() => tok.vokenId(5)).toThrow(new Error('voken 5 is outside [1, 4]'));
    expect(() => textOnly.vokenId(1)).toThrow(new Error('this tokenizer has no vokens'));
  });

  test('extendWithImages keeps every text id and <bos> <eos> <pad>', () => {
    const extended = textOnly.extendWithImages({ numImageCodes: 16, grid: { height: 4, width: 4 } });
    expect(extended.encodePrompt(ENGLISH).ids).toEqual(textOnly.encodePrompt(ENGLISH).ids);
    expect([extended.bos, extended.eos, extended.pad]).toEqual([textOnly.bos, textOnly.eos, textOnly.pad]);
    expect(extended.numVokens).toBe(0);
    expect(extended.layout().vokenStart).toBeNull();
    expect(textOnly.hasImages).toBe(false); // a new tokenizer; the original is unchanged
    expect(() => extended.extendWithImages({ numImageCodes: 16, grid: { height: 4, width: 4 } })).toThrow(
      new Error('extendWithImages: this tokenizer already has an image vocabulary'),
    );
  });

  test('extendWithImages validates its options', () => {
    const grid = { height: 4, width: 4 };
    expect(() => textOnly.extendWithImages({ numImageCodes: 0, grid })).toThrow(
      new Error('extendWithImages: numImageCodes must be a positive integer, got 0'),
    );
    expect(() => textOnly.extendWithImages({ numImageCodes: 8, grid: { height: 0, width: 4 } })).toThrow(
      new Error('extendWithImages: grid must be {height, width} of positive integers, got {"height":0,"width":4}'),
    );
    expect(() => textOnly.extendWithImages({ numImageCodes: 8, grid, numVokens: -1 })).toThrow(
      new Error('extendWithImages: numVokens must be a non-negative integer, got -1'),
    );
  });
});

describe('encodePrompt', () => {
  test('a string is one text part, after <bos>', () => {
    const e = textOnly.encodePrompt('Hello there');
    expect(e.ids).toEqual([textOnly.bos, ...bpe.encode('Hello there')]);
    expect(e.modalities).toEqual(['special', ...bpe.encode('Hello there').map(() => 'text')]);
    expect(e.grid.every((g) => g === null)).toBe(true);
    expect(textOnly.encodePrompt('Hello', { addBos: false }).ids).toEqual(bpe.encode('Hello'));
  });

  test('an image is <boi>, its codes row-major with grid positions, <eoi>', () => {
    const img = image(2, 3, 1);
    const e = tok.encodePrompt([{ text: 'a cat' }, { image: img }, { text: '!' }, { image: image(2, 3, 2) }]);
    const text = bpe.encode('a cat');
    const at = 1 + text.length; // index of the first <boi>
    expect(e.ids.slice(at, at + 8)).toEqual([tok.boi, ...img.codes.map((c) => tok.imageCodeId(c)), tok.eoi]);
    expect(e.modalities.slice(at, at + 8)).toEqual(['special', ...img.codes.map(() => 'image'), 'special']);
    expect(e.grid.slice(at, at + 8)).toEqual([
      null,
      { image: 0, row: 0, col: 0 },
      { image: 0, row: 0, col: 1 },
      { image: 0, row: 0, col: 2 },
      { image: 0, row: 1, col: 0 },
      { image: 0, row: 1, col: 1 },
      { image: 0, row: 1, col: 2 },
      null,
    ]);
    expect(e.grid[e.grid.length - 2]).toEqual({ image: 1, row: 1, col: 2 });
    expect(e.ids.length).toBe(e.modalities.length);
    expect(e.ids.length).toBe(e.grid.length);
    expect(e.ids.length).toBe(1 + text.length + 8 + bpe.encode('!').length + 8);
  });

  test('empty prompts: [bos] with addBos, an error without', () => {
    expect(tok.encodePrompt([]).ids).toEqual([tok.bos]);
    expect(tok.encodePrompt('').ids).toEqual([tok.bos]);
    expect(() => tok.encodePrompt([], { addBos: false })).toThrow(new Error('prompt is empty'));
    expect(() => tok.encodePrompt('', { addBos: false })).toThrow(new Error('prompt is empty'));
    expect(() => tok.encodePrompt([{ text: '' }], { addBos: false })).toThrow(new Error('prompt is empty'));
  });

  test('special-token names in text are plain text', () => {
    const e = tok.encodePrompt('<bos>[IMG1]<img_3>', { addBos: false });
    expect(e.modalities.every((m) => m === 'text')).toBe(true);
    expect(tok.decodeIds(e.ids)).toEqual([{ text: '<bos>[IMG1]<img_3>' }]);
  });

  const bad: Array<[string, any, string]> = [
    ['not a part', [{ text: 'a' }, 42], 'prompt part 1 must be {text} or {image}'],
    ['both keys', [{ text: 'a', image: image(8, 8, 1) }], 'prompt part 0 must be {text} or {image}'],
    ['text not a string', [{ text: 5 }], 'prompt part 0 must be {text} or {image}'],
    ['null part', [null], 'prompt part 0 must be {text} or {image}'],
    ['image not an object', [{ image: 'cat.png' }], 'prompt part 0: image must be {height, width, codes}, got "cat.png"'],
    ['zero height', [{ image: { height: 0, width: 8, codes: [] } }], 'prompt part 0: image height must be a positive integer, got 0'],
    ['fractional width', [{ image: { height: 8, width: 2.5, codes: [] } }], 'prompt part 0: image width must be a positive integer, got 2.5'],
    ['codes not array', [{ image: { height: 1, width: 1, codes: new Int32Array(1) } }], 'prompt part 0: image codes must be an array, got Int32Array'],
    [
      'wrong length',
      [{ text: 'a' }, { text: 'b' }, { image: { height: 8, width: 8, codes: image(7, 9, 1).codes } }],
      'prompt part 2: image codes length 63 does not match height×width 8×8 = 64',
    ],
    [
      'code out of range',
      [{ text: 'x' }, { image: { height: 2, width: 4, codes: [0, 1, 2, 3, 4, 600, 6, 7] } }],
      'prompt part 1: image code 600 at index 5 is outside [0, 512)',
    ],
    ['negative code', [{ image: { height: 1, width: 2, codes: [3, -1] } }], 'prompt part 0: image code -1 at index 1 is outside [0, 512)'],
    ['fractional code', [{ image: { height: 1, width: 2, codes: [3, 1.5] } }], 'prompt part 0: image code 1.5 at index 1 is not an integer'],
    ['NaN code', [{ image: { height: 1, width: 2, codes: [NaN, 1] } }], 'prompt part 0: image code NaN at index 0 is not an integer'],
    ['not a prompt', 42, 'prompt must be a string or an array of parts, got 42'],
  ];
  test.each(bad)('rejects %s', (_name, prompt, message) => {
    expect(() => tok.encodePrompt(prompt)).toThrow(new Error(message));
  });

  test('rejects images on a text-only tokenizer', () => {
    expect(() => textOnly.encodePrompt([{ text: 'a' }, { image: image(2, 2, 1) }])).toThrow(
      new Error(`prompt part 1: ${NO_IMAGES}`),
    );
  });
});

describe('decodeIds', () => {
  const grid4 = MultimodalTokenizer.create(bpe, { numImageCodes: 64, grid: { height: 4, width: 4 }, numVokens: 2 });

  test('round-trips interleaved text and images', () => {
    const prompts: PromptPart[][] = [
      [{ text: 'A photo of ' }, { image: image(4, 4, 1, 64) }, { text: ' and then\n\n' }, { image: image(4, 4, 2, 64) }],
      [{ image: image(4, 4, 3, 64) }],
      [{ image: image(4, 4, 4, 64) }, { image: image(4, 4, 5, 64) }, { text: 'naïve 👩‍👩‍👧 東京' }],
    ];
    for (const parts of prompts) {
      for (const addBos of [true, false]) expect(grid4.decodeIds(grid4.encodePrompt(parts, { addBos }).ids)).toEqual(parts);
    }
    const eight: PromptPart[] = [{ text: 'x' }, { image: image(8, 8, 6) }, { text: 'y' }, { image: image(8, 8, 7) }];
    expect(tok.decodeIds(tok.encodePrompt(eight).ids)).toEqual(eight);
  });

  test('an image off the grid comes back as 1×count', () => {
    const img = image(8, 8, 9, 64);
    const back = grid4.decodeIds(grid4.encodePrompt([{ text: 'a' }, { image: img }, { image: image(4, 4, 1, 64) }]).ids);
    expect(back).toEqual([{ text: 'a' }, { image: { height: 1, width: 64, codes: img.codes } }, { image: image(4, 4, 1, 64) }]);
  });

  test('drops <bos> <eos> <pad>; writes vokens and <img> by name', () => {
    const hi = bpe.encode('hi');
    const ids = [tok.bos, ...hi, tok.vokenId(1), tok.vokenId(2), tok.img, ...hi, tok.eos, tok.pad, tok.pad];
    expect(tok.decodeIds(ids)).toEqual([{ text: 'hi[IMG1][IMG2]<img>hi' }]);
  });

  test('malformed generations: cut images, stray codes and <eoi>', () => {
    const c = (k: number): number => tok.imageCodeId(k);
    expect(tok.decodeIds([tok.boi, c(1), c(2)])).toEqual([{ image: { height: 1, width: 2, codes: [1, 2] } }]);
    expect(tok.decodeIds([tok.boi, c(1), tok.eos])).toEqual([{ image: { height: 1, width: 1, codes: [1] } }]);
    expect(tok.decodeIds([tok.boi, tok.eoi])).toEqual([{ image: { height: 1, width: 0, codes: [] } }]);
    const hi = bpe.encode('hi');
    expect(tok.decodeIds([tok.boi, c(5), ...hi])).toEqual([{ image: { height: 1, width: 1, codes: [5] } }, { text: 'hi' }]);
    expect(tok.decodeIds([...hi, c(7), tok.eoi])).toEqual([{ text: 'hi<img_7><eoi>' }]);
    expect(tok.decodeIds([])).toEqual([]);
  });

  test('a character split over tokens decodes whole across dropped specials', () => {
    const robot = bpe.encode('🤖'); // 4 byte tokens
    expect(tok.decodeIds([robot[0], robot[1], tok.pad, robot[2], robot[3]])).toEqual([{ text: '🤖' }]);
  });

  test('bad ids name their index', () => {
    expect(() => tok.decodeIds([1, 2, tok.vocabSize])).toThrow(
      new Error(`decodeIds: id ${tok.vocabSize} at index 2 is not a token id in [0, ${tok.vocabSize})`),
    );
  });
});
