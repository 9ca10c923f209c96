/**
 * The independent check: scripts/torch_ref/mixtral_ref.py (a PyTorch Mixtral forward written from the
 * formula) loads the checkpoint Switchboard saved and must give the same logits (≤ 1e-4) and the same
 * routing for fixed sequences. Torch tests follow tests/helpers/torch.ts: under npm test a missing torch fails.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { useBackend, maxAbsDiff } from '../helpers/backend';
import { PYTHON, describeTorch, decodeF32 } from '../helpers/torch';
import { tinyTokenizer } from '../helpers/fixtures';
import { Session } from '../../kernel-lib/session';

const REF = path.resolve(__dirname, '../../scripts/torch_ref/mixtral_ref.py');
let tmp: string;
beforeAll(async () => {
  await useBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-torch-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function torchLogits(dir: string, ids: number[][]) {
  const r = spawnSync(PYTHON, [REF, 'logits', '--checkpoint', dir, '--ids', JSON.stringify(ids)], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`mixtral_ref.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { logits: { data: string; shape: number[] }; routing: { indices: number[][][]; weights: { data: string; shape: number[] } }[] };
}

const CASES: [string, Record<string, unknown>, 'float32' | 'float16'][] = [
  ['tiny (GQA 4/2, 4 experts top-2)', {}, 'float32'],
  ['tiny, shared expert, tied embeddings, no renormalisation', { sharedExpertSize: 24, tieWordEmbeddings: true, normTopKProb: false }, 'float32'],
  ['small preset shape (16 experts top-4), float16 weights', { hiddenSize: 64, intermediateSize: 32, numExperts: 16, topK: 4, numLayers: 3 }, 'float16'],
];

describeTorch('PyTorch cross-check', () => {
  test.each(CASES)('PyTorch reference gives the same logits and routing: %s', async (_name, config, dtype) => {
    let s = await Session.create(tinyTokenizer(), { preset: 'tiny', seed: 5, config: { ...config, initStd: 0.2 } });
    const dir = path.join(tmp, `${_name.replace(/\W+/g, '-')}`);
    if (dtype === 'float16') {
      // compare against the float16-rounded weights: the checkpoint is what both sides run
      s.save(dir, { dtype });
      s.dispose();
      s = await Session.load(dir);
    } else {
      s.save(dir, { dtype });
    }
    const t = s.tokenizer;
    const ids = [
      s.encode('a tiger to the left of an apple').ids.slice(0, 12),
      [t.bos, t.boi, ...Array.from({ length: 10 }, (_, i) => t.imageCodeId((i * 7) % 32))],
    ];
    const ref = torchLogits(dir, ids);
    const ours = s.model.forward(ids);
    expect(ref.logits.shape).toEqual(ours.shape);
    expect(maxAbsDiff(decodeF32(ref.logits), ours.logits)).toBeLessThanOrEqual(1e-4);
    ours.routing.forEach((l, i) => {
      const k = s.config.topK;
      const refIdx = ref.routing[i].indices.flat(2);
      expect(Array.from(l.experts)).toEqual(refIdx);
      expect(maxAbsDiff(decodeF32(ref.routing[i].weights), l.weights)).toBeLessThanOrEqual(1e-5);
      expect(refIdx).toHaveLength(ids.length * ids[0].length * k);
    });
    // and the KV-cached decode path agrees with the reference too (last position)
    const { cache } = s.model.prefill(ids[1].slice(0, 11));
    const step = s.model.step(cache, ids[1][11]);
    cache.dispose();
    const V = s.config.vocabSize;
    const T = ids[0].length;
    expect(maxAbsDiff(step.logits, decodeF32(ref.logits).subarray((T + T - 1) * V, 2 * T * V))).toBeLessThanOrEqual(1e-4);
    s.dispose();
  });
});
