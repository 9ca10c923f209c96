/**
 * ByteLevelBPE: GPT-2 style byte-level BPE. Text is split by GPT-2's pre-tokenizer regex, each piece is
 * UTF-8 encoded, and merges are applied within the piece. The base vocabulary is the 256 bytes, so no
 * input is unknown and decode(encode(s)) === s for every valid string. (A lone surrogate is not valid
 * UTF-16; UTF-8 has no encoding for it, so it comes back as U+FFFD.)
 *
 * Ids: in a trained tokenizer ids 0..255 are the bytes 0x00..0xff and 256.. the learned tokens in the
 * order they were learned. A loaded tokenizer.json may number them differently (GPT-2's does); nothing
 * here assumes the trained numbering.
 */
import { Heap } from './heap';
import { pretokenize, symbolsToBytes, utf8Decode, utf8Encode } from './bytes';
import { learnMerges, pairKey, TrainOptions } from './train';
import { BPEParts, bpeFromJson, bpeToJson, TokenizerJson } from './hf-json';

/** Words longer than this are encoded without caching (a long run of symbols is rarely repeated). */
const CACHE_WORD_MAX = 64;
/** The cache is dropped when it reaches this many words, bounding memory on endless input. */
const CACHE_SIZE_MAX = 100_000;

interface Candidate {
  rank: number;
  pos: number;
}

export class ByteLevelBPE {
  private readonly tokens: readonly string[];
  private readonly tokenBytes: readonly Uint8Array[];
  private readonly ids: ReadonlyMap<string, number>;
  /** Id of the single-byte token for each byte value. */
  private readonly byteIds: Int32Array;
  private readonly mergePairs: ReadonlyArray<readonly [number, number]>;
  /** Pair → rank (index in the merge list; lower merges first). */
  private readonly ranks: ReadonlyMap<number, number>;
  /** Rank → id of the merged token. */
  private readonly mergedIds: Int32Array;
  private readonly cache = new Map<string, number[]>();

  /** Use train() or fromHF(); the parts must already be consistent (both of those check). */
  private constructor({ tokens, merges }: BPEParts) {
    this.tokens = tokens;
    this.ids = new Map(tokens.map((t, id) => [t, id]));
    this.tokenBytes = tokens.map((t) => symbolsToBytes(t) as Uint8Array);
    this.byteIds = new Int32Array(256);
    this.tokenBytes.forEach((bytes, id) => {
      if (bytes.length === 1) this.byteIds[bytes[0]] = id;
    });
    this.mergePairs = merges;
    this.ranks = new Map(merges.map(([a, b], rank) => [pairKey(a, b, tokens.length), rank]));
    this.mergedIds = Int32Array.from(merges, ([a, b]) => this.ids.get(tokens[a] + tokens[b]) as number);
  }

  /** Learns a vocabulary of `vocabSize` tokens from `texts` (see TrainOptions; deterministic). */
  static train(texts: Iterable<string>, options: TrainOptions): ByteLevelBPE {
    return new ByteLevelBPE(learnMerges(texts, options));
  }

  /** Loads a Hugging Face tokenizer.json (its added_tokens are ignored here); throws naming what is wrong. */
  static fromHF(json: unknown): ByteLevelBPE {
    return new ByteLevelBPE(bpeFromJson(json));
  }

  /** The Hugging Face tokenizer.json object (JSON.stringify it to save). */
  toHF(): TokenizerJson {
    return bpeToJson({ tokens: this.tokens.slice(), merges: this.mergePairs.map(([a, b]) => [a, b]) });
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  /** The merges in priority order, spelled as in tokenizer.json. */
  merges(): Array<[string, string]> {
    return this.mergePairs.map(([a, b]) => [this.tokens[a], this.tokens[b]]);
  }

  /** The token's tokenizer.json spelling (GPT-2 byte symbols: " the" is "Ġthe"). */
  idToToken(id: number): string {
    this.checkId(id, `idToToken: id ${id}`);
    return this.tokens[id];
  }

  /** Inverse of idToToken; undefined for a string that is not a token. */
  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  encode(text: string): number[] {
    const out: number[] = [];
    for (const word of pretokenize(text)) {
      const cached = this.cache.get(word);
      if (cached !== undefined) {
        for (const id of cached) out.push(id);
        continue;
      }
      const ids = this.encodeWord(word);
      if (word.length <= CACHE_WORD_MAX) {
        if (this.cache.size >= CACHE_SIZE_MAX) this.cache.clear();
        this.cache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
    return out;
  }

  /**
   * Text of a sequence of ids. Bytes are joined before UTF-8 decoding, so a character split over
   * several tokens comes back whole; a sequence that ends mid-character gives U+FFFD.
   */
  decode(ids: ArrayLike<number>): string {
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      this.checkId(ids[i], `decode: id ${ids[i]} at index ${i}`);
      total += this.tokenBytes[ids[i]].length;
    }
    const bytes = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < ids.length; i++) {
      bytes.set(this.tokenBytes[ids[i]], at);
      at += this.tokenBytes[ids[i]].length;
    }
    return utf8Decode(bytes);
  }

  private checkId(id: number, what: string): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.tokens.length) {
      throw new Error(`${what} is not a token id in [0, ${this.tokens.length})`);
    }
  }

  /**
   * Applies merges to one pre-token: repeatedly merge the adjacent pair with the lowest rank, leftmost
   * first (the order GPT-2 and `tokenizers` use). Symbols live in a linked list and candidate merges in
   * a heap, so a word of n bytes costs O(n log n) rather than GPT-2's O(n²) rescans, which matters for
   * long runs of digits or punctuation.
   */
  private encodeWord(word: string): number[] {
    const bytes = utf8Encode(word);
    const n = bytes.length;
    const sym = Int32Array.from(bytes, (b) => this.byteIds[b]); // -1 once merged into its left neighbour
    if (n < 2) return Array.from(sym);
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
    const heap = new Heap<Candidate>((x, y) => (x.rank !== y.rank ? x.rank < y.rank : x.pos < y.pos));
    const rankAt = (pos: number, j: number): number | undefined =>
      this.ranks.get(pairKey(sym[pos], sym[j], this.tokens.length));
    const consider = (pos: number): void => {
      const j = next[pos];
      if (j < 0) return;
      const rank = rankAt(pos, j);
      if (rank !== undefined) heap.push({ rank, pos });
    };
    for (let i = 0; i + 1 < n; i++) consider(i);

    for (let c = heap.pop(); c !== undefined; c = heap.pop()) {
      const { rank, pos } = c;
      const j = next[pos];
      // Stale when either symbol has been merged since; a rank names one pair, so equal rank = same pair.
      if (sym[pos] < 0 || j < 0 || rankAt(pos, j) !== rank) continue;
      sym[pos] = this.mergedIds[rank];
      sym[j] = -1;
      next[pos] = next[j];
      if (next[j] >= 0) prev[next[j]] = pos;
      if (prev[pos] >= 0) consider(prev[pos]);
      consider(pos);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(sym[i]); // position 0 is never merged away
    return out;
  }
}
