/**
 * Independent, deliberately naive references for the tokenizer tests: GPT-2's byte table written out
 * from its definition, BPE training that recounts every pair after every merge, and GPT-2's O(n²)
 * `bpe()` word encoder. The library's fast versions must agree with these exactly.
 */
import { pretokenize } from '../../kernel-lib/tokenizer';

/** GPT-2 bytes_to_unicode, as in its encoder.py. */
export function gpt2ByteSymbols(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table: string[] = [];
  bs.forEach((b, i) => (table[b] = String.fromCharCode(cs[i])));
  return table;
}

const SYMBOLS = gpt2ByteSymbols();
const symbolsOf = (word: string): string[] => Array.from(new TextEncoder().encode(word), (b) => SYMBOLS[b]);

/** Merge every occurrence of a b, left to right. */
function mergeAll(word: string[], a: string, b: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < word.length; ) {
    if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
      out.push(a + b);
      i += 2;
    } else {
      out.push(word[i++]);
    }
  }
  return out;
}

/** Recount-everything BPE training with the documented tie-break (lexicographic (left, right)). */
export function naiveTrain(texts: string[], vocabSize: number, minFrequency = 2): Array<[string, string]> {
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of pretokenize(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
  let words = [...counts].map(([w, f]) => ({ syms: symbolsOf(w), f }));
  const vocab = new Set(SYMBOLS);
  const merges: Array<[string, string]> = [];
  while (vocab.size < vocabSize) {
    const pairs = new Map<string, { a: string; b: string; count: number }>();
    for (const { syms, f } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const key = `${syms[i]} ${syms[i + 1]}`;
        const p = pairs.get(key) ?? { a: syms[i], b: syms[i + 1], count: 0 };
        p.count += f;
        pairs.set(key, p);
      }
    }
    let best: { a: string; b: string; count: number } | undefined;
    for (const p of pairs.values()) {
      if (
        best === undefined ||
        p.count > best.count ||
        (p.count === best.count && (p.a < best.a || (p.a === best.a && p.b < best.b)))
      ) {
        best = p;
      }
    }
    if (best === undefined || best.count < minFrequency) break;
    const { a, b } = best;
    merges.push([a, b]);
    vocab.add(a + b);
    words = words.map(({ syms, f }) => ({ syms: mergeAll(syms, a, b), f }));
  }
  return merges;
}

/** GPT-2's encoder: per pre-token, merge the lowest-ranked adjacent pair until none applies. */
export function naiveEncode(text: string, merges: Array<[string, string]>): string[] {
  const ranks = new Map(merges.map(([a, b], i) => [`${a} ${b}`, i]));
  const out: string[] = [];
  for (const piece of pretokenize(text)) {
    let word = symbolsOf(piece);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const r = ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      word = mergeAll(word, word[best], word[best + 1]);
    }
    out.push(...word);
  }
  return out;
}
