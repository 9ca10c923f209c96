/**
 * Cross-checks with PyTorch through scripts/torch_ref/safetensors_io.py (the module the PyTorch
 * reference model imports): Python reads what TypeScript saved (names, shapes, exact values, and
 * torch's own float16 rounding), and TypeScript reads what Python wrote. Needs torch: tests/helpers/torch.ts
 * decides (under npm test a missing torch fails; elsewhere it is skipped with a warning).
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { decodeSafetensors, loadCheckpoint, readSafetensors, saveCheckpoint } from '../../kernel-lib/checkpoint';
import { defaultMoEConfig } from '../../kernel-lib/model/config';
import { initHostParams, mixtralTensorShapes } from '../../kernel-lib/model/params';
import { makeTempDir, sameBits } from './helpers';
import { describeTorch, PYTHON } from '../helpers/torch';

const SCRIPT = path.join(__dirname, 'torch_check.py');

interface Described { name: string; dtype: string; shape: number[]; sha256: string; sum: number }
interface Report {
  torch: string;
  f32: Described[];
  f16: Described[];
  metadata: [Record<string, string> | null, Record<string, string> | null];
  half_matches_torch: boolean;
  mixed: Described[];
}

const sha = (d: Float32Array): string => createHash('sha256').update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)).digest('hex');
const sum = (d: Float32Array): number => d.reduce((a, b) => a + b, 0);

describeTorch('PyTorch interop', () => {
  test('PyTorch reads our checkpoints and we read its files, value for value', () => {
    const root = makeTempDir('torch');
    try {
      const cfg = defaultMoEConfig('tiny', { sharedExpertSize: 16 });
      const params = initHostParams(cfg, 11);
      const tokenizer = { model: { type: 'BPE', vocab: { a: 0 } } };
      const layout = { vocabSize: cfg.vocabSize };
      const ck32 = path.join(root, 'f32');
      const ck16 = path.join(root, 'f16');
      saveCheckpoint(ck32, { config: cfg, params, tokenizer, tokenizerLayout: layout });
      saveCheckpoint(ck16, { config: cfg, params, tokenizer, tokenizerLayout: layout, dtype: 'float16' });

      const run = spawnSync(PYTHON, [SCRIPT, path.join(ck32, 'model.safetensors'), path.join(ck16, 'model.safetensors'), root],
        { encoding: 'utf8', maxBuffer: 64 << 20 });
      if (run.status !== 0) throw new Error(`torch_check.py failed:\n${run.stderr}`);
      const report = JSON.parse(run.stdout) as Report;

      // Python sees our names in our order, our shapes, and exactly our values.
      const names = [...mixtralTensorShapes(cfg).keys()];
      for (const [which, dtype, file] of [['f32', 'float32', ck32], ['f16', 'float16', ck16]] as const) {
        const ours = readSafetensors(path.join(file, 'model.safetensors')).tensors;
        expect(report[which].map((d) => d.name)).toEqual(names);
        for (const d of report[which]) {
          const t = ours.get(d.name)!;
          expect(d.dtype).toBe(dtype);
          expect(d.shape).toEqual(t.shape);
          expect(d.sha256).toBe(sha(t.data));
          expect(d.sum).toBeCloseTo(sum(t.data), 6);
        }
      }
      expect(report.metadata).toEqual([{ format: 'pt' }, { format: 'pt' }]);
      expect(report.half_matches_torch).toBe(true); // our float16 rounding is bit-identical to torch's

      // A checkpoint whose weights PyTorch wrote (in another order) loads bit-exactly.
      fs.copyFileSync(path.join(root, 'resaved_f32.safetensors'), path.join(ck32, 'model.safetensors'));
      const loaded = loadCheckpoint(ck32);
      for (const [name, t] of params) expect(sameBits(loaded.params.get(name)!.data, t.data)).toBe(true);

      // BF16 / F16 / F32 written by torch read back to the values torch holds.
      const mixed = decodeSafetensors(fs.readFileSync(path.join(root, 'mixed.safetensors')), 'mixed.safetensors');
      expect(mixed.metadata).toEqual({ format: 'pt', writer: 'torch_check' });
      expect([...mixed.tensors.keys()]).toEqual(names);
      const dtypeName = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
      for (const d of report.mixed) {
        const t = mixed.tensors.get(d.name)!;
        expect(dtypeName[t.dtype]).toBe(d.dtype);
        expect(t.shape).toEqual(d.shape);
        expect(sha(t.data)).toBe(d.sha256);
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
