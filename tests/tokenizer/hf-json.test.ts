import { ByteLevelBPE } from '../../kernel-lib/tokenizer';
import { ENGLISH, pseudoEnglish, randomUnicode, rng } from './fixtures';
import { naiveEncode } from './reference';

/* eslint-disable @typescript-eslint/no-explicit-any -- tests mutate raw JSON on purpose */

const bpe = ByteLevelBPE.train([ENGLISH, pseudoEnglish(20_000, 3)], { vocabSize: 600 });
/** A fresh, plain-JSON copy of the saved tokenizer, as JSON.parse(file) would give. */
const saved = (): any => JSON.parse(JSON.stringify(bpe.toHF()));
const texts = (): string[] => {
  const rand = rng(5);
  return [ENGLISH, ...Array.from({ length: 200 }, () => randomUnicode(rand))];
};

describe('tokenizer.json save → load', () => {
  test('gives identical ids, merges and vocabulary', () => {
    const loaded = ByteLevelBPE.fromHF(saved());
    expect(loaded.vocabSize).toBe(bpe.vocabSize);
    expect(loaded.merges()).toEqual(bpe.merges());
    for (let id = 0; id < bpe.vocabSize; id++) expect(loaded.idToToken(id)).toBe(bpe.idToToken(id));
    for (const t of texts()) expect(loaded.encode(t)).toEqual(bpe.encode(t));
  });

  test('writes the Hugging Face byte-level BPE layout', () => {
    const json = saved();
    const [a, b] = bpe.merges()[0];
    expect(json.model.type).toBe('BPE');
    expect(json.model.merges[0]).toBe(`${a} ${b}`);
    expect(json.model.merges.length).toBe(bpe.merges().length);
    expect(json.model.vocab['Ġ']).toBe(32);
    expect(Object.keys(json.model.vocab).length).toBe(600);
    expect(json.pre_tokenizer).toEqual({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true });
    expect(json.decoder.type).toBe('ByteLevel');
    expect(json.normalizer).toBeNull();
    expect(json.added_tokens).toEqual([]);
  });

  test('loads merges written as ["a", "b"] pairs (newer tokenizers versions)', () => {
    const json = saved();
    json.model.merges = json.model.merges.map((m: string) => m.split(' '));
    expect(ByteLevelBPE.fromHF(json).merges()).toEqual(bpe.merges());
  });

  test('loads a vocabulary numbered differently from training order (as GPT-2 is)', () => {
    const json = saved();
    const n = bpe.vocabSize;
    for (const token of Object.keys(json.model.vocab)) json.model.vocab[token] = n - 1 - json.model.vocab[token];
    const loaded = ByteLevelBPE.fromHF(json);
    for (const t of texts()) {
      expect(loaded.encode(t)).toEqual(bpe.encode(t).map((id) => n - 1 - id));
      expect(loaded.decode(loaded.encode(t))).toBe(t);
    }
  });

  test('tokens named like Object.prototype members are ordinary keys', () => {
    const merges = ['_ _', 'p r', 'o t', 'pr ot', 'prot o', '__ proto', '__proto __', 'c o', 'co n'];
    const made = ['__', 'pr', 'ot', 'prot', 'proto', '__proto', '__proto__', 'co', 'con'];
    const json = ByteLevelBPE.train([], { vocabSize: 256 }).toHF() as any;
    const text = JSON.stringify(json)
      .replace('"merges":[]', `"merges":${JSON.stringify(merges)}`)
      .replace(/"vocab":\{/, `"vocab":{${made.map((t, i) => `"${t}":${256 + i},`).join('')}`);
    const loaded = ByteLevelBPE.fromHF(JSON.parse(text));
    expect(loaded.tokenToId('__proto__')).toBe(262);
    expect(loaded.tokenToId('constructor')).toBeUndefined();
    const again = JSON.parse(JSON.stringify(loaded.toHF()));
    expect(Object.prototype.hasOwnProperty.call(again.model.vocab, '__proto__')).toBe(true);
    expect(ByteLevelBPE.fromHF(again).tokenToId('__proto__')).toBe(262);
  });

  test('two merges that spell the same token both map to it', () => {
    const json = ByteLevelBPE.train([], { vocabSize: 256 }).toHF() as any;
    Object.assign(json.model.vocab, { ab: 256, bc: 257, abc: 258 });
    json.model.merges = ['b c', 'a b', 'ab c', 'a bc'];
    const t = ByteLevelBPE.fromHF(json);
    for (const s of ['abc', 'xbca', 'aabcc abc']) {
      expect(t.encode(s).map((id) => t.idToToken(id))).toEqual(naiveEncode(s, t.merges()));
      expect(t.decode(t.encode(s))).toBe(s);
    }
    expect(t.encode('abc')).toEqual([258]);
  });
});

describe('tokenizer.json validation', () => {
  test('the file must be an object', () => {
    expect(() => ByteLevelBPE.fromHF(null)).toThrow(new Error('tokenizer.json: expected a JSON object, got null'));
    expect(() => ByteLevelBPE.fromHF([])).toThrow(new Error('tokenizer.json: expected a JSON object, got []'));
  });

  const cases: Array<[string, (j: any) => void, string]> = [
    ['no model', (j) => void delete j.model, 'model must be an object, got undefined'],
    ['WordPiece', (j) => void (j.model.type = 'WordPiece'), 'model.type must be "BPE", got "WordPiece"'],
    ['normalizer', (j) => void (j.normalizer = { type: 'NFC' }), 'normalizer must be null, got {"type":"NFC"}'],
    ['no pre_tokenizer', (j) => void (j.pre_tokenizer = null), 'pre_tokenizer must be an object, got null'],
    ['pre_tokenizer type', (j) => void (j.pre_tokenizer.type = 'Whitespace'), 'pre_tokenizer.type must be "ByteLevel", got "Whitespace"'],
    ['prefix space', (j) => void (j.pre_tokenizer.add_prefix_space = true), 'pre_tokenizer.add_prefix_space must be false, got true'],
    ['prefix space unset', (j) => void delete j.pre_tokenizer.add_prefix_space, 'pre_tokenizer.add_prefix_space must be false, got undefined'],
    ['no regex', (j) => void (j.pre_tokenizer.use_regex = false), 'pre_tokenizer.use_regex must be true, got false'],
    ['decoder', (j) => void (j.decoder = { type: 'WordPiece' }), 'decoder.type must be "ByteLevel", got "WordPiece"'],
    ['dropout', (j) => void (j.model.dropout = 0.1), 'model.dropout must be null, got 0.1'],
    ['prefix', (j) => void (j.model.continuing_subword_prefix = '##'), 'model.continuing_subword_prefix must be null, got "##"'],
    ['suffix', (j) => void (j.model.end_of_word_suffix = '</w>'), 'model.end_of_word_suffix must be null, got "</w>"'],
    ['byte fallback', (j) => void (j.model.byte_fallback = true), 'model.byte_fallback must be false, got true'],
    ['ignore merges', (j) => void (j.model.ignore_merges = true), 'model.ignore_merges must be false, got true'],
    ['vocab array', (j) => void (j.model.vocab = []), 'model.vocab must be an object from token to id, got []'],
    ['negative id', (j) => void (j.model.vocab['Ġthe'] = -1), 'model.vocab["Ġthe"] must be a non-negative integer, got -1'],
    ['string id', (j) => void (j.model.vocab['Ġthe'] = '5'), 'model.vocab["Ġthe"] must be a non-negative integer, got "5"'],
    ['fractional id', (j) => void (j.model.vocab['Ġthe'] = 1.5), 'model.vocab["Ġthe"] must be a non-negative integer, got 1.5'],
    ['id gap', (j) => void (j.model.vocab['Ġthe'] = 100000), 'model.vocab ids must run 0..599 without gaps, got id 100000'],
    ['shared id', (j) => void (j.model.vocab['Ġthe'] = 0), 'model.vocab gives id 0 to both "Ā" and "Ġthe"'],
    [
      'not byte symbols',
      (j) => {
        delete j.model.vocab['Ġthe'];
        j.model.vocab['€'] = bpe.tokenToId('Ġthe');
      },
      `model.vocab token "€" (id ${bpe.tokenToId('Ġthe')}) is not made of byte symbols`,
    ],
    [
      'missing byte',
      (j) => {
        delete j.model.vocab['Ā'];
        j.model.vocab['ĀĀ'] = 0;
      },
      'model.vocab lacks the byte token "Ā" (byte 0x00)',
    ],
    ['merges not array', (j) => void (j.model.merges = 'x'), 'model.merges must be an array, got "x"'],
    ['one token', (j) => void (j.model.merges[12] = 'ab'), 'merge 12 "ab" is not two tokens'],
    ['three tokens', (j) => void (j.model.merges[12] = 'a b c'), 'merge 12 "a b c" is not two tokens'],
    ['double space', (j) => void (j.model.merges[12] = 'a  b'), 'merge 12 "a  b" is not two tokens'],
    ['short pair', (j) => void (j.model.merges[12] = ['a']), 'merge 12 ["a"] is not two tokens'],
    ['unknown left', (j) => void (j.model.merges[12] = 'zzz Ġ'), 'merge 12 "zzz Ġ" uses "zzz", which is not in model.vocab'],
    ['unknown right', (j) => void (j.model.merges[12] = 'Ġ zzz'), 'merge 12 "Ġ zzz" uses "zzz", which is not in model.vocab'],
    ['unmade result', (j) => void (j.model.merges[12] = 'q Ġthe'), 'merge 12 "q Ġthe" makes "qĠthe", which is not in model.vocab'],
    [
      'repeated',
      (j) => void (j.model.merges[12] = j.model.merges[3]),
      `merge 12 ${JSON.stringify(bpe.merges()[3].join(' '))} repeats merge 3`,
    ],
  ];

  test.each(cases)('%s', (_name, mutate, message) => {
    const json = saved();
    mutate(json);
    expect(() => ByteLevelBPE.fromHF(json)).toThrow(new Error(`tokenizer.json: ${message}`));
  });
});
