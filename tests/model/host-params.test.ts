/**
 * Variables from and to host tensors (model/params.ts): shapes checked by name with messages that name the
 * caller or file, nothing assigned when any tensor does not fit, copies that later assigns leave alone, no leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../helpers/backend';
import { assignHostChecked, checkHostFits, copyToHost, HostTensor, variablesFromHost } from '../../kernel-lib/model/params';

const t = (shape: number[], data: number[]): HostTensor => ({ shape, data: Float32Array.from(data) });

beforeAll(async () => {
  await useBackend();
});

test('variablesFromHost: a variable per named shape (trainable as asked); missing and misshapen tensors named', () => {
  const before = tf.memory().numTensors;
  const shapes = new Map([['w', [2, 2]], ['codebook', [3]]]);
  const host = new Map([['w', t([2, 2], [1, 2, 3, 4])], ['codebook', t([3], [5, 6, 7])]]);
  const vars = variablesFromHost(shapes, host, 'Demo', (n) => n !== 'codebook');
  expect(tf.memory().numTensors).toBe(before + 2); // the variables only: the initial tensors are freed
  expect(Array.from(vars.get('w')!.dataSync())).toEqual([1, 2, 3, 4]);
  expect([vars.get('w')!.trainable, vars.get('codebook')!.trainable]).toEqual([true, false]);
  // 'w' fits and 'codebook' is missing: no variable is left behind
  expect(() => variablesFromHost(shapes, new Map([['w', host.get('w')!]]), 'Demo')).toThrow("Demo: missing parameter 'codebook'");
  expect(tf.memory().numTensors).toBe(before + 2);
  expect(() => variablesFromHost(shapes, new Map([...host, ['w', t([4], [1, 2, 3, 4])]]), 'Demo')).toThrow("Demo: parameter 'w' has shape [4], expected [2,2]");
  for (const v of vars.values()) v.dispose();
  expect(tf.memory().numTensors).toBe(before);
});

test('assignHostChecked: all or nothing; checkHostFits names the place and what; copyToHost is a copy', () => {
  const a = tf.variable(tf.tensor1d([1, 2]));
  const b = tf.variable(tf.tensor2d([[3]]));
  const vars = new Map<string, tf.Variable>([['a', a], ['b', b]]);
  const copy = copyToHost(vars);
  expect(copy.get('b')).toEqual({ shape: [1, 1], data: Float32Array.from([3]) });
  const before = tf.memory().numTensors;
  // b does not fit: a must stay as it was
  expect(() => assignHostChecked(vars, new Map([['a', t([2], [9, 9])], ['b', t([1], [9])]]), 'snap/x.safetensors')).toThrow("snap/x.safetensors: parameter 'b' is missing or has another shape");
  expect(Array.from(a.dataSync())).toEqual([1, 2]);
  expect(() => checkHostFits(vars, new Map([['a', t([2], [0, 0])]]), 'lora', 'adapter parameter')).toThrow("lora: adapter parameter 'b' is missing or has another shape");
  assignHostChecked(vars, new Map([['a', t([2], [7, 8])], ['b', t([1, 1], [6])]]), 'snap');
  expect([Array.from(a.dataSync()), Array.from(b.dataSync())]).toEqual([[7, 8], [6]]);
  expect(tf.memory().numTensors).toBe(before);
  expect(Array.from(copy.get('a')!.data)).toEqual([1, 2]); // the copy kept the old values
  a.dispose();
  b.dispose();
});
