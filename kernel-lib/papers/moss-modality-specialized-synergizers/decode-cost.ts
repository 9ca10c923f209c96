/**
 * C.3 at workbench scale: milliseconds to generate one image (its H×W codes, cached step decoding, after the
 * prompt's prefill) with each adapter on, and with none. Every model draws the same prompts with the same
 * seeds; the models take turns prompt by prompt, in an order that rotates, so a change in the machine's load
 * during the measurement falls on every model alike, and one untimed image per model first pays the kernels'
 * set-up. The figure is the median over prompts.
 */
import type { Prompt } from '../../tokenizer/prompt';
import type { ArmSet } from './arm-set';
import { median } from '../summary';

export interface DecodeCostOptions {
  /** Models, `base` or arm labels (default: all of the set's models). */
  models?: readonly string[];
  /** Sampling as drawTargets draws (default temperature 1, top-k 64); prompt i uses seed firstSeed + i. */
  temperature?: number;
  topK?: number;
  firstSeed?: number;
  /** Called after each timed image. */
  onImage?: (done: number, total: number) => void;
}

export interface DecodeCost {
  /** Median milliseconds per image, by model. */
  msPerImage: Record<string, number>;
  /** Every timed image, by model, in prompt order. */
  samples: Record<string, number[]>;
  images: number;
}

async function drawOne(arms: ArmSet, prompt: Prompt, seed: number, o: DecodeCostOptions): Promise<number> {
  const s = arms.session;
  const g = s.tokenizer.imageGrid;
  const t0 = performance.now();
  let codes = 0;
  for await (const st of s.generate(prompt, { startImage: true, maxNewTokens: g.height * g.width, temperature: o.temperature ?? 1, topK: o.topK ?? 64, seed, capture: 'none' })) {
    if (st.modality === 'image') codes++;
  }
  const ms = performance.now() - t0;
  if (codes !== g.height * g.width) throw new Error(`moss.decodeCost: an image came out with ${codes} codes, not ${g.height * g.width}`);
  return ms;
}

/** Times one image per prompt and model (see the file comment). */
export async function decodeCost(arms: ArmSet, prompts: readonly Prompt[], o: DecodeCostOptions = {}): Promise<DecodeCost> {
  if (prompts.length === 0) throw new Error('moss.decodeCost: no prompts');
  if (!arms.session.tokenizer.hasImages) throw new Error('moss.decodeCost: the session has no image vocabulary');
  const models = [...(o.models ?? arms.models)];
  const before = arms.active;
  const samples: Record<string, number[]> = Object.fromEntries(models.map((m) => [m, []]));
  const first = o.firstSeed ?? 0;
  try {
    for (const m of models) {
      arms.use(m);
      await drawOne(arms, prompts[0], first, o); // untimed: kernel set-up
    }
    let done = 0;
    for (const [i, p] of prompts.entries()) {
      for (let j = 0; j < models.length; j++) {
        const m = models[(i + j) % models.length];
        arms.use(m);
        samples[m].push(await drawOne(arms, p, first + i, o));
        o.onImage?.(++done, prompts.length * models.length);
      }
    }
  } finally {
    arms.use(before);
  }
  return { msPerImage: Object.fromEntries(models.map((m) => [m, median(samples[m]) as number])), samples, images: prompts.length };
}
