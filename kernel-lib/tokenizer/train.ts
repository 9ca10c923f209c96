/**
 * Byte-level BPE training. Learns merges over UTF-8 bytes: token ids 0..255 are the bytes themselves and
 * each merge adds the concatenation of its two tokens as the next id. Should a merge ever spell a string
 * that is already a token (`ab`+`c` after `a`+`bc`), it reuses that id, as Hugging Face's trainer does,
 * so the vocabulary never holds one string twice.
 *
 * Speed comes from two standard tricks (the ones Hugging Face `tokenizers` uses):
 *  - words are counted once (a million words of English hold only tens of thousands of distinct pre-tokens), so a merge touches
 *    each distinct word once, weighted by its frequency, instead of every occurrence in the corpus;
 *  - pair counts are updated incrementally: a merge only visits the words that contain the pair (an
 *    index from pair to words) and adjusts the counts of the pairs in those words. The most frequent
 *    pair comes from a heap with lazy deletion (stale entries are skipped when popped).
 */
import { Heap } from './heap';
import { BYTE_TO_CHAR, PRETOKENIZE, utf8Encode } from './bytes';

export interface TrainProgress {
  /** Tokens learned so far (vocabulary size − 256). */
  merges: number;
  /** Tokens to learn: vocabSize − 256. */
  target: number;
}

export interface TrainOptions {
  /** BPE vocabulary size: the 256 byte tokens plus the merges. Specials are not counted here. */
  vocabSize: number;
  /**
   * Pairs seen fewer times than this are never merged; training stops early (a smaller vocabulary than
   * asked) when no pair is that frequent. Default 2: a pair seen once memorises a word, it does not
   * generalise.
   */
  minFrequency?: number;
  /** Called about every 1% of the target and once at the end. */
  onProgress?: (info: TrainProgress) => void;
}

/** Largest vocabulary supported: a pair of ids must pack into one exact float64 key. */
export const MAX_VOCAB = 1 << 24;

/**
 * One number for the pair (a, b) of ids below `base`. Keyed by number rather than string so Map lookups
 * are cheap; with base = vocabulary size, keys stay small integers (no boxed doubles, little garbage)
 * for vocabularies up to 32k.
 */
export function pairKey(a: number, b: number, base: number): number {
  return a * base + b;
}

interface Candidate {
  a: number;
  b: number;
  count: number;
}

/** Merges `a b` → `c` left to right; null when the word does not contain the pair. */
function mergeWord(word: number[], a: number, b: number, c: number): number[] | null {
  let out: number[] | null = null;
  for (let i = 0; i < word.length; i++) {
    if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
      if (out === null) out = word.slice(0, i);
      out.push(c);
      i++;
    } else if (out !== null) {
      out.push(word[i]);
    }
  }
  return out;
}

function checkOptions(opts: TrainOptions): number {
  const { vocabSize, minFrequency = 2 } = opts;
  if (!Number.isInteger(vocabSize) || vocabSize < 256 || vocabSize > MAX_VOCAB) {
    throw new Error(`train: vocabSize must be an integer in [256, ${MAX_VOCAB}], got ${vocabSize}`);
  }
  if (!Number.isInteger(minFrequency) || minFrequency < 1) {
    throw new Error(`train: minFrequency must be a positive integer, got ${minFrequency}`);
  }
  return minFrequency;
}

/** Counts pre-tokens and returns the distinct ones (as byte-id arrays) with their frequencies. */
function countWords(texts: Iterable<string>): { words: number[][]; freqs: number[] } {
  const counts = new Map<string, number>();
  for (const text of texts) {
    if (typeof text !== 'string') throw new Error(`train: texts must be strings, got ${typeof text}`);
    for (const m of text.matchAll(PRETOKENIZE)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  }
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [w, f] of counts) {
    const bytes = utf8Encode(w);
    if (bytes.length < 2) continue; // no pairs: nothing to learn from it
    words.push(Array.from(bytes));
    freqs.push(f);
  }
  return { words, freqs };
}

/**
 * Learns merges, most frequent pair first. Ties go to the pair whose (left, right) tokens come first
 * lexicographically in their tokenizer.json spelling (code-unit order), so the result does not depend
 * on the order of the texts or on Map iteration order: the same corpus always gives the same merges.
 */
export function learnMerges(
  texts: Iterable<string>,
  opts: TrainOptions,
): { tokens: string[]; merges: Array<[number, number]> } {
  const minFrequency = checkOptions(opts);
  const target = opts.vocabSize - 256;
  const { words, freqs } = countWords(texts);

  const tokens: string[] = BYTE_TO_CHAR.slice(); // tokenizer.json spelling of each id
  const idOf = new Map(tokens.map((t, id) => [t, id]));
  const before = (x: Candidate, y: Candidate): boolean => {
    if (x.count !== y.count) return x.count > y.count;
    if (x.a !== y.a) return tokens[x.a] < tokens[y.a];
    return tokens[x.b] < tokens[y.b];
  };

  const base = opts.vocabSize;
  const pairCount = new Map<number, number>();
  // Pair → words that may contain it: a superset, possibly with repeats (cheaper than a Set; a word
  // seen again no longer contains the pair, so mergeWord skips it).
  const where = new Map<number, number[]>();
  const noteWord = (key: number, w: number): void => {
    const list = where.get(key);
    if (list === undefined) where.set(key, [w]);
    else list.push(w);
  };
  words.forEach((word, w) => {
    for (let i = 0; i + 1 < word.length; i++) {
      const key = pairKey(word[i], word[i + 1], base);
      pairCount.set(key, (pairCount.get(key) ?? 0) + freqs[w]);
      noteWord(key, w);
    }
  });
  const heap = new Heap<Candidate>(before);
  for (const [key, count] of pairCount) {
    heap.push({ a: Math.floor(key / base), b: key % base, count });
  }

  const merges: Array<[number, number]> = [];
  const every = Math.max(1, Math.floor(target / 100));
  while (tokens.length < opts.vocabSize) {
    const best = heap.pop();
    if (best === undefined) break; // every word is a single token
    const key = pairKey(best.a, best.b, base);
    if (pairCount.get(key) !== best.count) continue; // stale entry
    if (best.count < minFrequency) break; // the best pair is too rare, so all are

    const { a, b } = best;
    const spelling = tokens[a] + tokens[b];
    let c = idOf.get(spelling);
    if (c === undefined) {
      c = tokens.length;
      tokens.push(spelling);
      idOf.set(spelling, c);
    }
    merges.push([a, b]);
    const affected = where.get(key) ?? [];
    pairCount.delete(key);
    where.delete(key);

    // Net change of each pair's count over all affected words: replacing a word's pairs by those of
    // its merged form. Only pairs next to the new token are new to a word, so only they join `where`.
    const delta = new Map<number, number>();
    for (const w of affected) {
      const old = words[w];
      const merged = mergeWord(old, a, b, c);
      if (merged === null) continue;
      const f = freqs[w];
      for (let i = 0; i + 1 < old.length; i++) {
        const k = pairKey(old[i], old[i + 1], base);
        delta.set(k, (delta.get(k) ?? 0) - f);
      }
      for (let i = 0; i + 1 < merged.length; i++) {
        const k = pairKey(merged[i], merged[i + 1], base);
        delta.set(k, (delta.get(k) ?? 0) + f);
        if (merged[i] === c || merged[i + 1] === c) noteWord(k, w);
      }
      words[w] = merged;
    }
    for (const [k, d] of delta) {
      if (d === 0 || k === key) continue;
      const count = (pairCount.get(k) ?? 0) + d;
      if (count <= 0) {
        pairCount.delete(k);
        where.delete(k);
      } else {
        pairCount.set(k, count);
        heap.push({ a: Math.floor(k / base), b: k % base, count });
      }
    }
    const learned = tokens.length - 256;
    if (opts.onProgress && learned % every === 0 && learned < target && c === tokens.length - 1) {
      opts.onProgress({ merges: learned, target });
    }
  }
  opts.onProgress?.({ merges: tokens.length - 256, target });
  return { tokens, merges };
}
