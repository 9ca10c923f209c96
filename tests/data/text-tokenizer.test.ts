/**
 * The shipped text tokenizer (data/tokenizer/tokenizer.json): retraining from the current code and data
 * gives the committed bytes; it round-trips any Unicode string; and it is a sensible English tokenizer.
 */
import fs from 'fs';
import { loadBrown } from '../../kernel-lib/data/brown';
import { defaultTokenizerPath } from '../../kernel-lib/data/paths';
import { loadTextTokenizer, TEXT_VOCAB_SIZE, tokenizerJsonText, trainTextTokenizer } from '../../kernel-lib/data/text-tokenizer';
import { pretokenize } from '../../kernel-lib/tokenizer';
import { randomUnicode, rng } from '../tokenizer/fixtures';

const bpe = loadTextTokenizer();

test('retraining gives the committed tokenizer.json byte for byte (run `npm run data` and commit it if not)', () => {
  const trained = trainTextTokenizer();
  console.log(`text tokenizer: ${trained.texts} texts, ${(trained.bytes / 1e6).toFixed(1)} MB, trained in ${trained.seconds.toFixed(2)} s`);
  expect(trained.bpe.vocabSize).toBe(TEXT_VOCAB_SIZE);
  const fresh = tokenizerJsonText(trained.bpe);
  const committed = fs.readFileSync(defaultTokenizerPath(), 'utf8');
  expect(fresh === committed).toBe(true);
});

test('round trip: 2,500 random Unicode strings (scripts, emoji ZWJ/skin tones, combining marks, whitespace)', () => {
  const rand = rng(4242);
  for (let i = 0; i < 2500; i++) {
    const s = randomUnicode(rand, 40);
    expect(pretokenize(s).join('')).toBe(s);
    const back = bpe.decode(bpe.encode(s));
    if (back !== s) throw new Error(`round trip failed for ${JSON.stringify(s)}: got ${JSON.stringify(back)}`);
  }
  for (const s of ['', ' ', '\ufeff', 'the flag of Côte d’Ivoire 🇨🇮', '👍🏿 thumbs up, dark skin tone', 'a'.repeat(5000)]) {
    expect(bpe.decode(bpe.encode(s))).toBe(s);
  }
});

test('it learned English and caption words: Brown val averages under 2 tokens per word', () => {
  let words = 0;
  let tokens = 0;
  for (const d of loadBrown()) {
    if (d.split !== 'val') continue;
    for (const s of d.paragraphs.flat()) {
      words += s.split(' ').length;
      tokens += bpe.encode(s).length;
      if (bpe.decode(bpe.encode(s)) !== s) throw new Error(`Brown sentence does not round-trip: ${s}`);
    }
  }
  expect(tokens / words).toBeLessThan(2);
  for (const w of [' the', ' emoji', ' left', ' above', ' flag', ' skin', ' tone']) expect(bpe.encode(w)).toHaveLength(1);
});
