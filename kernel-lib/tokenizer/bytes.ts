/**
 * Byte-level plumbing shared by training, encoding and tokenizer.json: GPT-2's byte↔character table,
 * GPT-2's pre-tokenizer regex, and UTF-8 conversion.
 *
 * Internally a token is a byte string (text is UTF-8 encoded before BPE sees it), so nothing is ever
 * unknown and any string round-trips. The byte↔character table exists only to write tokens as JSON
 * keys and merges as "a b" lines, the way GPT-2's vocab.json / merges.txt and Hugging Face do.
 */

/**
 * GPT-2's `bytes_to_unicode`: every byte gets a printable, non-space character. Printable Latin-1 bytes
 * (`!`..`~`, `¡`..`¬`, `®`..`ÿ`: 188 of them) stand for themselves; the other 68 (controls, space, DEL,
 * NBSP, soft hyphen) take U+0100 upwards in byte order, so space is `Ġ` and newline `Ċ`. Because no
 * symbol is a space, a merge line "a b" splits unambiguously.
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const table: string[] = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : next++);
  }
  return table;
})();

/** Inverse of BYTE_TO_CHAR. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** A byte string in GPT-2's printable form (`" hi"` → `"Ġhi"`). */
export function bytesToSymbols(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]];
  return s;
}

/** Inverse of bytesToSymbols; null when a character is not one of the 256 byte symbols. */
export function symbolsToBytes(symbols: string): Uint8Array | null {
  const out = new Uint8Array(symbols.length); // every symbol is one UTF-16 unit (all are < U+0144)
  for (let i = 0; i < symbols.length; i++) {
    const b = CHAR_TO_BYTE.get(symbols[i]);
    if (b === undefined) return null;
    out[i] = b;
  }
  return out;
}

/**
 * GPT-2's pre-tokenizer pattern (as in Hugging Face's ByteLevel pre-tokenizer with use_regex): English
 * contractions, an optional space glued to the following run of letters / digits / other symbols, and
 * whitespace runs that leave their last space to the next word. BPE never merges across these pieces,
 * which keeps tokens word-like and makes the per-word cache effective.
 *
 * Every code point falls in one of \p{L}, \p{N}, \s or [^\s\p{L}\p{N}], so the matches tile the whole
 * string and concatenating them gives the input back; the round-trip guarantee depends on that.
 * With the `u` flag a lone surrogate is matched as one symbol (and later becomes U+FFFD in UTF-8).
 */
export const PRETOKENIZE =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Splits text into the pieces BPE works within (see PRETOKENIZE). */
export function pretokenize(text: string): string[] {
  return text.match(PRETOKENIZE) ?? [];
}

const ENCODER = new TextEncoder();
// ignoreBOM: keep a leading U+FEFF as text instead of silently stripping it (it must round-trip).
// Not fatal: ids cut mid-character (e.g. one token of an emoji) decode to U+FFFD rather than throw.
const DECODER = new TextDecoder('utf-8', { ignoreBOM: true });

/** UTF-8 bytes of a string. Lone surrogates are not valid UTF-16 and become U+FFFD (EF BF BD). */
export function utf8Encode(text: string): Uint8Array {
  return ENCODER.encode(text);
}

/** Text of UTF-8 bytes; malformed sequences become U+FFFD. */
export function utf8Decode(bytes: Uint8Array): string {
  return DECODER.decode(bytes);
}
