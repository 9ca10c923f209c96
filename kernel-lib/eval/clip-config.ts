/**
 * ClipConfig: the workbench CLIP's sizes, validated in one place, plus the parameter table derived from
 * it (names are the checkpoint keys; matrices are [in, out], applied as x·W).
 *
 * Image tower ("patchify convnet": stride-only convolutions, so every layer is one plain matMul):
 *   32×32×3 ink → 8×8 grid of overlapping 8×8 patches (stride 4, pad 2)        → [B·64, 192]
 *   vision.patch   192 → w₀, ReLU                                                → [B·64, w₀]
 *   vision.merge1  2×2 neighbours concatenated, 4w₀ → w₁, ReLU                  → [B·16, w₁]
 *   vision.merge2  2×2 neighbours concatenated, 4w₁ → w₂, ReLU                  → [B·4,  w₂]
 *   vision.fc      the 2×2 grid flattened, 4w₂ → h, ReLU                          → [B, h]
 *   vision.proj    h → d, then L2-normalised                                     → [B, d]
 * Text tower (order-aware bag of BPE tokens):
 *   text.embed     mean of token embeddings, twice: weighted towards the front and towards the back of
 *                  the caption, concatenated (so "a cat left of a dog" ≠ "a dog left of a cat") → [B, 2e]
 *   text.fc        2e → h, ReLU; text.proj h → d, L2-normalised                  → [B, d]
 * logit_scale: log of the contrastive temperature's inverse, learnable, capped at log 100 (as CLIP).
 */
export interface ClipConfig {
  /** Input side in pixels (images of another size are area-resized to it). */
  imageSize: number;
  /** First-layer patch side, stride and padding. */
  patchSize: number;
  patchStride: number;
  patchPad: number;
  /** Channels after vision.patch, merge1, merge2. */
  visionWidths: [number, number, number];
  visionHidden: number;
  /** BPE vocabulary size (the text tokenizer's). */
  vocabSize: number;
  textEmbed: number;
  textHidden: number;
  /** Shared embedding dimension. */
  embedDim: number;
  /** Initial logit_scale (CLIP: log(1/0.07)). */
  initLogitScale: number;
  maxLogitScale: number;
}

export function defaultClipConfig(overrides: Partial<ClipConfig> = {}): ClipConfig {
  return validateClipConfig({
    imageSize: 32,
    patchSize: 8,
    patchStride: 4,
    patchPad: 2,
    visionWidths: [64, 128, 256],
    visionHidden: 256,
    vocabSize: 4096,
    textEmbed: 128,
    textHidden: 256,
    embedDim: 128,
    initLogitScale: Math.log(1 / 0.07),
    maxLogitScale: Math.log(100),
    ...overrides,
  });
}

/** The patch grid side: (size + 2·pad − patch) / stride + 1. */
export function patchGrid(c: ClipConfig): number {
  return (c.imageSize + 2 * c.patchPad - c.patchSize) / c.patchStride + 1;
}

/** Throws for the first bad field, naming it. Returns the config. */
export function validateClipConfig(c: ClipConfig): ClipConfig {
  const posInt = (v: unknown, name: string): void => {
    if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`ClipConfig.${name} must be a positive integer, got ${JSON.stringify(v)}`);
  };
  for (const k of ['imageSize', 'patchSize', 'patchStride', 'visionHidden', 'vocabSize', 'textEmbed', 'textHidden', 'embedDim'] as const) posInt(c[k], k);
  if (!Number.isInteger(c.patchPad) || c.patchPad < 0) throw new Error(`ClipConfig.patchPad must be a non-negative integer, got ${JSON.stringify(c.patchPad)}`);
  if (!Array.isArray(c.visionWidths) || c.visionWidths.length !== 3) throw new Error(`ClipConfig.visionWidths must list 3 widths, got ${JSON.stringify(c.visionWidths)}`);
  c.visionWidths.forEach((w, i) => posInt(w, `visionWidths[${i}]`));
  const g = patchGrid(c);
  if (g !== 8) {
    throw new Error(
      `ClipConfig: imageSize, patchSize, patchStride and patchPad must give an 8×8 patch grid (two 2×2 merges leave 2×2), ` +
        `got (${c.imageSize} + 2·${c.patchPad} − ${c.patchSize}) / ${c.patchStride} + 1 = ${g}`,
    );
  }
  for (const k of ['initLogitScale', 'maxLogitScale'] as const) {
    if (typeof c[k] !== 'number' || !Number.isFinite(c[k])) throw new Error(`ClipConfig.${k} must be a finite number, got ${JSON.stringify(c[k])}`);
  }
  if (c.initLogitScale > c.maxLogitScale) throw new Error(`ClipConfig.initLogitScale (${c.initLogitScale}) exceeds maxLogitScale (${c.maxLogitScale})`);
  return c;
}

/** Parameter names and shapes, in checkpoint order. */
export function clipParamShapes(c: ClipConfig): Array<[string, number[]]> {
  const [w0, w1, w2] = c.visionWidths;
  const patchIn = c.patchSize * c.patchSize * 3;
  return [
    ['vision.patch.weight', [patchIn, w0]],
    ['vision.patch.bias', [w0]],
    ['vision.merge1.weight', [4 * w0, w1]],
    ['vision.merge1.bias', [w1]],
    ['vision.merge2.weight', [4 * w1, w2]],
    ['vision.merge2.bias', [w2]],
    ['vision.fc.weight', [4 * w2, c.visionHidden]],
    ['vision.fc.bias', [c.visionHidden]],
    ['vision.proj.weight', [c.visionHidden, c.embedDim]],
    ['text.embed.weight', [c.vocabSize, c.textEmbed]],
    ['text.fc.weight', [2 * c.textEmbed, c.textHidden]],
    ['text.fc.bias', [c.textHidden]],
    ['text.proj.weight', [c.textHidden, c.embedDim]],
    ['logit_scale', [1]],
  ];
}
