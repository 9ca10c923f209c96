/**
 * Warm start of the diffusion decoder's caption encoder from the project's CLIP (clip-emoji): its text
 * tower's token embedding `text.embed.weight` [V, e] was trained contrastively on these same captions, so a
 * caption encoder that starts from it knows from step 0 which tokens name which objects, instead of having
 * to find that out through the denoising loss alone (the first ldm-emoji run, from a random embedding, did
 * not: README, "Training ldm-emoji in a work session").
 *
 * The rows are copied up to one global scale, chosen so their standard deviation is the random
 * initialisation's (0.02, diffusion/params.ts): the caption encoder adds its position embedding (also
 * 0.02) before its first LayerNorm, and a 50× larger token embedding would drown the word order there.
 * Refused, with the reason, when the two tokenizers or the shapes differ: a row of one vocabulary copied
 * onto another token would be noise.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readSafetensors } from '../checkpoint/safetensors';
import type { LatentDiffusion } from '../diffusion/model';

/** Standard deviation of the caption embedding at initialisation (diffusion/params.ts). */
export const CAPTION_EMBED_STD = 0.02;

export interface CaptionWarmStart {
  from: string;
  tensor: string;
  rows: number;
  /** The factor the CLIP rows were multiplied by. */
  scale: number;
  std: number;
}

export function warmStartCaptionEmbedding(m: LatentDiffusion, clipDir: string): CaptionWarmStart {
  const where = `caption warm start from ${clipDir}`;
  const tokFile = path.join(clipDir, 'tokenizer.json');
  if (!fs.existsSync(tokFile)) throw new Error(`${where}: no tokenizer.json there`);
  const clipTok = JSON.parse(fs.readFileSync(tokFile, 'utf8')) as { model?: { vocab?: unknown; merges?: unknown } };
  const own = m.tokenizer.toHF() as unknown as { model: { vocab: unknown; merges: unknown } };
  if (JSON.stringify(clipTok.model?.vocab) !== JSON.stringify(own.model.vocab) || JSON.stringify(clipTok.model?.merges) !== JSON.stringify(own.model.merges)) {
    throw new Error(`${where}: the CLIP's tokenizer is not the decoder's (vocabularies or merges differ), so its embedding rows belong to other tokens`);
  }
  const name = 'text.embed.weight';
  const t = readSafetensors(path.join(clipDir, 'model.safetensors')).tensors.get(name);
  if (!t) throw new Error(`${where}: model.safetensors has no tensor "${name}"`);
  const target = m.params.get('caption.embed');
  if (!target) throw new Error(`${where}: the decoder has no caption.embed`);
  if (t.shape.join(',') !== target.shape.join(',')) {
    throw new Error(`${where}: ${name} has shape [${t.shape}], the decoder's caption.embed [${target.shape}] (caption.dim must equal the CLIP's textEmbed)`);
  }
  const data = Float32Array.from(t.data);
  let sq = 0;
  let sum = 0;
  for (const v of data) {
    sum += v;
    sq += v * v;
  }
  const sd = Math.sqrt(sq / data.length - (sum / data.length) ** 2);
  if (!(sd > 0) || !Number.isFinite(sd)) throw new Error(`${where}: ${name} has standard deviation ${sd}`);
  const scale = CAPTION_EMBED_STD / sd;
  for (let i = 0; i < data.length; i++) data[i] *= scale;
  tf.tidy(() => (target as tf.Variable).assign(tf.tensor(data, target.shape)));
  return { from: path.basename(clipDir), tensor: name, rows: t.shape[0], scale, std: CAPTION_EMBED_STD };
}
