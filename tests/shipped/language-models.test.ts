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
