import { CheckpointError, parseHfConfig, toHfConfig } from '../../kernel-lib/checkpoint';
import { defaultMoEConfig } from '../../kernel-lib/model/config';

const cfg = defaultMoEConfig('tiny', { sharedExpertSize: 16, normTopKProb: false });
const layout = { vocabSize: 512, textVocabSize: 400, imageCodes: 100 };

/** A real Mixtral-8x7B config.json, as transformers writes it (extra keys included). */
const MIXTRAL_8X7B = {
  architectures: ['MixtralForCausalLM'], attention_dropout: 0.0, bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu',
  hidden_size: 4096, initializer_range: 0.02, intermediate_size: 14336, max_position_embeddings: 32768,
  model_type: 'mixtral', num_attention_heads: 32, num_experts_per_tok: 2, num_hidden_layers: 32,
  num_key_value_heads: 8, num_local_experts: 8, output_router_logits: false, rms_norm_eps: 1e-5, rope_theta: 1e6,
  router_aux_loss_coef: 0.02, sliding_window: null, tie_word_embeddings: false, torch_dtype: 'bfloat16',
  transformers_version: '4.36.0.dev0', use_cache: true, vocab_size: 32000,
};

function expectError(json: unknown, message: string): void {
  let err: unknown;
  try {
    parseHfConfig(json);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CheckpointError);
  expect((err as CheckpointError).message).toBe(message);
  expect((err as CheckpointError).file).toBe('config.json');
}

test('toHfConfig writes Mixtral keys and a switchboard block', () => {
  const json = toHfConfig(cfg, { tokenizerLayout: layout, extra: { training: { steps: 100 } }, torchDtype: 'float16' });
  expect(json).toEqual({
    architectures: ['MixtralForCausalLM'], model_type: 'mixtral', hidden_act: 'silu',
    vocab_size: 512, hidden_size: 32, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, num_local_experts: 4, num_experts_per_tok: 2, max_position_embeddings: 128,
    rope_theta: 10000, rms_norm_eps: 1e-5, tie_word_embeddings: false, router_aux_loss_coef: 0.01,
    initializer_range: 0.02, torch_dtype: 'float16',
    switchboard: {
      format_version: 1, norm_topk_prob: false, shared_expert_size: 16, tokenizer_layout: layout, training: { steps: 100 },
    },
  });
});

test('round trip through JSON text', () => {
  const json = JSON.parse(JSON.stringify(toHfConfig(cfg, { tokenizerLayout: layout, extra: { note: 'x' }, torchDtype: 'float32' })));
  expect(parseHfConfig(json)).toEqual({ config: cfg, tokenizerLayout: layout, extra: { note: 'x' }, torchDtype: 'float32' });
});

test('a stock Mixtral config reads, unknown keys ignored, Mixtral defaults for the rest', () => {
  const parsed = parseHfConfig(MIXTRAL_8X7B);
  expect(parsed.config).toEqual({
    vocabSize: 32000, hiddenSize: 4096, intermediateSize: 14336, numLayers: 32, numHeads: 32, numKvHeads: 8,
    numExperts: 8, topK: 2, normTopKProb: true, sharedExpertSize: 0, ropeTheta: 1e6, rmsNormEps: 1e-5,
    maxPositions: 32768, tieWordEmbeddings: false, routerAuxLossCoef: 0.02, initStd: 0.02,
  });
  expect(parsed.tokenizerLayout).toBeNull();
  expect(parsed.extra).toEqual({});
  expect(parsed.torchDtype).toBe('bfloat16');
});

describe('parse errors name the key', () => {
  const good = JSON.parse(JSON.stringify(toHfConfig(cfg, { tokenizerLayout: layout })));
  const without = (key: string): Record<string, unknown> => {
    const c = JSON.parse(JSON.stringify(good));
    delete c[key];
    return c;
  };
  const withValue = (key: string, v: unknown): Record<string, unknown> => ({ ...JSON.parse(JSON.stringify(good)), [key]: v });
  const withBlock = (key: string, v: unknown): Record<string, unknown> => {
    const c = JSON.parse(JSON.stringify(good));
    if (v === undefined) delete c.switchboard[key];
    else c.switchboard[key] = v;
    return c;
  };

  test.each([
    'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads',
    'num_local_experts', 'num_experts_per_tok', 'max_position_embeddings', 'rope_theta', 'rms_norm_eps',
    'tie_word_embeddings', 'router_aux_loss_coef', 'initializer_range', 'model_type',
  ])('missing %s', (key) => expectError(without(key), `config.json: missing "${key}"`));

  test('wrong types', () => {
    expectError(withValue('hidden_size', '32'), 'config.json: "hidden_size" must be a number, got "32"');
    expectError(withValue('rope_theta', null), 'config.json: "rope_theta" must be a number, got null');
    expectError(withValue('tie_word_embeddings', 0), 'config.json: "tie_word_embeddings" must be a boolean, got 0');
    expectError(withBlock('norm_topk_prob', 'yes'), 'config.json: "switchboard.norm_topk_prob" must be a boolean, got "yes"');
    expectError(withBlock('shared_expert_size', undefined), 'config.json: missing "switchboard.shared_expert_size"');
    expectError(withValue('switchboard', [1]), 'config.json: "switchboard" must be an object, got [1]');
    expectError(withBlock('tokenizer_layout', 'bpe'), 'config.json: "switchboard.tokenizer_layout" must be an object or null, got "bpe"');
    expectError([good], 'config.json: not a JSON object');
  });

  test('bad values go through validateMoEConfig, with the key named', () => {
    expectError(withValue('num_experts_per_tok', 8), 'config.json: MoEConfig.topK (8) must be at most numExperts (4) (key "num_experts_per_tok")');
    expectError(withValue('hidden_size', 32.5), 'config.json: MoEConfig.hiddenSize must be a positive integer, got 32.5 (key "hidden_size")');
    expectError(withValue('rms_norm_eps', -1), 'config.json: MoEConfig.rmsNormEps must be a positive finite number, got -1 (key "rms_norm_eps")');
    expectError(withBlock('shared_expert_size', -2),
      'config.json: MoEConfig.sharedExpertSize must be a non-negative integer (0 = no shared expert), got -2 (key "switchboard.shared_expert_size")');
  });

  test('model_type, hidden_act, torch_dtype, format_version, layout vocabulary', () => {
    expectError(withValue('model_type', 'llama'), 'config.json: "model_type" must be "mixtral", got "llama"');
    expectError(withValue('hidden_act', 'gelu'), 'config.json: "hidden_act" must be "silu" (the only activation Switchboard implements), got "gelu"');
    expectError(withValue('torch_dtype', 'int8'), 'config.json: "torch_dtype" must be one of "float32", "float16", "bfloat16", got "int8"');
    expectError(withBlock('format_version', 2), 'config.json: "switchboard.format_version" is 2; this Switchboard reads format 1');
    expectError(withBlock('format_version', undefined), 'config.json: missing "switchboard.format_version"');
    expectError(withBlock('tokenizer_layout', { vocabSize: 600 }),
      'config.json: "vocab_size" is 512 but switchboard.tokenizer_layout.vocabSize is 600; the embedding and the tokenizer disagree');
  });

  test('a file path given to parseHfConfig prefixes its messages', () => {
    expect(() => parseHfConfig(without('hidden_size'), '/ck/config.json')).toThrow(/^\/ck\/config\.json: missing "hidden_size"$/);
  });
});

test('toHfConfig refuses what would not survive JSON or would collide', () => {
  expect(() => toHfConfig(cfg, { extra: { lr: NaN } })).toThrow('config.json: extra.lr is NaN, which JSON cannot hold');
  expect(() => toHfConfig(cfg, { extra: { when: new Date(0) } })).toThrow('config.json: extra.when is a Date, not a plain JSON object');
  expect(() => toHfConfig(cfg, { extra: { f: undefined } })).toThrow('config.json: extra.f is undefined, which JSON cannot hold');
  expect(() => toHfConfig(cfg, { extra: { format_version: 2 } })).toThrow('config.json: extra key "format_version" is reserved in the switchboard block');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  expect(() => toHfConfig(cfg, { tokenizerLayout: cyclic })).toThrow('config.json: tokenizer_layout.self refers back to itself (a cycle)');
  expect(() => toHfConfig(cfg, { tokenizerLayout: { vocabSize: 7 } }))
    .toThrow('config.json: "vocab_size" is 512 but switchboard.tokenizer_layout.vocabSize is 7; the embedding and the tokenizer disagree');
  expect(() => toHfConfig({ ...cfg, topK: 9 })).toThrow('config.json: MoEConfig.topK (9) must be at most numExperts (4)');
});

test('size fields are bounded: an absurd max_position_embeddings is refused naming file and key (issue 12.12)', () => {
  expectError({ ...MIXTRAL_8X7B, max_position_embeddings: 1e7 }, 'config.json: MoEConfig.maxPositions must be at most 1048576, got 10000000 (key "max_position_embeddings")');
  expectError({ ...MIXTRAL_8X7B, max_position_embeddings: 1e12 }, 'config.json: MoEConfig.maxPositions must be at most 1048576, got 1000000000000 (key "max_position_embeddings")');
  expectError({ ...MIXTRAL_8X7B, num_hidden_layers: 5000 }, 'config.json: MoEConfig.numLayers must be at most 1024, got 5000 (key "num_hidden_layers")');
  expectError({ ...MIXTRAL_8X7B, vocab_size: 1e9 }, 'config.json: MoEConfig.vocabSize must be at most 2097152, got 1000000000 (key "vocab_size")');
  expectError({ ...MIXTRAL_8X7B, num_local_experts: 64, num_experts_per_tok: 2 },
    'config.json: MoEConfig.intermediateSize: the stacked experts (hiddenSize × 2 × numExperts × intermediateSize) would hold 7516192768 numbers, more than one weight array can (2147483647) (key "intermediate_size")');
  expectError({ ...MIXTRAL_8X7B, switchboard: { format_version: 1, norm_topk_prob: true, shared_expert_size: 1e6 } },
    'config.json: MoEConfig.sharedExpertSize must be at most 262144, got 1000000 (key "switchboard.shared_expert_size")');
  // the largest real values stay accepted
  expect(parseHfConfig({ ...MIXTRAL_8X7B, max_position_embeddings: 1 << 20 }).config.maxPositions).toBe(1 << 20);
});
