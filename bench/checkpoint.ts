/**
 * The checkpoint the benchmark runs on: the shipped default model when present, else a deterministic
 * stand-in of the same shape (the `small` preset: 16 experts top-4, a 4,096-token BPE plus 512 image
 * codes on an 8×8 grid) with random weights, built once into .cache/bench/. Speed does not depend on
 * what the weights have learned, only on shapes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ByteLevelBPE, MultimodalTokenizer } from '../kernel-lib/tokenizer';
import { Session } from '../kernel-lib/session';
import { mulberry32 } from '../kernel-lib/util/random';

const SYLLABLES = ['ta', 'ke', 'ri', 'mo', 'lu', 'an', 'sel', 'dor', 'pin', 'gra', 'fe', 'th', 'ou', 'ne', 'st', 'qu', 'al', 'ver', 'ing', 'ed'];

/** Deterministic pseudo-English: enough distinct words to train a 4k BPE. */
export function pseudoCorpus(lines: number, seed = 1): string[] {
  const rand = mulberry32(seed);
  const out: string[] = [];
  for (let l = 0; l < lines; l++) {
    const words: string[] = [];
    const n = 6 + Math.floor(rand() * 10);
    for (let w = 0; w < n; w++) {
      const k = 1 + Math.floor(rand() * 4);
      let word = '';
      for (let i = 0; i < k; i++) word += SYLLABLES[Math.floor(rand() * rand() * SYLLABLES.length)];
      words.push(word);
    }
    out.push(words.join(' ') + (rand() < 0.3 ? ',' : '.'));
  }
  return out;
}

export async function benchCheckpoint(root: string, log: (s: string) => void): Promise<string> {
  const shipped = path.join(root, 'data', 'checkpoints', 'mm-moe-small');
  if (fs.existsSync(path.join(shipped, 'model.safetensors'))) return shipped;
  const dir = path.join(root, '.cache', 'bench', 'mm-random-small');
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return dir;
  log('building the benchmark stand-in checkpoint (small preset, random weights) in .cache/bench/ …');
  const bpe = ByteLevelBPE.train(pseudoCorpus(20000), { vocabSize: 4096 });
  const tok = MultimodalTokenizer.createTextOnly(bpe).extendWithImages({ numImageCodes: 512, grid: { height: 8, width: 8 } });
  const s = await Session.create(tok, { preset: 'small', seed: 1 });
  s.save(dir);
  s.dispose();
  return dir;
}
