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
