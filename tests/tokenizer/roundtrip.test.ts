import { ByteLevelBPE, pretokenize } from '../../kernel-lib/tokenizer';
import { ENGLISH, pseudoEnglish, randomUnicode, rng } from './fixtures';
import { naiveEncode } from './reference';

// Trained on English plus random multilingual text, so that merges inside (and across) multi-byte
// characters exist and decode must reassemble characters split over tokens.
const training = [ENGLISH, pseudoEnglish(30_000, 5)];
const trainRand = rng(11);
for (let i = 0; i < 3000; i++) training.push(randomUnicode(trainRand));
const bpe = ByteLevelBPE.train(training, { vocabSize: 1500 });

describe('round trip: decode(encode(s)) === s', () => {
  test('2,500 random Unicode strings (scripts, emoji ZWJ/skin tones, combining marks, whitespace)', () => {
    const rand = rng(2024);
    let chars = 0;
    for (let i = 0; i < 2500; i++) {
      const s = randomUnicode(rand, 40);
      chars += s.length;
      expect(pretokenize(s).join('')).toBe(s);
      const ids = bpe.encode(s);
      const back = bpe.decode(ids); // also range-checks every id
      if (back !== s) throw new Error(`round trip failed for ${JSON.stringify(s)}: got ${JSON.stringify(back)}`);
    }
    expect(chars).toBeGreaterThan(50_000);
  });

  test('the tokenizer learned merges inside multi-byte characters', () => {
    const multiByte = bpe.merges().filter(([a, b]) => /[^\x21-\x7eĠĊ]/.test(a + b));
    expect(multiByte.length).toBeGreaterThan(20);
  });

  test('random strings encode as the GPT-2 reference does', () => {
    const rand = rng(7);
    const merges = bpe.merges();
    for (let i = 0; i < 300; i++) {
      const s = randomUnicode(rand, 40);
      expect(bpe.encode(s).map((id) => bpe.idToToken(id))).toEqual(naiveEncode(s, merges));
    }
  });

  test('edge strings', () => {
    const cases = [
      '',
      ' ',
      '\ufeffstarts with a BOM', // TextDecoder would strip a leading BOM unless told not to
      '\ufeff',
      '\u0000\u0001\u007f',
      'e\u0301\u0302\u0303', // stacked combining marks
      '👩‍👩‍👧‍👦👨🏽‍💻🏳️‍🌈🇯🇵',
      '\n\n\n   \t\t  \r\n',
      "don't won't it's 'tis ''",
      '\u00a0\u2028\u2029\u3000',
      '𝒜𝓑𝔠 𐍈 🀄',
      'a'.repeat(10_000),
    ];
    for (const s of cases) expect(bpe.decode(bpe.encode(s))).toBe(s);
  });

  test('lone surrogates are not valid UTF-16: they come back as U+FFFD', () => {
    expect(bpe.decode(bpe.encode('a\ud800b'))).toBe('a\ufffdb');
    expect(bpe.decode(bpe.encode('\udc00'))).toBe('\ufffd');
    expect(bpe.decode(bpe.encode('x\ud83d'))).toBe('x\ufffd'); // the high half of an emoji
  });
});
