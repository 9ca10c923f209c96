import * as fs from 'fs';
import * as path from 'path';
import {
  CheckpointError, decodeSafetensors, encodeSafetensors, readSafetensors, roundToFloat16, writeSafetensors,
} from '../../kernel-lib/checkpoint';
import { HostTensor } from '../../kernel-lib/model/params';
import { mulberry32, normalArray } from '../../kernel-lib/util/random';
import { assemble, disassemble, f32Bytes, makeTempDir, sameBits } from './helpers';

const F = 'x.safetensors';

/** Decoding `bytes` must throw a CheckpointError with exactly this message (and tensor, when given). */
function expectError(bytes: Uint8Array, message: string | RegExp, tensor?: string): void {
  let err: unknown;
  try {
    decodeSafetensors(bytes, F);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CheckpointError);
  const ce = err as CheckpointError;
  if (typeof message === 'string') expect(ce.message).toBe(message);
  else expect(ce.message).toMatch(message);
  expect(ce.file).toBe(F);
  expect(ce.tensor).toBe(tensor);
}

const entry = (dtype: string, shape: unknown, offsets: unknown): Record<string, unknown> => ({ dtype, shape, data_offsets: offsets });

describe('decodeSafetensors on hand-built bytes', () => {
  test('reads F16, F32, BF16, a scalar and an empty tensor, in header order, with metadata', () => {
    const header = JSON.stringify({
      b: entry('F16', [2], [0, 4]),
      a: entry('F32', [1, 2], [4, 12]),
      '10': entry('BF16', [], [12, 14]),
      empty: entry('F32', [0, 3], [14, 14]),
      __metadata__: { format: 'pt' },
    });
    // JSON.stringify moved "10" first; the reader must report the order of the text.
    expect(header.startsWith('{"10"')).toBe(true);
    const buffer = new Uint8Array([
      0x00, 0x3c, 0x00, 0xc0, // F16 1, -2
      0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x40, 0x40, // F32 0.5, 3
      0xc0, 0x3f, // BF16 1.5
    ]);
    const { tensors, metadata } = decodeSafetensors(assemble(`${header}   `, buffer), F);
    expect([...tensors.keys()]).toEqual(['10', 'b', 'a', 'empty']);
    expect(tensors.get('b')).toEqual({ dtype: 'F16', shape: [2], data: new Float32Array([1, -2]) });
    expect(tensors.get('a')).toEqual({ dtype: 'F32', shape: [1, 2], data: new Float32Array([0.5, 3]) });
    expect(tensors.get('10')).toEqual({ dtype: 'BF16', shape: [], data: new Float32Array([1.5]) });
    expect(tensors.get('empty')).toEqual({ dtype: 'F32', shape: [0, 3], data: new Float32Array(0) });
    expect(metadata).toEqual({ format: 'pt' });
  });

  test('an empty header {} with no buffer is a valid empty file', () => {
    const { tensors, metadata } = decodeSafetensors(assemble('{}      '), F);
    expect(tensors.size).toBe(0);
    expect(metadata).toBeNull();
  });

  test('NaN and Inf values are allowed by the format (the checkpoint layer rejects them)', () => {
    const bytes = assemble(JSON.stringify({ w: entry('F32', [2], [0, 8]) }), f32Bytes([NaN, -Infinity]));
    const w = decodeSafetensors(bytes, F).tensors.get('w')!;
    expect(w.data[0]).toBeNaN();
    expect(w.data[1]).toBe(-Infinity);
  });
});

describe('encodeSafetensors', () => {
  test('writes the exact bytes: u64 length, header padded with spaces to 8, data in the given order', () => {
    const bytes = encodeSafetensors(
      [['z', { shape: [2], data: new Float32Array([1, -2]) }], ['a', { shape: [], data: new Float32Array([0.5]) }]],
      { metadata: { format: 'pt' } },
    );
    const json = '{"__metadata__":{"format":"pt"},"z":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}';
    const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
    expect(padded.length % 8).toBe(0);
    expect(Buffer.from(bytes).equals(Buffer.from(assemble(padded, f32Bytes([1, -2, 0.5]))))).toBe(true);
  });

  test('F16 writes half bits little-endian', () => {
    const bytes = encodeSafetensors([['h', { shape: [3], data: new Float32Array([1, -2, 65520]) }]], { dtype: 'F16' });
    const { header, buffer } = disassemble(bytes);
    expect(header).toEqual({ h: entry('F16', [3], [0, 6]) });
    expect([...buffer]).toEqual([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c]);
  });

  test('keeps integer-like names in the given order', () => {
    const t = { shape: [1], data: new Float32Array([1]) };
    const bytes = encodeSafetensors([['b', t], ['2', t], ['1', t]]);
    expect([...decodeSafetensors(bytes, F).tensors.keys()]).toEqual(['b', '2', '1']);
  });

  test('round trip: F32 bit-exact (NaN payload, -0, Inf, subnormals), F16 equals roundToFloat16', () => {
    const rand = mulberry32(3);
    const special = new Float32Array(new Uint32Array([0x7fc00123, 0x80000000, 0x7f800000, 0x00000001, 0xff7fffff]).buffer);
    const tensors = new Map<string, HostTensor>([
      ['model.embed_tokens.weight', { shape: [17, 8], data: normalArray(136, 1, rand) }],
      ['special', { shape: [5], data: special }],
      ['scalar', { shape: [], data: new Float32Array([Math.PI]) }],
      ['empty', { shape: [3, 0], data: new Float32Array(0) }],
      ['big', { shape: [3, 5, 7], data: normalArray(105, 1000, rand) }],
    ]);
    const back = decodeSafetensors(encodeSafetensors(tensors), F).tensors;
    expect([...back.keys()]).toEqual([...tensors.keys()]);
    for (const [name, t] of tensors) {
      expect(back.get(name)!.shape).toEqual(t.shape);
      expect(back.get(name)!.dtype).toBe('F32');
      expect(sameBits(back.get(name)!.data, t.data)).toBe(true);
    }
    const half = decodeSafetensors(encodeSafetensors(tensors, { dtype: 'F16' }), F).tensors;
    for (const [name, t] of tensors) {
      expect(half.get(name)!.dtype).toBe('F16');
      expect(half.get(name)!.data).toEqual(roundToFloat16(t.data));
    }
  });

  test('writeSafetensors / readSafetensors through a file, leaving no temp files', () => {
    const dir = makeTempDir('st');
    try {
      const file = path.join(dir, 'w.safetensors');
      const t = { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) };
      writeSafetensors(file, [['w', t]], { metadata: { step: '7' } });
      expect(fs.readdirSync(dir)).toEqual(['w.safetensors']);
      const back = readSafetensors(file);
      expect(back.tensors.get('w')!.data).toEqual(t.data);
      expect(back.metadata).toEqual({ step: '7' });
      expect(() => readSafetensors(path.join(dir, 'nope.safetensors'))).toThrow(`${path.join(dir, 'nope.safetensors')}: file not found`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('refuses bad input, naming the tensor', () => {
    const ok = { shape: [2], data: new Float32Array(2) };
    expect(() => encodeSafetensors([['w', { shape: [2, 2], data: new Float32Array(3) }]], {}, F))
      .toThrow('x.safetensors: tensor "w" has 3 values, but shape [2,2] needs 4');
    expect(() => encodeSafetensors([['w', { shape: [-1], data: new Float32Array(0) }]], {}, F))
      .toThrow('x.safetensors: tensor "w" has shape [-1]; dims must be non-negative integers');
    expect(() => encodeSafetensors([['w', ok], ['w', ok]], {}, F)).toThrow('x.safetensors: tensor "w" is given twice');
    expect(() => encodeSafetensors([['__metadata__', ok]], {}, F))
      .toThrow('x.safetensors: "__metadata__" is reserved and cannot name a tensor');
    expect(() => encodeSafetensors([['w', ok]], { metadata: { step: 7 as unknown as string } }, F))
      .toThrow('x.safetensors: "__metadata__" must map strings to strings, but "step" is 7');
  });
});

describe('decodeSafetensors rejects corrupt files with exact messages', () => {
  // w: F32 [2,3] at [0,24]; b: F32 [3] at [24,36].
  const good = encodeSafetensors([
    ['w', { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }],
    ['b', { shape: [3], data: new Float32Array([7, 8, 9]) }],
  ]);
  const n = Number(new DataView(good.buffer).getBigUint64(0, true));
  const buf = good.slice(8 + n);
  const hdr = (o: Record<string, unknown>): string => JSON.stringify(o);

  test('the good file decodes', () => {
    expect(n % 8).toBe(0);
    expect(good.length).toBe(8 + n + 36);
    expect(decodeSafetensors(good, F).tensors.get('b')!.data).toEqual(new Float32Array([7, 8, 9]));
  });

  test('truncated at several points', () => {
    expectError(good.slice(0, 0), 'x.safetensors: file is 0 bytes, shorter than the 8-byte header length');
    expectError(good.slice(0, 5), 'x.safetensors: file is 5 bytes, shorter than the 8-byte header length');
    expectError(good.slice(0, 8), `x.safetensors: header length ${n} runs past the end of the file (8 bytes; the file may be truncated)`);
    const mid = 8 + Math.floor(n / 2);
    expectError(good.slice(0, mid), `x.safetensors: header length ${n} runs past the end of the file (${mid} bytes; the file may be truncated)`);
    expectError(good.slice(0, 8 + n),
      'x.safetensors: tensor "w": data_offsets [0,24] run past the end of the byte buffer (0 bytes; the file may be truncated)', 'w');
    expectError(good.slice(0, 8 + n + 30),
      'x.safetensors: tensor "b": data_offsets [24,36] run past the end of the byte buffer (30 bytes; the file may be truncated)', 'b');
    expectError(good.slice(0, good.length - 1),
      'x.safetensors: tensor "b": data_offsets [24,36] run past the end of the byte buffer (35 bytes; the file may be truncated)', 'b');
  });

  test('header length flipped', () => {
    const flipped = good.slice();
    flipped[7] ^= 0x80; // top bit of the u64
    const huge = (1n << 63n) + BigInt(n);
    expectError(flipped, `x.safetensors: header length ${huge} runs past the end of the file (${good.length} bytes; the file may be truncated)`);
    const jsonLen = Buffer.from(good.subarray(8, 8 + n)).toString('utf8').trimEnd().length;
    const short = good.slice();
    new DataView(short.buffer).setBigUint64(0, BigInt(jsonLen - 1), true); // cuts the closing brace off
    expectError(short, /^x\.safetensors: header is not valid JSON \(.+\)$/);
  });

  test('header not UTF-8, not JSON, not an object, not starting with "{"', () => {
    const bad = assemble('{"a":1}');
    bad[10] = 0xff;
    expectError(bad, 'x.safetensors: header is not valid UTF-8');
    expectError(assemble('{"w": {"dtype": "F32",'), /^x\.safetensors: header is not valid JSON \(.+\)$/);
    expectError(assemble('[1,2]   '), 'x.safetensors: header is not a JSON object (got an array)');
    expectError(assemble('null    '), 'x.safetensors: header is not a JSON object (got null)');
    expectError(assemble('42      '), 'x.safetensors: header is not a JSON object (got number)');
    expectError(assemble('  {}    '), 'x.safetensors: header must begin with "{" (only trailing spaces may pad it)');
  });

  test('entry missing dtype / shape / data_offsets, or not an object', () => {
    expectError(assemble(hdr({ w: { shape: [2, 3], data_offsets: [0, 24] } }), buf.slice(0, 24)), 'x.safetensors: tensor "w": missing "dtype"', 'w');
    expectError(assemble(hdr({ w: { dtype: 'F32', data_offsets: [0, 24] } }), buf.slice(0, 24)), 'x.safetensors: tensor "w": missing "shape"', 'w');
    expectError(assemble(hdr({ w: { dtype: 'F32', shape: [2, 3] } }), buf.slice(0, 24)), 'x.safetensors: tensor "w": missing "data_offsets"', 'w');
    expectError(assemble(hdr({ w: [1, 2] }), buf.slice(0, 24)), 'x.safetensors: tensor "w": entry is not an object', 'w');
  });

  test('unsupported dtype', () => {
    expectError(assemble(hdr({ w: entry('I64', [3], [0, 24]) }), buf.slice(0, 24)),
      'x.safetensors: tensor "w": unsupported dtype "I64" (supported: F32, F16, BF16)', 'w');
    expectError(assemble(hdr({ w: entry(4 as unknown as string, [3], [0, 24]) }), buf.slice(0, 24)),
      'x.safetensors: tensor "w": unsupported dtype 4 (supported: F32, F16, BF16)', 'w');
  });

  test('negative or non-integer shape dims', () => {
    for (const shape of [[2, -3], [2, 1.5], ['2', 3], 6, [2, null]]) {
      expectError(assemble(hdr({ w: entry('F32', shape, [0, 24]) }), buf.slice(0, 24)),
        `x.safetensors: tensor "w": shape ${JSON.stringify(shape)} must be a list of non-negative integers`, 'w');
    }
  });

  test('malformed, out-of-range, or wrongly sized offsets', () => {
    for (const offs of [[24, 0], [0], [0, 24, 36], [-4, 20], [0, 2.5], '0,24']) {
      expectError(assemble(hdr({ w: entry('F32', [2, 3], offs) }), buf.slice(0, 24)),
        `x.safetensors: tensor "w": data_offsets ${JSON.stringify(offs)} must be [begin, end] with integers 0 <= begin <= end`, 'w');
    }
    expectError(assemble(hdr({ w: entry('F32', [2, 3], [12, 36]) }), buf.slice(0, 24)),
      'x.safetensors: tensor "w": data_offsets [12,36] run past the end of the byte buffer (24 bytes; the file may be truncated)', 'w');
    expectError(assemble(hdr({ w: entry('F32', [2, 3], [0, 20]) }), buf.slice(0, 24)),
      'x.safetensors: tensor "w": data_offsets [0,20] hold 20 bytes, but shape [2,3] of F32 needs 24', 'w');
    expectError(assemble(hdr({ w: entry('F16', [2, 3], [0, 24]) }), buf.slice(0, 24)),
      'x.safetensors: tensor "w": data_offsets [0,24] hold 24 bytes, but shape [2,3] of F16 needs 12', 'w');
  });

  test('overlapping offsets', () => {
    expectError(assemble(hdr({ w: entry('F32', [2, 3], [0, 24]), b: entry('F32', [3], [20, 32]) }), buf.slice(0, 32)),
      'x.safetensors: tensors "w" and "b" overlap (data_offsets [0,24] and [20,32])', 'b');
    // the same range twice (two names aliasing one buffer)
    expectError(assemble(hdr({ w: entry('F32', [3], [0, 12]), b: entry('F32', [3], [0, 12]) }), buf.slice(0, 12)),
      'x.safetensors: tensors "w" and "b" overlap (data_offsets [0,12] and [0,12])', 'b');
  });

  test('holes and trailing bytes: the tensors must cover the byte buffer exactly', () => {
    expectError(assemble(hdr({ w: entry('F32', [3], [0, 12]), b: entry('F32', [3], [16, 28]) }), buf.slice(0, 28)),
      'x.safetensors: bytes [12,16) of the byte buffer belong to no tensor (a hole before tensor "b")', 'b');
    expectError(assemble(hdr({ b: entry('F32', [3], [4, 16]) }), buf.slice(0, 16)),
      'x.safetensors: bytes [0,4) of the byte buffer belong to no tensor (a hole before tensor "b")', 'b');
    const longer = new Uint8Array(good.length + 4);
    longer.set(good);
    expectError(longer, 'x.safetensors: 4 trailing bytes after the last tensor (the byte buffer is 40 bytes, the tensors cover 36; they must cover it exactly)');
    expectError(assemble('{}', new Uint8Array(3)),
      'x.safetensors: 3 trailing bytes after the last tensor (the byte buffer is 3 bytes, the tensors cover 0; they must cover it exactly)');
  });

  test('duplicate names and bad metadata', () => {
    const e = hdr(entry('F32', [3], [0, 12]));
    expectError(assemble(`{"w":${e},"w":${e}}`, buf.slice(0, 12)), 'x.safetensors: header names tensor "w" twice', 'w');
    expectError(assemble(hdr({ __metadata__: { step: 5 } })), 'x.safetensors: "__metadata__" must map strings to strings, but "step" is 5');
    expectError(assemble(hdr({ __metadata__: 'pt' })), 'x.safetensors: "__metadata__" must be an object mapping strings to strings');
  });
});
