/**
 * The size ladder's presets: each validates, its parameter counts match a hand formula, the ladder spans
 * at least 8× in non-embedding parameters, and `moe-h128` is text-moe-small's shipped size.
 */
import * as fs from 'fs';
import * as path from 'path';
import { defaultMoEConfig, PRESETS, SIZE_PRESETS, MoEConfig } from '../../kernel-lib/model/config';
import { countParams, countNonEmbeddingParams } from '../../kernel-lib/model/params';
import { parseHfConfig } from '../../kernel-lib/checkpoint/hf-config';

/** Per layer: qkv + o (MHA: 4·H²), two norms, router H·E, experts E·3·H·I; plus the final norm. */
function handNonEmbedding(H: number, L: number, E: number, I: number): number {
  return L * (4 * H * H + 2 * H + H * E + E * 3 * H * I) + H;
}

const expected: Record<string, { H: number; L: number }> = {
  'moe-h64': { H: 64, L: 4 },
  'moe-h96': { H: 96, L: 4 },
  'moe-h128': { H: 128, L: 4 },
  'moe-h192': { H: 192, L: 6 },
};

test.each(SIZE_PRESETS.map((n) => [n]))('%s: shape and parameter counts match the hand formula', (name) => {
  const c = defaultMoEConfig(name);
  const { H, L } = expected[name];
  expect([c.hiddenSize, c.numLayers, c.numExperts, c.topK, c.intermediateSize, c.hiddenSize / c.numHeads]).toEqual([H, L, 16, 4, H / 2, 32]);
  const ne = handNonEmbedding(H, L, 16, H / 2);
  expect(countNonEmbeddingParams(c)).toBe(ne);
  expect(countParams(c)).toBe(ne + 2 * 4096 * H);
});

test('hand numbers for the ends of the ladder', () => {
  // h64: 4·(16384 + 128 + 1024 + 98304) + 64; h192: 6·(147456 + 384 + 3072 + 884736) + 192.
  expect(countNonEmbeddingParams(PRESETS['moe-h64'])).toBe(463424);
  expect(countNonEmbeddingParams(PRESETS['moe-h192'])).toBe(6214080);
});

test('the ladder spans at least 8× in non-embedding parameters and grows at every rung', () => {
  const n = SIZE_PRESETS.map((p) => countNonEmbeddingParams(PRESETS[p]));
  for (let i = 1; i < n.length; i++) expect(n[i]).toBeGreaterThan(n[i - 1]);
  expect(n[n.length - 1] / n[0]).toBeGreaterThanOrEqual(8);
});

test('moe-h128 is the size of the shipped text-moe-small (but for its vocabulary)', () => {
  const dir = path.resolve(__dirname, '../../data/checkpoints/text-moe-small/config.json');
  const shipped = parseHfConfig(JSON.parse(fs.readFileSync(dir, 'utf8'))).config;
  const preset: MoEConfig = { ...PRESETS['moe-h128'], vocabSize: shipped.vocabSize };
  expect(preset).toEqual(shipped);
  expect(PRESETS['moe-h128']).toEqual(PRESETS.small);
});
