/** Where the shipped image tokenizer lives. */
import { checkpointDir } from '../paths';

/** data/checkpoints/vqvae-emoji in this checkout (32×32 → 8×8 and 16×16 → 4×4 codes, one model). */
export function defaultVQVAEDir(): string {
  return checkpointDir('vqvae-emoji');
}
