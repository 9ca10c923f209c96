/**
 * Fresh parameters for a LatentDiffusionConfig, deterministic per seed (host side).
 *
 *   linear weights      Xavier-normal, biases 0
 *   adaLN modulations   0 (DiT's adaLN-Zero: every block starts as the identity, the gates closed)
 *   final linear        0 (v̂ = 0: the denoiser starts as ε̂ = √(1−ᾱ_t) z_t, see denoiser.ts)
 *   cross.out           Xavier like the rest: it has no gate, and a near-zero start starves the caption path of
 *                       gradient (measured: a tiny decoder then ignored its captions for hundreds of steps)
 *   norms               gain 1, bias 0
 *   caption.embed/pos   N(0, 0.02); null_cond N(0, 1) (it meets the cross-attention like a LayerNormed token)
 */
import type { HostTensor } from '../model/params';
import { mulberry32, normalArray } from '../util/random';
import { diffusionParamShapes, LatentDiffusionConfig, validateDiffusionConfig } from './config';

export function initDiffusionParams(c: LatentDiffusionConfig, seed = 0): Map<string, HostTensor> {
  validateDiffusionConfig(c);
  const rand = mulberry32(seed);
  const out = new Map<string, HostTensor>();
  for (const [name, shape] of diffusionParamShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (/\.norm\d?\.weight$|^caption\.norm\.weight$|\.cross\.norm\.weight$/.test(name)) data = new Float32Array(n).fill(1);
    else if (name.endsWith('.bias')) data = new Float32Array(n);
    else if (/\.ada\.weight$/.test(name) || name === 'denoiser.final.linear.weight') data = new Float32Array(n);
    else if (name === 'caption.embed' || name === 'caption.pos') data = normalArray(n, 0.02, rand);
    else if (name === 'denoiser.null_cond') data = normalArray(n, 1, rand);
    else data = normalArray(n, Math.sqrt(2 / (shape[0] + shape[1])), rand);
    out.set(name, { shape, data });
  }
  return out;
}
