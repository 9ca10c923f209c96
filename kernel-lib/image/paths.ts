/** Where the shipped image tokenizer lives. */
import * as path from 'path';
import { repoRoot } from '../data/paths';

/** data/checkpoints/vqvae-emoji in this checkout (32×32 → 8×8 and 16×16 → 4×4 codes, one model). */
export function defaultVQVAEDir(): string {
  return path.join(repoRoot(), 'data', 'checkpoints', 'vqvae-emoji');
}
