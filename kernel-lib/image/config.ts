/**
 * VQVAEConfig: the architecture of the image tokenizer, validated in one place with messages that name
 * the field. The network is fully convolutional and downsamples by 4, so one set of weights maps 32×32
 * images to 8×8 codes and 16×16 images to 4×4 codes; `imageSizes` lists the sides it accepts (the ones
 * it was trained on).
 */
export interface VQVAEConfig {
  /** Codebook size K: codes are integers in [0, numCodes). */
  numCodes: number;
  /** Dimension of a code vector (the encoder's output channels). */
  codeDim: number;
  /** Channels at 1/2 resolution (16×16 for a 32×32 image). */
  hidden1: number;
  /** Channels at 1/4 resolution, the code grid's resolution. */
  hidden2: number;
  /** Residual blocks at 1/4 resolution, in the encoder and again in the decoder. */
  resBlocks: number;
  /** Image sides the model accepts (each a multiple of 4); the code grid is side/4. */
  imageSizes: number[];
}

/** Image side / code-grid side. Fixed by the architecture (two 2× space-to-depth steps). */
export const DOWNSAMPLE = 4;

export function defaultVQVAEConfig(overrides: Partial<VQVAEConfig> = {}): VQVAEConfig {
  return { numCodes: 512, codeDim: 32, hidden1: 32, hidden2: 96, resBlocks: 1, imageSizes: [32, 16], ...overrides };
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** Throws an Error naming the first bad field. */
export function validateVQVAEConfig(c: VQVAEConfig): void {
  for (const key of ['numCodes', 'codeDim', 'hidden1', 'hidden2'] as const) {
    if (!isPosInt(c[key])) throw new Error(`VQVAEConfig.${key} must be a positive integer, got ${JSON.stringify(c[key])}`);
  }
  if (c.numCodes < 2) throw new Error(`VQVAEConfig.numCodes must be at least 2, got ${c.numCodes}`);
  if (!(typeof c.resBlocks === 'number' && Number.isInteger(c.resBlocks) && c.resBlocks >= 0)) {
    throw new Error(`VQVAEConfig.resBlocks must be a non-negative integer, got ${JSON.stringify(c.resBlocks)}`);
  }
  if (!Array.isArray(c.imageSizes) || c.imageSizes.length === 0) {
    throw new Error(`VQVAEConfig.imageSizes must be a non-empty list of image sides, got ${JSON.stringify(c.imageSizes)}`);
  }
  for (const s of c.imageSizes) {
    if (!isPosInt(s) || s % DOWNSAMPLE !== 0) {
      throw new Error(`VQVAEConfig.imageSizes entries must be positive multiples of ${DOWNSAMPLE}, got ${JSON.stringify(s)}`);
    }
  }
  if (new Set(c.imageSizes).size !== c.imageSizes.length) {
    throw new Error(`VQVAEConfig.imageSizes has a repeated side: ${JSON.stringify(c.imageSizes)}`);
  }
}

/** Code-grid side for an image side. */
export function gridSize(imageSize: number): number {
  return imageSize / DOWNSAMPLE;
}

/** Parameter names and shapes, in checkpoint order. Conv weights are [kh, kw, in, out] (TF's HWIO). */
export function vqvaeParamShapes(c: VQVAEConfig): Map<string, number[]> {
  const { hidden1: h1, hidden2: h2, codeDim: d } = c;
  const m = new Map<string, number[]>();
  const conv = (name: string, k: number, cin: number, cout: number): void => {
    m.set(`${name}.weight`, k === 1 ? [cin, cout] : [k, k, cin, cout]);
    m.set(`${name}.bias`, [cout]);
  };
  const res = (prefix: string): void => {
    for (let i = 0; i < c.resBlocks; i++) {
      conv(`${prefix}.res.${i}.conv1`, 3, h2, h2);
      conv(`${prefix}.res.${i}.conv2`, 1, h2, h2);
    }
  };
  // encoder: s2d(3→12) · conv3 → h1 · conv3 → s2d(4·h1) · conv1 → h2 · conv3 · res · conv1 → d
  conv('encoder.conv_in', 3, 3 * 4, h1);
  conv('encoder.conv1', 3, h1, h1);
  conv('encoder.proj', 1, 4 * h1, h2);
  conv('encoder.conv2', 3, h2, h2);
  res('encoder');
  conv('encoder.conv_out', 1, h2, d);
  // decoder: conv3 d → h2 · res · conv1 → 4·h1 · d2s · conv3 → h1 · conv3 → 12 · d2s(3)
  conv('decoder.conv_in', 3, d, h2);
  res('decoder');
  conv('decoder.proj', 1, h2, 4 * h1);
  conv('decoder.conv1', 3, h1, h1);
  conv('decoder.conv_out', 3, h1, 3 * 4);
  m.set('quantizer.codebook', [c.numCodes, d]);
  return m;
}
