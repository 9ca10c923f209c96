/**
 * What training and scoring a MUMU run read besides its arm: the data store, the frozen LM's and the
 * decoder's directories, the VQ-VAE (crops → codes), CLIP and the scene checker, and — for tests — fewer
 * held-out prompts and draw steps. `openTools` gives the project's: .cache/data, data/checkpoints/mm-moe-small,
 * ldm-emoji (or the decoder given), vqvae-emoji and clip-emoji.
 */
import { ensureData } from '../../data/store';
import type { DataStore } from '../../data/store';
import { VQVAE } from '../../image/model';
import { ClipModel } from '../../eval/clip';
import { SceneChecker } from '../../eval/scene-checker';
import { checkpointDir } from '../../paths';
import type { DrawSettings, HeldOutSizes } from './heldout';
import type { ScoreTools } from './scores';
import { requireDecoder, vqCropEncoder } from './shipped';

export interface MumuTools extends ScoreTools {
  /** The frozen LM (mm-moe-small). */
  baseDir: string;
  /** The diffusion decoder (ldm-emoji). */
  ldmDir: string;
  /** The image tokenizer the recipe codes crops with (vqvae-emoji). */
  vqvaeDir: string;
  /** Held-out prompts per set (default heldout.ts HELD_OUT). */
  sizes?: HeldOutSizes;
  /** How held-out prompts are drawn (default heldout.ts DRAW). */
  draw?: Partial<DrawSettings>;
  /** Frees the VQ-VAE, CLIP and the checker. */
  dispose(): void;
}

/** The project's tools (see the file comment); a missing decoder is refused with what to run first. */
export async function openTools(o: { ldmDir?: string; store?: DataStore } = {}): Promise<MumuTools> {
  const ldmDir = o.ldmDir ?? checkpointDir('ldm-emoji');
  requireDecoder(ldmDir);
  const store = o.store ?? (await ensureData());
  const vqvaeDir = checkpointDir('vqvae-emoji');
  const vq = VQVAE.load(vqvaeDir);
  const clip = ClipModel.load(checkpointDir('clip-emoji'));
  const checker = SceneChecker.fromStore(store);
  return {
    store,
    encode: vqCropEncoder(vq),
    clip,
    checker,
    baseDir: checkpointDir('mm-moe-small'),
    ldmDir,
    vqvaeDir,
    dispose: () => {
      vq.dispose();
      clip.dispose();
      checker.dispose();
    },
  };
}
