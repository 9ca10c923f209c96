import { ByteLevelBPE, pretokenize, TrainProgress } from '../../kernel-lib/tokenizer';
import { ENGLISH, pseudoEnglish } from './fixtures';
import { gpt2ByteSymbols, naiveEncode, naiveTrain } from './reference';

const corpus = [ENGLISH, ...pseudoEnglish(40_000, 7).split('\n\n')];

describe('pretokenize (GPT-2 pattern)', () => {
  test('splits contractions, glued spaces, numbers, punctuation and whitespace runs', () => {
    expect(pretokenize("Hello world's  end, 3.14!\n\nok")).toEqual([
      'Hello', ' world', "'s", ' ', ' end', ',', ' 3', '.', '14', '!', '\n', '\n', 'ok',
    ]);
    expect(pretokenize('naïve 東京 ok')).toEqual(['naïve', ' 東京', ' ok']);
    expect(pretokenize('')).toEqual([]);
  });

  test('pieces tile the input', () => {
    const s = "  We'll  see:\t\tcafé ☕ 12ab  \n";
    expect(pretokenize(s).join('')).toBe(s);
  });
});

describe('ByteLevelBPE.train', () => {
  const bpe = ByteLevelBPE.train(corpus, { vocabSize: 700 });

  test('is deterministic, and independent of text order', () => {
    const again = ByteLevelBPE.train(corpus, { vocabSize: 700 });
    const reversed = ByteLevelBPE.train(corpus.slice().reverse(), { vocabSize: 700 });
    expect(again.merges()).toEqual(bpe.merges());
    expect(reversed.merges()).toEqual(bpe.merges());
  });

  test('learns exactly the merges of a recount-everything reference trainer', () => {
    expect(bpe.merges()).toEqual(naiveTrain(corpus, 700));
  });

  test('ties go to the lexicographically first (left, right) pair', () => {
    // Each of "ab", "cd", "ba" occurs 3 times; 'a' < 'b' < 'c' so a+b, then b+a, then c+d.
    const tied = ByteLevelBPE.train(['cd ba ab cd ba ab cd ba ab'], { vocabSize: 256 + 3 });
    expect(tied.merges().slice(0, 3)).toEqual([['a', 'b'], ['b', 'a'], ['c', 'd']]);
  });

  test('reaches vocabSize, with the 256 bytes as ids 0..255', () => {
    expect(bpe.vocabSize).toBe(700);
    const symbols = gpt2ByteSymbols();
    for (let b = 0; b < 256; b++) expect(bpe.idToToken(b)).toBe(symbols[b]);
    expect(bpe.idToToken(32)).toBe('Ġ');
    expect(bpe.idToToken(10)).toBe('Ċ');
    expect(bpe.tokenToId('Ġ')).toBe(32);
    expect(bpe.tokenToId('no such token')).toBeUndefined();
    expect(bpe.encode(' the')).toEqual([bpe.tokenToId('Ġthe')]);
  });

  test('stops early when no pair reaches minFrequency', () => {
    // a+b occurs twice; every other pair once.
    const small = ByteLevelBPE.train(['abab cd'], { vocabSize: 1000 });
    expect(small.merges()).toEqual([['a', 'b']]);
    expect(small.vocabSize).toBe(257);
    const all = ByteLevelBPE.train(['abab cd'], { vocabSize: 1000, minFrequency: 1 });
    expect(all.vocabSize).toBeGreaterThan(257);
  });

  test('reports progress, ending at the target', () => {
    const seen: TrainProgress[] = [];
    ByteLevelBPE.train(corpus, { vocabSize: 556, onProgress: (p) => seen.push(p) });
    expect(seen.length).toBeGreaterThan(10);
    expect(seen[seen.length - 1]).toEqual({ merges: 300, target: 300 });
    for (let i = 1; i < seen.length; i++) expect(seen[i].merges).toBeGreaterThan(seen[i - 1].merges);
  });

  test('rejects bad options with the field named', () => {
    expect(() => ByteLevelBPE.train([], { vocabSize: 100 })).toThrow(
      'train: vocabSize must be an integer in [256, 16777216], got 100',
    );
    expect(() => ByteLevelBPE.train([], { vocabSize: 300.5 })).toThrow(
      'train: vocabSize must be an integer in [256, 16777216], got 300.5',
    );
    expect(() => ByteLevelBPE.train([], { vocabSize: 300, minFrequency: 0 })).toThrow(
      'train: minFrequency must be a positive integer, got 0',
    );
    expect(() => ByteLevelBPE.train([42 as unknown as string], { vocabSize: 300 })).toThrow(
      'train: texts must be strings, got number',
    );
  });

  test('an empty corpus gives the 256 byte tokens', () => {
    const empty = ByteLevelBPE.train([], { vocabSize: 300 });
    expect(empty.vocabSize).toBe(256);
    expect(empty.decode(empty.encode('any text ✓'))).toBe('any text ✓');
  });
});

describe('ByteLevelBPE.encode / decode', () => {
  const bpe = ByteLevelBPE.train(corpus, { vocabSize: 1000 });

  test('agrees with the GPT-2 reference encoder', () => {
    const merges = bpe.merges();
    for (const text of [ENGLISH, pseudoEnglish(20_000, 99), "It's 2024: naïve café, 東京 👍🏽 ok?"]) {
      expect(bpe.encode(text).map((id) => bpe.idToToken(id))).toEqual(naiveEncode(text, merges));
    }
  });

  test('compresses English and round-trips it', () => {
    const ids = bpe.encode(ENGLISH);
    expect(ids.length).toBeLessThan(ENGLISH.length / 2);
    expect(bpe.decode(ids)).toBe(ENGLISH);
  });

  test('the word cache gives the same ids as a fresh encode', () => {
    const fresh = ByteLevelBPE.fromHF(bpe.toHF());
    const text = pseudoEnglish(5000, 3);
    expect(bpe.encode(text)).toEqual(fresh.encode(text));
    expect(bpe.encode(text)).toEqual(fresh.encode(text)); // second call: every word cached
  });

  test('a very long single pre-token is fast (no quadratic merging)', () => {
    const digits = '7381902645'.repeat(20_000); // one 200k-character \p{N}+ piece
    const start = Date.now();
    const ids = bpe.encode(digits);
    expect(Date.now() - start).toBeLessThan(5000);
    expect(bpe.decode(ids)).toBe(digits);
  });

  test('empty text is no tokens', () => {
    expect(bpe.encode('')).toEqual([]);
    expect(bpe.decode([])).toBe('');
  });

  test('a character split across tokens decodes whole, or as U+FFFD when cut', () => {
    const ids = bpe.encode('🤖');
    expect(ids.length).toBe(4); // four UTF-8 bytes, no merges learned for them
    expect(bpe.decode(ids)).toBe('🤖');
    expect(bpe.decode(ids.slice(0, 2))).toBe('\ufffd');
  });

  test('bad ids are errors naming the index', () => {
    expect(() => bpe.decode([1, 2, 1000])).toThrow('decode: id 1000 at index 2 is not a token id in [0, 1000)');
    expect(() => bpe.decode([-1])).toThrow('decode: id -1 at index 0 is not a token id in [0, 1000)');
    expect(() => bpe.decode([0.5])).toThrow('decode: id 0.5 at index 0 is not a token id in [0, 1000)');
    expect(() => bpe.idToToken(1000)).toThrow('idToToken: id 1000 is not a token id in [0, 1000)');
  });
});
