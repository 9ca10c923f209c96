/**
 * How a failed Session.load looks in a notebook: tslab prints a cell's error with console.error, that
 * is util.inspect. A library error shows as its one clear line — no internal stack frames, no
 * `{ file, tensor: undefined, detail }` dump — and the stack only when asked for (error.stack, or
 * SWITCHBOARD_DEBUG=1).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect, format } from 'node:util';
import { CheckpointError, loadCheckpoint } from '../../kernel-lib/checkpoint';
import { DEBUG_ENV_VAR, SwitchboardError } from '../../kernel-lib/errors';
import { Session } from '../../kernel-lib/session';
import { useBackend } from '../helpers/backend';
import { makeTempDir } from './helpers';

const SHIPPED = path.resolve(__dirname, '..', '..', 'data', 'checkpoints', 'text-moe-small');

let root: string;
beforeAll(() => useBackend());
beforeEach(() => {
  root = makeTempDir();
  delete process.env[DEBUG_ENV_VAR];
});
afterEach(() => {
  delete process.env[DEBUG_ENV_VAR];
  fs.rmSync(root, { recursive: true, force: true });
});

async function loadError(dir: string): Promise<CheckpointError> {
  try {
    await Session.load(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error(`Session.load(${dir}) did not fail`);
}

/** A copy of the shipped text model with one tensor name changed in the safetensors header. */
function withRenamedTensor(dir: string): string {
  fs.cpSync(SHIPPED, dir, { recursive: true });
  const file = path.join(dir, 'model.safetensors');
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = buf.subarray(8, 8 + n).toString('utf8');
  const renamed = header.replace('"model.norm.weight"', '"model.norm.weigth"');
  expect(renamed).not.toBe(header);
  fs.writeFileSync(file, Buffer.concat([buf.subarray(0, 8), Buffer.from(renamed, 'utf8'), buf.subarray(8 + n)]));
  return dir;
}

test('a failed Session.load prints as its message: no stack frames, no field dump', async () => {
  const dir = withRenamedTensor(path.join(root, 'ck'));
  const err = await loadError(dir);
  const weights = path.join(dir, 'model.safetensors');
  expect(err.file).toBe(weights);
  expect(err.tensor).toBe('model.norm.weight');
  expect(err.message).toBe(`${weights}: missing tensor "model.norm.weight"`);
  // What tslab shows for a cell that threw it (console.error formats with util.inspect):
  expect(format('%O', err)).toBe(`CheckpointError: ${err.message}`);
  expect(inspect(err)).toBe(`CheckpointError: ${err.message}`);
  expect(inspect(err, { colors: true })).toBe(`CheckpointError: ${err.message}`);
  // Inside other values (an array of results, an object) it is the same line.
  expect(inspect({ failed: err }, { breakLength: Infinity })).toBe(`{ failed: CheckpointError: ${err.message} }`);
});

test('no `tensor: undefined` when the problem is not about a tensor', async () => {
  const err = await loadError(path.join(root, 'nowhere'));
  expect(err.message).toBe(`${path.join(root, 'nowhere', 'config.json')}: file not found (there is no directory ${path.join(root, 'nowhere')})`);
  expect(Object.keys(err)).not.toContain('tensor');
  expect(inspect(err)).toBe(`CheckpointError: ${err.message}`);
  expect(inspect(err)).not.toMatch(/\n|tensor|detail|\bat /);
});

test('the stack is there when asked for: error.stack, or SWITCHBOARD_DEBUG=1', () => {
  let err: CheckpointError | undefined;
  try {
    loadCheckpoint(path.join(root, 'nowhere'));
  } catch (e) {
    err = e as CheckpointError;
  }
  expect(err).toBeInstanceOf(CheckpointError);
  const e = err as CheckpointError;
  expect(e.stack).toMatch(new RegExp(`^CheckpointError: .*\\n\\s+at `));
  expect(e.stack).toContain('checkpoint');
  process.env[DEBUG_ENV_VAR] = '1';
  expect(inspect(e)).toBe(e.stack);
  process.env[DEBUG_ENV_VAR] = '0';
  expect(inspect(e)).toBe(`CheckpointError: ${e.message}`);
});

test('subclasses are named after themselves; a cause is shown as one more line', () => {
  class ShapeError extends SwitchboardError {}
  const inner = new RangeError('index 9 out of [0, 4)');
  const e = new ShapeError('layer 3: bad router output', { cause: inner });
  expect(e.name).toBe('ShapeError');
  expect(e).toBeInstanceOf(Error);
  expect(inspect(e)).toBe('ShapeError: layer 3: bad router output\n  caused by RangeError: index 9 out of [0, 4)');
  // Plain errors keep Node's usual display (message, then stack).
  expect(inspect(inner)).toMatch(/^RangeError: index 9 out of \[0, 4\)\n\s+at /);
});
