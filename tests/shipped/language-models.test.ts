/**
 * The shipped language models load, and their metrics.json matches a quick re-measurement on a fixed
 * sample (issue: "shipped checkpoints load and their metrics.json matches a quick re-measurement").
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { useBackend } from '../helpers/backend';
import { Session } from '../../kernel-lib/session';
import { brownStreams, CHECK_TOKENS } from '../../kernel-lib/recipes/text-moe-small';
import { modelPerplexity } from '../../kernel-lib/analysis/perplexity';

const CK = path.resolve(__dirname, '../../data/checkpoints');
const readMetrics = (name: string) => JSON.parse(fs.readFileSync(path.join(CK, name, 'metrics.json'), 'utf8'));

beforeAll(() => useBackend());

describe('text-moe-small', () => {
  test('is float16, under 15 MB, 16 experts top-4, and beats the bigram baseline on held-out Brown', async () => {
    const dir = path.join(CK, 'text-moe-small');
    expect(fs.statSync(path.join(dir, 'model.safetensors')).size).toBeLessThan(15 * 1024 * 1024);
    const m = readMetrics('text-moe-small');
    expect(m.config.numExperts).toBe(16);
    expect(m.config.topK).toBe(4);
    expect(m.evaluated).toBe('the saved float16 checkpoint, reloaded');
    expect(m.test_perplexity).toBeLessThan(m.bigram_test_perplexity);
    const s = await Session.load(dir);
    expect(s.tokenizer.hasImages).toBe(false);
    // quick re-measurement on the fixed sample recorded in metrics.json
    const streams = await brownStreams(s.tokenizer);
    const ppl = modelPerplexity(s.model, streams.test, { seqLen: m.check.seqLen, maxTokens: CHECK_TOKENS }).perplexity;
    expect(Math.abs(ppl - m.check.perplexity) / m.check.perplexity).toBeLessThan(1e-3);
    s.dispose();
  });
});

describe('mm-moe-small', () => {
  test('extends text-moe-small with the VQ codes; CLIP-T re-measured on the fixed sample matches metrics.json', async () => {
    const { VQVAE } = await import('../../kernel-lib/image');
    const { ClipModel } = await import('../../kernel-lib/eval');
    const { openDataset, textOf } = await import('../../kernel-lib/data');
    const { generateForCaptions, CHECK_CAPTIONS } = await import('../../kernel-lib/recipes/mm-moe-small');
    const dir = path.join(CK, 'mm-moe-small');
    expect(fs.statSync(path.join(dir, 'model.safetensors')).size).toBeLessThan(15 * 1024 * 1024);
    const m = readMetrics('mm-moe-small');
    // the bar: images for held-out scene captions score CLIP-T clearly above the same images
    // against shuffled captions (paired difference over two standard errors), and the probe agrees
    expect(m.clip_t.heldOutSceneCaptions).toBeGreaterThanOrEqual(48);
    expect(m.clip_t.generated_vs_own_caption).toBeGreaterThan(m.clip_t.generated_vs_shuffled_caption);
    expect(m.clip_t.paired_difference.mean).toBeGreaterThan(2 * m.clip_t.paired_difference.standard_error);
    expect(m.conditioning_probe_test.gap).toBeGreaterThan(0);
    const s = await Session.load(dir);
    const vq = VQVAE.load(path.join(CK, 'vqvae-emoji'));
    expect(s.tokenizer.numImageCodes).toBe(vq.numCodes);
    expect(s.tokenizer.imageGrid).toEqual({ height: 8, width: 8 });
    // text ids are those of text-moe-small: the vocabulary was extended, not rebuilt
    const base = await Session.load(path.join(CK, 'text-moe-small'));
    expect(s.tokenizer.encodePrompt('a tiger to the left of an apple').ids).toEqual(base.tokenizer.encodePrompt('a tiger to the left of an apple').ids);
    base.dispose();
    const ds = await openDataset('scenes', { split: 'test' });
    const caps = Array.from({ length: CHECK_CAPTIONS }, (_, i) => textOf(ds.get(i).parts));
    const images = await generateForCaptions(s, vq, caps, { cfgScale: m.clip_t.sampling.cfgScale });
    const clip = ClipModel.load(path.join(CK, 'clip-emoji'));
    const own = clip.clipT(images, caps).mean;
    expect(Math.abs(own - m.check.clip_t_own_mean)).toBeLessThan(1e-3);
    clip.dispose();
    vq.dispose();
    s.dispose();
  });
});

describe('s1-plora and s1-lora (the PLoRA paper fine-tunes)', () => {
  const size = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? size(path.join(dir, e.name)) : fs.statSync(path.join(dir, e.name)).size), 0);

  // The clone-size budget of everything under data/checkpoints. It was 60 MB while one paper shipped; on 2026-12-06,
  // with all five papers' runs, it holds 61.3 MB (Liquid 13.6, ldm-emoji 8.3, MUMU 6.3, mm-moe-small 6.0, s1-lora and
  // s1-plora 6.0 each, text-moe-small 5.6, MiniGPT-5 4.6, …) before MoSS's rank sweep shipped; with all 45 MoSS runs
  // (11.4 MB of float16 adapters and scores) it holds 70.9 MB. 80 MB leaves room for a few more runs, not a new model.
  const ALL_SHIPPED_MB = 80;
  test(`each under 15 MB with its adapter; all shipped checkpoints under ${ALL_SHIPPED_MB} MB`, () => {
    for (const v of ['s1-plora', 's1-lora']) expect(size(path.join(CK, v)) + size(path.join(CK, `${v}-adapters`))).toBeLessThan(15 * 1024 * 1024);
    expect(size(CK)).toBeLessThan(ALL_SHIPPED_MB * 1024 * 1024);
  });

  test.each(['plora', 'lora'] as const)('s1-%s: frozen parts are bit-identical to text-moe-small; the adapter toggles as its kind says', async (variant) => {
    const { loadVariant } = await import('../../kernel-lib/papers/redundancy-aware-moe-plora/recipe');
    const { modalityCodes } = await import('../../kernel-lib/model/adapter-seam');
    const { session: s, adapter } = await loadVariant(path.join(CK, `s1-${variant}`), variant);
    const base = await Session.load(path.join(CK, 'text-moe-small'));
    const m = readMetrics(`s1-${variant}`);
    expect(m.variant).toBe(variant);
    expect(m.vocabulary.init).toBe('gromov-wasserstein');
    expect(adapter.spec.kind).toBe(variant);
    // text rows of the embedding and head, attention and norms: trained around, never changed
    const V0 = base.tokenizer.vocabSize;
    const H = base.config.hiddenSize;
    expect(Array.from(s.model.p('embed').dataSync().subarray(0, V0 * H))).toEqual(Array.from(base.model.p('embed').dataSync()));
    const head = s.model.p('lm_head').dataSync();
    const head0 = base.model.p('lm_head').dataSync();
    const V = s.config.vocabSize;
    for (const r of [0, 17, H - 1]) expect(Array.from(head.subarray(r * V, r * V + V0))).toEqual(Array.from(head0.subarray(r * V0, (r + 1) * V0)));
    expect(Array.from(s.model.p('blocks.0.attn.wqkv').dataSync())).toEqual(Array.from(base.model.p('blocks.0.attn.wqkv').dataSync()));
    // experts and routers trained
    expect(Array.from(s.model.p('blocks.0.moe.router').dataSync())).not.toEqual(Array.from(base.model.p('blocks.0.moe.router').dataSync()));
    // on text the Partial LoRA is exactly absent; plain LoRA is not
    const ids = [s.tokenizer.bos, ...s.tokenizer.bpe.encode('The jury said it did find that the election was conducted.')];
    const run = () => s.model.forward([ids], { capture: 'none', modalities: modalityCodes(ids, (id) => s.tokenizer.modalityOf(id)) }).logits;
    const on = run();
    adapter.enabled = false;
    const off = run();
    adapter.enabled = true;
    if (variant === 'plora') expect(Array.from(on)).toEqual(Array.from(off));
    else expect(Array.from(on)).not.toEqual(Array.from(off));
    base.dispose();
    s.dispose();
  });
});
