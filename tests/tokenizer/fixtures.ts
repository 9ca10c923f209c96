/**
 * Test fixtures: a fixed English passage, a seeded pseudo-English generator (Zipf-distributed words,
 * sentences, punctuation, numbers) for training at scale without a corpus, and a seeded PRNG.
 */

/** mulberry32 (the project's seeded PRNG), so every test run sees the same "random" input. */
import { mulberry32 } from '../../kernel-lib/util/random';

export const rng = mulberry32;

export const ENGLISH = `
The experts of a mixture-of-experts layer are ordinary feed-forward networks. A small router looks at
each token and sends it to the few experts it scores highest; the others never see it. That is why such
a model can hold many parameters yet spend little compute on any one token. It's also why the routing
decisions themselves are worth watching: they're a window into what the network thinks a token is.

In the workbench you'll type a prompt, run it, and see which experts fired for every token. Text tokens
and image tokens share one vocabulary, so the same router decides for both. Some experts specialise in
punctuation, some in numbers like 1024 or 3.14159, some in the first word of a sentence, and some only
ever see image codes. We'd like to know whether that specialisation is real or an accident of training.

Training a tokenizer is the first step. Byte-pair encoding starts from the 256 possible bytes and merges
the most frequent adjacent pair again and again until the vocabulary is large enough. The merges are
learned from counts, so the same corpus must always give the same merges, and ties must be broken by a
rule rather than by chance. Nothing is ever unknown: any string, in any script, decodes to itself.
`;

const COMMON = (
  'the of and to a in is it you that he was for on are with as I his they be at one have this from or ' +
  'had by not word but what some we can out other were all there when up use your how said an each she ' +
  'which do their time if will way about many then them write would like so these her long make thing ' +
  'see him two has look more day could go come did number sound no most people my over know water than ' +
  'call first who may down side been now find any new work part take get place made live where after ' +
  'back little only round man year came show every good me give our under name very through just form ' +
  'sentence great think say help low line differ turn cause much mean before move right boy old too ' +
  'same tell does set three want air well also play small end put home read hand port large spell add'
).split(' ');

const ONSETS = ['', 'b', 'c', 'd', 'f', 'g', 'h', 'l', 'm', 'n', 'p', 'r', 's', 't', 'w', 'br', 'ch', 'cl', 'cr', 'dr', 'fl', 'gr', 'pl', 'pr', 'sh', 'sp', 'st', 'str', 'th', 'tr'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'ee', 'ou', 'oo', 'ie'];
const CODAS = ['', '', 'n', 'r', 's', 't', 'l', 'd', 'ng', 'nd', 'st', 'ck', 'ght', 'rt', 'll', 'm'];
const SUFFIXES = ['', '', '', 's', 'ed', 'ing', 'er', 'ly', 'tion', 'ment', 'ness'];

/**
 * Deterministic pseudo-English of about `bytes` characters: words drawn from a Zipf distribution over
 * common English words plus invented English-like ones, in capitalised sentences with commas, quotes,
 * contractions and numbers, split into paragraphs. Word statistics resemble English enough to give
 * BPE realistic work (tens of thousands of distinct words, a heavy head and a long tail).
 */
export function pseudoEnglish(bytes: number, seed = 1): string {
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const invented: string[] = [];
  const seen = new Set(COMMON);
  while (invented.length < 40_000) {
    const syllables = 1 + Math.floor(rand() * 3);
    let w = '';
    for (let s = 0; s < syllables; s++) w += pick(ONSETS) + pick(VOWELS) + pick(CODAS);
    w += pick(SUFFIXES);
    if (!seen.has(w)) {
      seen.add(w);
      invented.push(w);
    }
  }
  const lexicon = [...COMMON, ...invented];
  const cumulative: number[] = [];
  let total = 0;
  for (let r = 0; r < lexicon.length; r++) cumulative.push((total += 1 / (r + 2.7)));
  const word = (): string => {
    const x = rand() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lexicon[lo];
  };

  const out: string[] = [];
  let length = 0;
  while (length < bytes) {
    const sentences = 2 + Math.floor(rand() * 6);
    const para: string[] = [];
    for (let s = 0; s < sentences; s++) {
      const n = 4 + Math.floor(rand() * 18);
      const words: string[] = [];
      for (let i = 0; i < n; i++) {
        const u = rand();
        let w = word();
        if (u < 0.02) w = String(Math.floor(rand() * 2000));
        else if (u < 0.03) w = `${w}'s`;
        else if (u < 0.035) w = `"${w}"`;
        if (i > 1 && i < n - 1 && rand() < 0.06) w += ',';
        words.push(w);
      }
      words[0] = words[0][0].toUpperCase() + words[0].slice(1);
      para.push(words.join(' ') + (rand() < 0.9 ? '.' : '?'));
    }
    const p = para.join(' ');
    out.push(p);
    length += p.length + 2;
  }
  return out.join('\n\n');
}

const cp = (from: number, to: number, rand: () => number): string =>
  String.fromCodePoint(from + Math.floor(rand() * (to - from + 1)));

/** Emoji sequences that are several code points: ZWJ families, skin tones, flags, variation selectors. */
const EMOJI = ['👩‍👩‍👧‍👦', '👨🏽‍💻', '🏳️‍🌈', '🇯🇵', '🇺🇸', '👍🏿', '❤️', '🧑🏻‍🤝‍🧑🏾', '😀', '🤖', '🫠', '✋🏼', '1️⃣', '🐈‍⬛'];

/** One random piece of Unicode from a mix of scripts and awkward cases. */
const PIECES: Array<(rand: () => number) => string> = [
  (r) => cp(0x20, 0x7e, r), // ASCII printable
  (r) => ['the', ' and', ' experts', 'Router', ' token', ' 1024', 'x'][Math.floor(r() * 7)],
  (r) => ["'s", "'ll", "'", "'re", "n't", '"'][Math.floor(r() * 6)],
  (r) => [' ', '  ', '   ', '\t', '\n', '\r\n', '\n\n', ' \n ', '\u00a0', '\u3000', '\u2028', '\v\f'][Math.floor(r() * 12)],
  (r) => cp(0xa1, 0xff, r), // Latin-1
  (r) => cp(0x4e00, 0x9fff, r), // CJK
  (r) => cp(0xac00, 0xd7a3, r), // Hangul syllables
  (r) => cp(0x0627, 0x064a, r) + (r() < 0.3 ? '\u064e' : ''), // Arabic, sometimes with a vowel mark
  (r) => cp(0x0915, 0x0939, r) + (r() < 0.4 ? '\u094d' : ''), // Devanagari, sometimes with virama
  (r) => cp(0x0410, 0x044f, r), // Cyrillic
  (r) => EMOJI[Math.floor(r() * EMOJI.length)],
  (r) => cp(0x1f600, 0x1f64f, r) + (r() < 0.5 ? cp(0x1f3fb, 0x1f3ff, r) : ''), // emoji ± skin tone
  (r) => cp(0x61, 0x7a, r) + cp(0x300, 0x36f, r) + (r() < 0.5 ? cp(0x300, 0x36f, r) : ''), // combining marks
  (r) => cp(0x300, 0x36f, r), // a combining mark with nothing to combine with
  (r) => cp(0x1d400, 0x1d7ff, r), // astral math letters (surrogate pairs)
  (r) => cp(0x30, 0x39, r).repeat(1 + Math.floor(r() * 8)), // digit runs
  (r) => ['\ufeff', '\u200d', '\u200c', '\u200f', '\u202e', '\ufffd', '\u0000'][Math.floor(r() * 7)],
  (r) => cp(0x00, 0x1f, r), // control characters
];

/** A random valid (well-formed UTF-16) string of 0..maxPieces pieces. */
export function randomUnicode(rand: () => number, maxPieces = 30): string {
  const n = Math.floor(rand() * (maxPieces + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(rand() * PIECES.length)](rand);
  return s;
}
