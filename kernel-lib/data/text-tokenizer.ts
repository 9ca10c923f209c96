/**
 * The shipped text tokenizer: a byte-level BPE with a 4,096-token vocabulary, trained on the Brown train
 * documents (one text per paragraph) plus the train split's captions and story narration, saved as a
 * Hugging Face tokenizer.json at data/tokenizer/tokenizer.json (committed: checkpoints depend on it).
 * Training is deterministic (BPE ties break by spelling, not by text order), so retraining from the same
 * data gives the same bytes; a test holds the committed file to that.
 */
import fs from 'fs';
import path from 'path';
import { ByteLevelBPE } from '../tokenizer';
import { loadBrown } from './brown';
import { BuildOptions, generators, resolveOptions } from './build';
import { emojiCatalog } from './emoji';
import { defaultTokenizerPath } from './paths';
import { sceneSpec } from './scenes';
import { storySpec } from './stories';

export const TEXT_VOCAB_SIZE = 4096;

/**
 * The training texts: Brown train paragraphs, then every train emoji caption (all variants), scene
 * caption and story narration for the given data options (default: what `npm run data` builds). Made
 * from the generators directly, not from the cache, so it always reflects the current code.
 */
export function tokenizerCorpus(options: BuildOptions = {}): string[] {
  const opts = resolveOptions(options);
  const texts: string[] = [];
  for (const d of loadBrown()) if (d.split === 'train') for (const p of d.paragraphs) texts.push(p.join(' '));
  const catalog = emojiCatalog();
  for (const e of catalog) if (e.split === 'train') texts.push(...e.captions);
  const { sceneVocab, story } = generators(catalog);
  for (let i = 0; i < opts.scenes.train; i++) texts.push(sceneSpec(i, 'train', sceneVocab, opts.seed).caption);
  for (let i = 0; i < opts.stories.train; i++) {
    texts.push(storySpec(i, 'train', story, opts.seed).frames.map((f) => f.narration).join(' '));
  }
  return texts;
}

export interface TrainedTokenizer {
  bpe: ByteLevelBPE;
  /** Wall-clock seconds spent in BPE training (corpus assembly excluded). */
  seconds: number;
  texts: number;
  bytes: number;
}

/** Trains the text tokenizer on the corpus for `build`'s data options (default: the shipped one). */
export function trainTextTokenizer(
  options: { vocabSize?: number; build?: BuildOptions; onProgress?: (line: string) => void } = {},
): TrainedTokenizer {
  const texts = tokenizerCorpus(options.build);
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
  const vocabSize = options.vocabSize ?? TEXT_VOCAB_SIZE;
  options.onProgress?.(`tokenizer: training a ${vocabSize}-token BPE on ${texts.length} texts (${(bytes / 1e6).toFixed(1)} MB)`);
  const t0 = performance.now();
  const bpe = ByteLevelBPE.train(texts, { vocabSize });
  return { bpe, seconds: (performance.now() - t0) / 1000, texts: texts.length, bytes };
}

/** tokenizer.json text: the Hugging Face format, indented, with a final newline. */
export function tokenizerJsonText(bpe: ByteLevelBPE): string {
  return `${JSON.stringify(bpe.toHF(), null, 2)}\n`;
}

/** Writes tokenizer.json when its bytes differ; returns whether it wrote. */
export function saveTextTokenizer(bpe: ByteLevelBPE, file = defaultTokenizerPath()): boolean {
  const text = tokenizerJsonText(bpe);
  let current: string | null = null;
  try {
    current = fs.readFileSync(file, 'utf8');
  } catch {
    /* not there yet */
  }
  if (current === text) return false;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return true;
}

/** The shipped text tokenizer (data/tokenizer/tokenizer.json). */
export function loadTextTokenizer(file = defaultTokenizerPath()): ByteLevelBPE {
  return ByteLevelBPE.fromHF(JSON.parse(fs.readFileSync(file, 'utf8')));
}
