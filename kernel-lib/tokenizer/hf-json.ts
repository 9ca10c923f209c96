/**
 * The Hugging Face `tokenizer.json` format for a byte-level BPE: writing it, and reading it back with
 * validation. Only the parts that decide how text becomes ids are checked (model, normalizer,
 * pre_tokenizer, decoder); a file that would tokenize differently here than in `tokenizers` is refused
 * with a message that names the offending field, instead of loading and silently disagreeing.
 * `added_tokens` belong to MultimodalTokenizer (see added-tokens.ts); this file only writes the list.
 */
import { BYTE_TO_CHAR, symbolsToBytes } from './bytes';
import { MAX_VOCAB, pairKey } from './train';

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

interface ByteLevelJson {
  type: 'ByteLevel';
  add_prefix_space: false;
  trim_offsets: boolean;
  use_regex: boolean;
}

export interface TokenizerJson {
  version: '1.0';
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: null;
  pre_tokenizer: ByteLevelJson;
  post_processor: null;
  decoder: ByteLevelJson;
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: false;
    byte_fallback: false;
    ignore_merges: false;
    /** Token spelling (GPT-2 byte symbols) → id. */
    vocab: Record<string, number>;
    /** "left right", highest priority first. */
    merges: string[];
  };
}

/** What a BPE is made of: token spellings by id, and merges as id pairs in priority order. */
export interface BPEParts {
  tokens: string[];
  merges: Array<[number, number]>;
}

export function bpeToJson({ tokens, merges }: BPEParts): TokenizerJson {
  // No prototype, so a token spelled "__proto__" or "constructor" is an ordinary key.
  const vocab = Object.create(null) as Record<string, number>;
  tokens.forEach((t, id) => (vocab[t] = id));
  const byteLevel = (): ByteLevelJson => ({
    type: 'ByteLevel',
    add_prefix_space: false,
    trim_offsets: true,
    use_regex: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: byteLevel(),
    post_processor: null,
    decoder: byteLevel(),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${tokens[a]} ${tokens[b]}`),
    },
  };
}

export function fail(message: string): never {
  throw new Error(`tokenizer.json: ${message}`);
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A value as it would appear in the JSON, shortened for error messages. */
export function show(x: unknown): string {
  if (x === undefined) return 'undefined';
  if (typeof x === 'number') return String(x); // JSON would print NaN and Infinity as null
  if (ArrayBuffer.isView(x)) return x.constructor.name; // "Int32Array", not its bytes as an object
  const s = JSON.stringify(x) ?? String(x);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Options that change tokenization; each must be absent or one of the neutral values. */
function mustBe(value: unknown, neutral: unknown[], field: string, wanted: string): void {
  if (!neutral.includes(value)) fail(`${field} must be ${wanted}, got ${show(value)}`);
}

function checkByteLevel(x: unknown, field: string): Record<string, unknown> {
  if (!isObject(x)) fail(`${field} must be an object, got ${show(x)}`);
  if (x.type !== 'ByteLevel') fail(`${field}.type must be "ByteLevel", got ${show(x.type)}`);
  return x;
}

function checkPipeline(json: Record<string, unknown>, model: Record<string, unknown>): void {
  mustBe(json.normalizer, [null, undefined], 'normalizer', 'null');
  const pre = checkByteLevel(json.pre_tokenizer, 'pre_tokenizer');
  // Stated explicitly: `tokenizers` defaults add_prefix_space to true when it is missing.
  mustBe(pre.add_prefix_space, [false], 'pre_tokenizer.add_prefix_space', 'false');
  mustBe(pre.use_regex, [true, undefined], 'pre_tokenizer.use_regex', 'true');
  checkByteLevel(json.decoder, 'decoder');
  mustBe(model.dropout, [null, undefined, 0], 'model.dropout', 'null');
  mustBe(model.continuing_subword_prefix, [null, undefined, ''], 'model.continuing_subword_prefix', 'null');
  mustBe(model.end_of_word_suffix, [null, undefined, ''], 'model.end_of_word_suffix', 'null');
  mustBe(model.byte_fallback, [false, undefined], 'model.byte_fallback', 'false');
  mustBe(model.ignore_merges, [false, undefined], 'model.ignore_merges', 'false');
}

function parseVocab(vocab: unknown): string[] {
  if (!isObject(vocab)) fail(`model.vocab must be an object from token to id, got ${show(vocab)}`);
  const entries = Object.entries(vocab);
  const n = entries.length;
  if (n > MAX_VOCAB) fail(`model.vocab has ${n} tokens; at most ${MAX_VOCAB} are supported`);
  const tokens = new Array<string | undefined>(n);
  for (const [token, id] of entries) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      fail(`model.vocab[${show(token)}] must be a non-negative integer, got ${show(id)}`);
    }
    // n distinct ids, all below n, cover 0..n-1 exactly.
    if (id >= n) fail(`model.vocab ids must run 0..${n - 1} without gaps, got id ${id}`);
    const other = tokens[id];
    if (other !== undefined) fail(`model.vocab gives id ${id} to both ${show(other)} and ${show(token)}`);
    tokens[id] = token;
  }
  const dense = tokens as string[];
  dense.forEach((t, id) => {
    if (symbolsToBytes(t) === null) fail(`model.vocab token ${show(t)} (id ${id}) is not made of byte symbols`);
  });
  const present = new Set(dense);
  BYTE_TO_CHAR.forEach((c, b) => {
    if (!present.has(c)) {
      fail(`model.vocab lacks the byte token ${show(c)} (byte 0x${b.toString(16).padStart(2, '0')})`);
    }
  });
  return dense;
}

function parseMerges(merges: unknown, tokens: string[]): Array<[number, number]> {
  if (!Array.isArray(merges)) fail(`model.merges must be an array, got ${show(merges)}`);
  const ids = new Map(tokens.map((t, id) => [t, id]));
  const seen = new Map<number, number>(); // pair → index of its first merge
  return merges.map((m: unknown, i): [number, number] => {
    // "a b" is the classic form; newer `tokenizers` versions write ["a", "b"]. Both load.
    let parts: string[] | null = null;
    if (typeof m === 'string') {
      const s = m.split(' ');
      if (s.length === 2 && s[0] !== '' && s[1] !== '') parts = s;
    } else if (Array.isArray(m) && m.length === 2 && m.every((p) => typeof p === 'string')) {
      parts = m as string[];
    }
    if (parts === null) fail(`merge ${i} ${show(m)} is not two tokens`);
    const [left, right] = parts;
    const a = ids.get(left);
    if (a === undefined) fail(`merge ${i} ${show(m)} uses ${show(left)}, which is not in model.vocab`);
    const b = ids.get(right);
    if (b === undefined) fail(`merge ${i} ${show(m)} uses ${show(right)}, which is not in model.vocab`);
    if (!ids.has(left + right)) {
      fail(`merge ${i} ${show(m)} makes ${show(left + right)}, which is not in model.vocab`);
    }
    const key = pairKey(a, b, tokens.length);
    const first = seen.get(key);
    if (first !== undefined) fail(`merge ${i} ${show(m)} repeats merge ${first}`);
    seen.set(key, i);
    return [a, b];
  });
}

/** Validates a parsed tokenizer.json and returns its BPE; throws `tokenizer.json: <what is wrong>`. */
export function bpeFromJson(json: unknown): BPEParts {
  if (!isObject(json)) fail(`expected a JSON object, got ${show(json)}`);
  const model = json.model;
  if (!isObject(model)) fail(`model must be an object, got ${show(model)}`);
  if (model.type !== 'BPE') fail(`model.type must be "BPE", got ${show(model.type)}`);
  checkPipeline(json, model);
  const tokens = parseVocab(model.vocab);
  return { tokens, merges: parseMerges(model.merges, tokens) };
}
