/**
 * The shared checks of a part's weights file and of a tagged part directory (checkpoint/tensors.ts,
 * checkpoint/tagged-dir.ts): every error names the file and the tensor; what is written reads back.
 */
import * as fs from 'fs';
import * as path from 'path';
import { checkTensors } from '../../kernel-lib/checkpoint/tensors';
import { readTaggedDir, taggedDirFiles, TaggedDirFormat } from '../../kernel-lib/checkpoint/tagged-dir';
import { writeDirAtomic } from '../../kernel-lib/checkpoint/files';
import type { HostTensor } from '../../kernel-lib/model/params';
import { makeTempDir, thrown } from './helpers';

const t = (shape: number[], data: number[]): HostTensor => ({ shape, data: Float32Array.from(data) });
const want = new Map<string, number[]>([['a.w', [2, 1]], ['a.b', [1]]]);

test('checkTensors: missing, wrong shape, non-finite, unexpected; "against" names what gives the shapes', () => {
  const good = new Map([['a.w', t([2, 1], [1, 2])], ['a.b', t([1], [0])]]);
  expect(() => checkTensors('w.safetensors', good, want)).not.toThrow();
  const missing = thrown(() => checkTensors('w.safetensors', new Map([['a.w', good.get('a.w')!]]), want));
  expect([missing.message, missing.tensor]).toEqual(['w.safetensors: missing tensor "a.b"', 'a.b']);
  const shape = new Map([...good, ['a.w', t([1, 2], [1, 2])]]);
  expect(thrown(() => checkTensors('w.safetensors', shape, want)).message).toBe('w.safetensors: tensor "a.w" has shape [1,2], the config needs [2,1]');
  expect(thrown(() => checkTensors('w.safetensors', shape, want, 'spec')).message).toBe('w.safetensors: tensor "a.w" has shape [1,2], the spec needs [2,1]');
  const nan = new Map([...good, ['a.w', t([2, 1], [1, NaN])]]);
  expect(thrown(() => checkTensors('w.safetensors', nan, want)).message).toBe('w.safetensors: tensor "a.w" holds NaN at index 1');
  const extra = new Map([...good, ['a.c', t([1], [3])]]);
  const e = thrown(() => checkTensors('w.safetensors', extra, want, 'spec'));
  expect([e.message, e.tensor]).toEqual(['w.safetensors: unexpected tensor "a.c" (not in this spec)', 'a.c']);
});

describe('tagged part directory', () => {
  const F: TaggedDirFormat = { format: 'switchboard-demo-part', version: 2, configFile: 'config.json', weightsFile: 'part.safetensors', what: 'part', kind: 'a demo part' };
  const parse = (raw: Record<string, unknown>) => {
    const width = raw.width as number;
    if (!Number.isInteger(width)) throw new Error(`width must be an integer, got ${JSON.stringify(raw.width)}`);
    return { config: { width }, shapes: new Map([['a.w', [width, 1]], ['a.b', [1]]]) };
  };
  let tmp: string;
  beforeAll(() => {
    tmp = makeTempDir('tagged');
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('round trip: the config file carries the tag, the fields and the layout; float16 weights read back rounded', () => {
    const dir = path.join(tmp, 'ok');
    writeDirAtomic(dir, taggedDirFiles(F, { width: 2 }, [['a.w', t([2, 1], [1, 0.1])], ['a.b', t([1], [-3])]], 'float16'));
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'))).toEqual({ format: 'switchboard-demo-part', version: 2, width: 2, weightLayout: 'linear weights [in, out]' });
    const { config, params } = readTaggedDir(dir, F, parse);
    expect(config).toEqual({ width: 2 });
    expect(Array.from(params.get('a.w')!.data)).toEqual([1, 0.0999755859375]); // 0.1 in float16
    expect(Array.from(params.get('a.b')!.data)).toEqual([-3]);
  });

  test('not found, another format, another version, a config the parser refuses, a bad tensor: each names its file', () => {
    expect(() => readTaggedDir(path.join(tmp, 'none'), F, parse)).toThrow(`${path.join(tmp, 'none')}: part directory not found`);
    const dir = path.join(tmp, 'bad');
    const files = (fields: Record<string, unknown>, f = F) => writeDirAtomic(dir, taggedDirFiles(f, fields, [['a.w', t([2, 1], [1, 2])], ['a.b', t([1], [0])]]));
    const cfg = path.join(dir, 'config.json');
    files({ width: 2 }, { ...F, format: 'switchboard-other' });
    expect(() => readTaggedDir(dir, F, parse)).toThrow(`${cfg}: "format" is "switchboard-other", expected "switchboard-demo-part" (is this a demo part?)`);
    files({ width: 2 }, { ...F, version: 1 });
    expect(() => readTaggedDir(dir, F, parse)).toThrow(`${cfg}: "version" is 1; this code reads version 2`);
    files({ width: 'two' });
    expect(thrown(() => readTaggedDir(dir, F, parse)).message).toBe(`${cfg}: width must be an integer, got "two"`);
    files({ width: 3 });
    expect(() => readTaggedDir(dir, F, parse)).toThrow(`${path.join(dir, 'part.safetensors')}: tensor "a.w" has shape [2,1], the config needs [3,1]`);
  });
});
