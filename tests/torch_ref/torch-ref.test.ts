/**
 * Behaviour of the PyTorch reference in scripts/torch_ref/ (run with Debian's /usr/bin/python3 + torch):
 * its self-checks (KV cache == full forward, sparse loop == dense, tie-break, naive float64 loop, F16 load,
 * aux loss), the `logits` CLI output encoding, and a smoke run of bench_torch.py. Needs torch: tests/helpers/torch.ts
 * decides (under npm test a missing torch fails; elsewhere it is skipped with a warning).
 */
import { spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeTorch, PYTHON } from '../helpers/torch';

const PY = PYTHON;
const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPTS = path.join(ROOT, 'scripts', 'torch_ref');

function py(args: string[], timeoutMs = 60_000): SpawnSyncReturns<string> {
  return spawnSync(PY, args, { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
}

interface EncodedTensor {
  dtype: string;
  shape: number[];
  encoding: string;
  data: string;
}
interface LayerRouting {
  layer: number;
  indices: number[][][];
  weights: EncodedTensor;
  probs?: EncodedTensor;
}
interface LogitsReport {
  format: string;
  ids: number[][];
  logits: EncodedTensor;
  routing: LayerRouting[];
}
interface SelfCheck {
  name: string;
  ok: boolean;
  max_abs_err?: number;
  tol?: number;
  detail: string;
}

/** Decode the documented TENSOR encoding: base64 of little-endian float32, row-major. */
function decodeTensor(t: EncodedTensor): Float32Array {
  expect(t.dtype).toBe('float32');
  expect(t.encoding).toBe('base64-f32le');
  const bytes = Buffer.from(t.data, 'base64');
  const out = new Float32Array(bytes.byteLength / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

const prod = (s: number[]): number => s.reduce((a, b) => a * b, 1);

function parseJson<T>(r: SpawnSyncReturns<string>, what: string): T {
  if (r.status !== 0) throw new Error(`${what} exited ${String(r.status)}:\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout) as T;
}

describeTorch('PyTorch Mixtral reference (scripts/torch_ref)', () => {
  let tmp = '';
  let ckpt = '';
  let cfg: { vocab_size: number; num_hidden_layers: number; num_local_experts: number; num_experts_per_tok: number };

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-ref-'));
    ckpt = path.join(tmp, 'tiny');
    const r = py([path.join(SCRIPTS, 'make_random_checkpoint.py'), ckpt, '--preset', 'tiny', '--std', '0.2', '--seed', '3']);
    parseJson<unknown>(r, 'make_random_checkpoint.py');
    cfg = JSON.parse(fs.readFileSync(path.join(ckpt, 'config.json'), 'utf8')) as typeof cfg;
  });

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('selfcheck.py', () => {
    let checks: SelfCheck[] = [];
    beforeAll(() => {
      const r = py([path.join(SCRIPTS, 'selfcheck.py')]);
      // selfcheck exits 1 on a failed check but still prints its JSON; parse whenever there is output
      if (!r.stdout) throw new Error(`selfcheck.py produced no output (exit ${String(r.status)}):\n${r.stderr}`);
      checks = (JSON.parse(r.stdout) as { checks: SelfCheck[] }).checks;
    });

    it.each([
      ['kv_cache', 'KV-cached steps equal the full forward (<= 1e-5)'],
      ['sparse_dense', 'sparse expert loop equals the dense zero-filled-gate computation (<= 1e-5)'],
      ['tie_break', 'equal router probabilities: lower expert index wins'],
      ['naive', 'vectorised model equals an independent float64 per-token loop (<= 1e-4)'],
      ['f16_load', 'F16 checkpoints load as float32 upcasts'],
      ['aux_loss', 'load-balancing loss matches a hand-computed value'],
    ])('%s: %s', (name) => {
      const c = checks.find((x) => x.name === name);
      expect(c).toBeDefined();
      if (!c!.ok) throw new Error(`${name} failed: ${c!.detail} (err ${String(c!.max_abs_err)}, tol ${String(c!.tol)})`);
      if (c!.tol !== undefined) expect(c!.max_abs_err!).toBeLessThanOrEqual(c!.tol);
    });
  });

  describe('logits CLI', () => {
    it('writes the documented encoding with shape [B, T, V] and per-layer routing', () => {
      const out = path.join(tmp, 'out.json');
      const r = py([path.join(SCRIPTS, 'mixtral_ref.py'), 'logits', '--checkpoint', ckpt, '--ids', '[[1,2,3],[4,5,6]]',
        '--out', out]);
      if (r.status !== 0) throw new Error(r.stderr);
      const rep = JSON.parse(fs.readFileSync(out, 'utf8')) as LogitsReport;
      expect(rep.format).toBe('switchboard-torch-ref/1');
      expect(rep.ids).toEqual([[1, 2, 3], [4, 5, 6]]);
      const V = cfg.vocab_size;
      const E = cfg.num_local_experts;
      const k = cfg.num_experts_per_tok;
      expect(rep.logits.shape).toEqual([2, 3, V]);
      const logits = decodeTensor(rep.logits);
      expect(logits.length).toBe(prod(rep.logits.shape));
      expect(logits.every((x) => Number.isFinite(x))).toBe(true);
      expect(new Set(Array.from(logits)).size).toBeGreaterThan(100); // real values, not a constant fill

      expect(rep.routing.map((l) => l.layer)).toEqual([...Array(cfg.num_hidden_layers).keys()]);
      for (const l of rep.routing) {
        expect(l.indices.length).toBe(2);
        for (const row of l.indices) {
          expect(row.length).toBe(3);
          for (const sel of row) {
            expect(sel.length).toBe(k);
            expect(new Set(sel).size).toBe(k);
            for (const e of sel) expect(Number.isInteger(e) && e >= 0 && e < E).toBe(true);
          }
        }
        expect(l.weights.shape).toEqual([2, 3, k]);
        expect(l.probs!.shape).toEqual([2, 3, E]);
        const w = decodeTensor(l.weights);
        const p = decodeTensor(l.probs!);
        for (let t = 0; t < 6; t++) {
          const sel = l.indices[Math.floor(t / 3)]![t % 3]!;
          const chosen = sel.map((e) => p[t * E + e]!);
          const z = chosen.reduce((a, b) => a + b, 0);
          let psum = 0;
          for (let e = 0; e < E; e++) psum += p[t * E + e]!;
          expect(psum).toBeCloseTo(1, 5);
          for (let j = 0; j < k; j++) {
            expect(w[t * k + j]!).toBeCloseTo(chosen[j]! / z, 6); // norm_topk_prob: renormalised, same order
            if (j > 0) expect(chosen[j - 1]!).toBeGreaterThanOrEqual(chosen[j]!); // best first
          }
        }
      }
    });

    it('accepts --ids-file with a flat list (one row) and rows are independent of the batch', () => {
      const idsFile = path.join(tmp, 'ids.json');
      fs.writeFileSync(idsFile, '[4, 5, 6]');
      const one = parseJson<LogitsReport>(py([path.join(SCRIPTS, 'mixtral_ref.py'), 'logits', '--checkpoint', ckpt,
        '--ids-file', idsFile, '--no-probs']), 'logits --ids-file');
      expect(one.logits.shape).toEqual([1, 3, cfg.vocab_size]);
      expect(one.routing[0]!.probs).toBeUndefined();
      const both = parseJson<LogitsReport>(py([path.join(SCRIPTS, 'mixtral_ref.py'), 'logits', '--checkpoint', ckpt,
        '--ids', '[[1,2,3],[4,5,6]]']), 'logits --ids');
      const a = decodeTensor(one.logits);
      const b = decodeTensor(both.logits).subarray(a.length);
      let err = 0;
      for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i]! - b[i]!));
      expect(err).toBeLessThanOrEqual(1e-5);
    });

    it('rejects out-of-range ids and ragged rows with a message', () => {
      const bad = py([path.join(SCRIPTS, 'mixtral_ref.py'), 'logits', '--checkpoint', ckpt, '--ids', `[[${cfg.vocab_size}]]`]);
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toMatch(/ids must lie in/);
      const ragged = py([path.join(SCRIPTS, 'mixtral_ref.py'), 'logits', '--checkpoint', ckpt, '--ids', '[[1,2],[3]]']);
      expect(ragged.status).not.toBe(0);
      expect(ragged.stderr).toMatch(/same length/);
    });
  });

  it('bench_torch.py --quick prints one JSON object with every measurement', () => {
    const r = py([path.join(SCRIPTS, 'bench_torch.py'), '--checkpoint', ckpt, '--quick', '--threads', '1']);
    const res = parseJson<Record<string, unknown>>(r, 'bench_torch.py');
    expect(res.threads).toBe(1);
    expect(typeof res.torch_version).toBe('string');
    type Mode = { tokens_per_s: number; runs: number[] };
    const dec = res.decode as Record<string, { position: number; capture_off: Mode; capture_on: Mode }>;
    expect(Object.keys(dec)).toEqual(['16']); // tiny: max_position_embeddings 128 leaves no room at 128 / 512
    expect(dec['16']!.capture_off.tokens_per_s).toBeGreaterThan(0);
    expect(dec['16']!.capture_on.tokens_per_s).toBeGreaterThan(0);
    expect((res.decode_settings as { skipped_positions: number[] }).skipped_positions).toEqual([128, 512]);
    expect((res.prefill as { tokens_per_s: number }).tokens_per_s).toBeGreaterThan(0);
    const img = res.image as { no_cfg: { seconds: number }; cfg: { seconds: number; scale: number }; code_range_source: string };
    expect(img.no_cfg.seconds).toBeGreaterThan(0);
    expect(img.cfg.seconds).toBeGreaterThan(0);
    expect(img.cfg.scale).toBe(3);
    expect(img.code_range_source).toMatch(/whole vocabulary/);
    const train = res.train as { tokens_per_s: number; ce_first: number };
    expect(train.tokens_per_s).toBeGreaterThan(0);
    expect(Number.isFinite(train.ce_first)).toBe(true);
  });
});
