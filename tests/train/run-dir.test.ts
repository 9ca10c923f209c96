/** The run directory's rules without training: option checks (exact text), layouts it refuses, what a save keeps. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkRunOptions, RunDir, snapshotName } from '../../kernel-lib/train/run-dir';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-rundir-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const F = '/runs/a/trainer_state.json';
const msg = (f: () => void): string => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
};

describe('options are checked both ways', () => {
  test('a changed value, a key only in the run, a key only now', () => {
    expect(msg(() => checkRunOptions(F, { steps: 8, lr: 0.01 }, { steps: 9, lr: 0.01 })))
      .toBe(`${F}: this run was started with steps = 8, now 9; use a new runDir or the same options`);
    expect(msg(() => checkRunOptions(F, { steps: 8, adapters: ['lora'] }, { steps: 8 })))
      .toBe(`${F}: this run was started with adapters = ["lora"], now undefined; use a new runDir or the same options`);
    expect(msg(() => checkRunOptions(F, { steps: 8 }, { steps: 8, groups: [{ name: 'mapper', params: ['m.*'], lrScale: 10 }] })))
      .toBe(`${F}: this run was started with groups = undefined, now [{"name":"mapper","params":["m.*"],"lrScale":10}]; use a new runDir or the same options`);
  });

  test('undefined values count as absent (so an option left at its old default keeps old runs resumable)', () => {
    expect(msg(() => checkRunOptions(F, { steps: 8 }, { steps: 8, trainSlices: undefined }))).toBe('no error');
    expect(msg(() => checkRunOptions(F, { steps: 8, freeze: [] }, { freeze: [], steps: 8 }))).toBe('no error');
  });
});

describe('RunDir', () => {
  const files = (tag: string) => new Map<string, string | Uint8Array>([['a.json', tag], ['sub/b.bin', new Uint8Array([1, 2, 3])]]);

  test('saves snapshots, keeps only the newest, resumes from it, refuses other options', () => {
    const dir = path.join(tmp, 'run');
    const run = new RunDir(dir, { steps: 4 });
    expect(run.resume()).toBeNull();
    run.save(1, files('one'), { history: [1] });
    run.save(2, files('two'), { history: [1, 2] });
    expect(fs.readdirSync(dir).sort()).toEqual(['step-000002', 'trainer_state.json']);
    expect(fs.readFileSync(path.join(dir, 'step-000002', 'sub', 'b.bin'))).toEqual(Buffer.from([1, 2, 3]));
    const point = new RunDir(dir, { steps: 4 }).resume<{ history: number[] }>();
    expect(point).toEqual({ step: 2, snapshot: path.join(dir, 'step-000002'), record: { history: [1, 2] } });
    expect(msg(() => new RunDir(dir, { steps: 5 }).resume()))
      .toBe(`${path.join(dir, 'trainer_state.json')}: this run was started with steps = 4, now 5; use a new runDir or the same options`);
  });

  test('a resume removes what interrupted saves left, and nothing else', () => {
    const dir = path.join(tmp, 'run');
    const run = new RunDir(dir, {});
    run.save(3, files('three'), {});
    fs.mkdirSync(path.join(dir, snapshotName(4))); // renamed in, but the state file was not written
    fs.mkdirSync(path.join(dir, '.step-000005.tmp-123-abcdef01'));
    fs.writeFileSync(path.join(dir, '.trainer_state.json.tmp-123-abcdef01'), '');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    expect(new RunDir(dir, {}).resume()!.step).toBe(3);
    expect(fs.readdirSync(dir).sort()).toEqual(['notes.txt', 'step-000003', 'trainer_state.json']);
  });

  test('saving the step the state file names again keeps its snapshot and updates the record', () => {
    const dir = path.join(tmp, 'run');
    new RunDir(dir, {}).save(2, files('first'), { n: 1 });
    const again = new RunDir(dir, {});
    again.resume();
    again.save(2, files('second'), { n: 2 });
    expect(fs.readFileSync(path.join(dir, 'step-000002', 'a.json'), 'utf8')).toBe('first');
    expect(new RunDir(dir, {}).resume()!.record).toEqual({ n: 2 });
    expect(msg(() => again.save(3, files('x'), { step: 1 }))).toBe("RunDir.save: the record may not have a key 'step' (the state file's own)");
  });

  test('run directories of the older layouts are named, not overwritten', () => {
    const lm = path.join(tmp, 'lm');
    fs.mkdirSync(lm);
    fs.writeFileSync(path.join(lm, 'trainer_state.json'), JSON.stringify({ step: 4, adamT: 4, options: {}, history: [] }));
    expect(msg(() => new RunDir(lm, {}).resume())).toBe(
      `${path.join(lm, 'trainer_state.json')}: a run directory in an older layout (checkpoint/ beside trainer_state.json, no step-N snapshots); resume it with the version that started it, or use a new runDir`,
    );
    const vq = path.join(tmp, 'vq');
    fs.mkdirSync(path.join(vq, 'step-000250'), { recursive: true });
    fs.writeFileSync(path.join(vq, 'state.json'), '{}');
    expect(msg(() => new RunDir(vq, {}).resume())).toBe(
      `${vq}: holds a run in the layout before the shared run directory (state.json); resume it with the version that started it, or use a new runDir`,
    );
    expect(fs.readdirSync(vq).sort()).toEqual(['state.json', 'step-000250']);
  });
});
