/**
 * Recipe for the shipped `mm-moe-small`, the default model of the tour and the widget:
 * `text-moe-small` extended with the VQ-VAE's image codes (plus <boi>/<eoi>/<img> and 8 vokens), new
 * rows initialised mean + noise, then fine-tuned on captioned emoji and scenes in both directions
 * (caption → image, image → caption) mixed with Brown text.
 *
 * Evaluated on held-out scene captions: images generated for each caption are scored by the project's
 * CLIP against their own caption (CLIP-T) and against a shuffled caption; the gap is the signal.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RGBImage } from '../image';
import { Session } from '../session';
import { VQVAE } from '../image';
import { imageGridPng, PREVIEW_BACKGROUND } from '../image/png';
import { ClipModel, captionConditioning, clipTOwnVsShuffled, ownMinusShuffled } from '../eval';
import type { ConditioningProbe, PairScores } from '../eval';
import { brownStreams, thinCurve, writeMetrics, RecipeOptions } from './text-moe-small';
import { mixedSampler, CaptionedCodes, captioned } from './mm-data';
import { modelPerplexity } from '../analysis/perplexity';
import type { ImageCodes } from '../tokenizer';
import type { CfgUnconditional } from '../decode/cfg';

export interface MmRecipeOptions extends RecipeOptions {
  baseDir: string;
  vqvaeDir: string;
  clipDir: string;
  /** Held-out captions to generate images for. */
  evalImages?: number;
  cfgScale?: number;
  /** Stage-2 (conditioning) steps; default 2400. */
  conditioningSteps?: number;
  /** Held-out scenes for the own-vs-shuffled caption probe (default 24). */
  probeExamples?: number;
}

const fmtProbe = (p: ConditioningProbe) =>
  `image NLL own ${p.own.toFixed(3)} vs shuffled ${p.shuffled.toFixed(3)} (gap ${p.gap.toFixed(4)}, own better ${(100 * p.ownBetterFraction).toFixed(0)}%)`;

function barSvg(matched: number, shuffledMean: number, title: string): string {
  const h = 160;
  const y = (v: number) => h - 20 - Math.max(0, v) * (h - 40);
  const bar = (x: number, v: number, label: string, colour: string) =>
    `<rect x="${x}" y="${y(v)}" width="70" height="${h - 20 - y(v)}" fill="${colour}"/>` +
    `<text x="${x + 35}" y="${y(v) - 4}" text-anchor="middle" font-size="12">${v.toFixed(3)}</text>` +
    `<text x="${x + 35}" y="${h - 5}" text-anchor="middle" font-size="12">${label}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="420" height="${h + 20}" font-family="sans-serif">` +
    `<text x="210" y="14" text-anchor="middle" font-size="13">${title}</text><g transform="translate(0,16)">` +
    bar(110, matched, 'own caption', '#4878d0') + bar(240, shuffledMean, 'shuffled caption', '#b0b0b0') + '</g></svg>\n';
}

export async function trainMmMoeSmall(o: MmRecipeOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const t0 = Date.now();
  const base = await Session.load(o.baseDir);
  const vq = VQVAE.load(o.vqvaeDir);
  const side = 32 / 4; // 32×32 images → 8×8 codes
  const s = base.extendWithImages({ numImageCodes: vq.numCodes, grid: { height: side, width: side }, numVokens: 8, init: 'mean-noise', seed: o.seed ?? 0 });
  base.dispose();
  const textStreams = await brownStreams(s.tokenizer);
  log('encoding training images with the VQ-VAE …');
  const emoji = await captioned(vq, 'emoji', 'train');
  const scenes = await captioned(vq, 'scenes', 'train');
  const data: CaptionedCodes[] = [...emoji.caps.map((c, i) => ({ caption: c, codes: emoji.codes[i] })), ...scenes.caps.map((c, i) => ({ caption: c, codes: scenes.codes[i] }))];
  log(`captioned images: ${emoji.caps.length} emoji + ${scenes.caps.length} scenes`);
  const steps = o.steps ?? 800;
  const batchSize = o.batchSize ?? 8;
  const seqLen = o.seqLen ?? 128;
  const lr = o.lr ?? 1e-3;
  // Stage 1: learn the image-code language, both directions, a quarter Brown text.
  const r = await s.train({
    steps,
    batches: mixedSampler(s.tokenizer, data, textStreams.train, { batchSize, seqLen, seed: o.seed ?? 0, textFraction: 0.25 }),
    lr,
    minLr: lr / 10,
    warmupSteps: Math.min(50, Math.floor(steps / 10)),
    runDir: path.join(o.runDir, 'stage1'),
    checkpointEvery: 50,
    onStep: o.onProgress,
  });
  // Stage 2: conditioning. After stage 1 the model draws plausible code statistics but ignores the
  // caption (image-code NLL after the own caption = after a shuffled one); this stage draws most
  // captioned images caption → image and logs the own-vs-shuffled probe on held-out scenes as it goes.
  const probeSet = await captioned(vq, 'scenes', 'val', o.probeExamples ?? 24);
  const probeExamples = probeSet.caps.map((caption, i) => ({ caption, codes: probeSet.codes[i] }));
  vq.dispose();
  const steps2 = o.conditioningSteps ?? 2400;
  const probes: Record<string, unknown>[] = [{ step: 0, ...captionConditioning(s, probeExamples) }];
  log(`conditioning probe before stage 2: ${fmtProbe(probes[0] as unknown as ConditioningProbe)}`);
  const probeEvery = Math.max(1, Math.min(300, steps2));
  const r2 = await s.train({
    steps: steps2,
    batches: mixedSampler(s.tokenizer, data, textStreams.train, { batchSize, seqLen, seed: (o.seed ?? 0) + 1, textFraction: 0.15, captionFirstFraction: 0.8 }),
    lr,
    minLr: lr / 10,
    warmupSteps: Math.min(50, Math.floor(steps2 / 10)),
    runDir: path.join(o.runDir, 'stage2'),
    checkpointEvery: 50,
    onStep: (e) => {
      o.onProgress?.(e);
      if (e.step % probeEvery === 0 || e.step === e.totalSteps) {
        const p = captionConditioning(s, probeExamples);
        probes.push({ step: e.step, ...p });
        log(`conditioning probe at stage-2 step ${e.step}: ${fmtProbe(p)}`);
      }
    },
  });
  for (const f of ['metrics.json', 'clip-t.svg', 'samples.png']) if (fs.existsSync(path.join(o.outDir, f))) fs.rmSync(path.join(o.outDir, f));
  s.save(o.outDir, { dtype: 'float16', extra: { recipe: 'mm-moe-small' } });
  const elapsed = (h: { elapsedMs: number }[]) => (h.at(-1)?.elapsedMs ?? 0) / 1000;
  writeMetrics(o.outDir, {
    name: 'mm-moe-small',
    base: path.basename(o.baseDir),
    data: 'Twemoji emoji (train split) and composed scenes (train split) with captions, both directions; Brown text 25% of rows (stage 1), 15% (stage 2)',
    config: s.config,
    vocabulary: { total: s.tokenizer.vocabSize, text: s.tokenizer.textVocabSize, imageCodes: s.tokenizer.numImageCodes, vokens: s.tokenizer.numVokens, init: 'mean-noise' },
    training: { steps, batchSize, seqLen, lr, minLr: lr / 10, textFraction: 0.25, captionFirstFraction: 0.5, tokensSeen: steps * batchSize * seqLen, resumedFrom: r.resumedFrom },
    stage2: {
      steps: steps2, lr, minLr: lr / 10, textFraction: 0.15, captionFirstFraction: 0.8, tokensSeen: steps2 * batchSize * seqLen, resumedFrom: r2.resumedFrom,
      lossCurve: thinCurve(r2.history), train_wall_time_s: elapsed(r2.history),
      conditioningProbe: { examples: 'scenes val split, first ' + probeExamples.length, note: 'image-code NLL (nats) after own vs shuffled caption; probes at steps before a resume are not re-run', curve: probes },
    },
    lossCurve: thinCurve(r.history),
    train_wall_time_s: elapsed(r.history) + elapsed(r2.history),
    backend: s.device,
    date: new Date().toISOString(),
  });
  s.dispose();
  const m = await evaluateMmMoeSmall(o.outDir, o);
  return { ...m, recipe_wall_time_s: (Date.now() - t0) / 1000 };
}

/** The fixed sample tests re-measure: the first CHECK_CAPTIONS held-out scene captions. */
export const CHECK_CAPTIONS = 4;

/** How drawCodes samples: temperature 1 and top-64 unless given; caption i with seed `firstSeed + i` (default i). */
export interface DrawSampling {
  cfgScale: number;
  /** The unconditional branch of CFG (default 'drop-text'; Liquid's is 'unconditional-token'). */
  cfgUnconditional?: CfgUnconditional;
  temperature?: number;
  topK?: number;
  firstSeed?: number;
  onImage?: (done: number) => void;
}

/** One image's codes per caption (see DrawSampling); `onImage(i)` after each. */
export async function drawCodes(s: Session, caps: readonly string[], sampling: DrawSampling): Promise<ImageCodes[]> {
  const side = s.tokenizer.imageGrid.height;
  const generated: ImageCodes[] = [];
  for (let i = 0; i < caps.length; i++) {
    const codes: number[] = [];
    const opts = {
      startImage: true, maxNewTokens: side * side, temperature: sampling.temperature ?? 1, topK: sampling.topK ?? 64, cfgScale: sampling.cfgScale,
      ...(sampling.cfgUnconditional ? { cfgUnconditional: sampling.cfgUnconditional } : {}), seed: (sampling.firstSeed ?? 0) + i, capture: 'none' as const,
    };
    for await (const st of s.generate(caps[i], opts)) {
      if (st.modality === 'image') codes.push(s.tokenizer.codeOf(st.tokenId));
    }
    generated.push({ height: side, width: side, codes });
    sampling.onImage?.(i + 1);
  }
  return generated;
}

/**
 * Images for captions (caption i sampled with seed `firstSeed + i`, default i), decoded to pixels;
 * `onImage(i)` after each.
 */
export async function generateForCaptions(s: Session, vq: Pick<VQVAE, 'decode'>, caps: string[], sampling: DrawSampling): Promise<RGBImage[]> {
  return vq.decode(await drawCodes(s, caps, sampling));
}

/** How many held-out scene captions the image evaluation draws for (the scenes test split, from its start). */
export const EVAL_CAPTIONS = 48;
/** Classifier-free guidance scale of the evaluation's images. */
export const EVAL_CFG_SCALE = 3;

/** The first `n` (default EVAL_CAPTIONS) scenes of the test split: captions, images and codes. */
export function evalSceneCaptions(vq: VQVAE, n = EVAL_CAPTIONS): ReturnType<typeof captioned> {
  return captioned(vq, 'scenes', 'test', n);
}

/** Images drawn for captions and their CLIP-T with the own caption and with the halfRotation one, per caption. */
export interface CaptionFollowing {
  images: RGBImage[];
  own: PairScores;
  shuffled: PairScores;
}

/**
 * Does a model's image follow its caption? Draws one image per caption (generateForCaptions: caption i
 * with seed `firstSeed + i`) and scores it with CLIP against its own caption and against the caption
 * the fixed derangement (halfRotation) gives it; own − shuffled, paired per caption, is the signal.
 */
export async function captionFollowing(
  s: Session,
  vq: VQVAE,
  clip: ClipModel,
  caps: string[],
  sampling: Parameters<typeof generateForCaptions>[3],
): Promise<CaptionFollowing> {
  if (caps.length < 2) throw new Error(`captionFollowing: needs at least 2 captions to shuffle, got ${caps.length}`);
  const images = await generateForCaptions(s, vq, caps, sampling);
  return { images, ...clipTOwnVsShuffled(clip, images, caps) };
}

/** Evaluates the SAVED checkpoint and merges text perplexity and CLIP-T numbers into metrics.json. */
export async function evaluateMmMoeSmall(
  dir: string,
  o: { baseDir: string; vqvaeDir: string; clipDir: string; evalTokens?: number; evalImages?: number; cfgScale?: number; log?: (s: string) => void },
): Promise<Record<string, unknown>> {
  const log = o.log ?? ((x: string) => process.stderr.write(x + '\n'));
  const s = await Session.load(dir);
  const base = await Session.load(o.baseDir);
  const vq = VQVAE.load(o.vqvaeDir);
  const streams = await brownStreams(base.tokenizer);
  log('evaluating: text perplexity, images for held-out scene captions, CLIP-T …');
  const before = modelPerplexity(base.model, streams.test, { maxTokens: o.evalTokens ?? 20000 });
  base.dispose();
  const after = modelPerplexity(s.model, streams.test, { maxTokens: o.evalTokens ?? 20000 });
  const held = await evalSceneCaptions(vq, o.evalImages);
  const cfgScale = o.cfgScale ?? EVAL_CFG_SCALE;
  const clip = ClipModel.load(o.clipDir);
  const { images, own, shuffled: other } = await captionFollowing(s, vq, clip, held.caps, { cfgScale });
  const real = clipTOwnVsShuffled(clip, held.imgs, held.caps);
  clip.dispose();
  const probe = captionConditioning(s, held.caps.map((caption, i) => ({ caption, codes: held.codes[i] })));
  const { mean: dMean, standardError: dSe, ownBetterFraction } = ownMinusShuffled(own.scores, other.scores);
  const checkOwn = own.scores.slice(0, CHECK_CAPTIONS).reduce((a, b) => a + b, 0) / CHECK_CAPTIONS;
  const old = JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8')) as Record<string, unknown>;
  const metrics = {
    ...old,
    evaluated: 'the saved float16 checkpoint, reloaded',
    text_test_perplexity: { base: before.perplexity, after: after.perplexity, tokens: after.tokens },
    clip_t: {
      heldOutSceneCaptions: held.caps.length,
      sampling: { temperature: 1, topK: 64, cfgScale, seed: 'caption index' },
      generated_vs_own_caption: own.mean,
      generated_vs_shuffled_caption: other.mean,
      gap: own.mean - other.mean,
      own_beats_shuffled_fraction: ownBetterFraction,
      paired_difference: { mean: dMean, standard_error: dSe, t: dMean / dSe },
      reference_real_images: { own: real.own.mean, shuffled: real.shuffled.mean },
    },
    conditioning_probe_test: probe,
    check: { captions: CHECK_CAPTIONS, clip_t_own_mean: checkOwn },
  };
  writeMetrics(dir, metrics);
  fs.writeFileSync(path.join(dir, 'clip-t.svg'), barSvg(own.mean, other.mean, `CLIP-T, ${held.caps.length} held-out scene captions (difference ${dMean.toFixed(3)} ± ${dSe.toFixed(3)} s.e.)`));
  fs.writeFileSync(path.join(dir, 'samples.png'), await imageGridPng(images.slice(0, 16), { columns: 8, padding: 2, scale: 3, background: PREVIEW_BACKGROUND }));
  log(`CLIP-T own ${own.mean.toFixed(3)} vs shuffled ${other.mean.toFixed(3)} (paired difference ${dMean.toFixed(3)} ± ${dSe.toFixed(3)} s.e.); text ppl ${before.perplexity.toFixed(1)} → ${after.perplexity.toFixed(1)} (${dir})`);
  s.dispose();
  vq.dispose();
  return metrics;
}
