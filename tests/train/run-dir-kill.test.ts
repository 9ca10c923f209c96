/**
 * A run directory survives SIGKILL at any instant. A child process (fixtures/kill-child.ts, bundled
 * with esbuild, tfjs external) trains on the shared loop saving every step; it is killed at every kill
 * point of its first two saves (SWITCHBOARD_TEST_KILL_AT, checkpoint/files.ts), at a kill point inside a
 * resume's clean-up, and at random times. Each time a fresh process resumes from the snapshot the state
 * file names, finishes, and reports the loss curve of the uninterrupted run; leftovers are gone.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSync } from 'esbuild';

const ROOT = path.resolve(__dirname, '../..');
let tmp: string;
let child: string;
let runs = 0;

interface Result {
  resumedFrom: number;
  losses: number[];
  killPoints: number;
}

const env = (extra: Record<string, string>): NodeJS.ProcessEnv => ({ ...process.env, NODE_PATH: path.join(ROOT, 'node_modules'), ...extra });
const freshDir = (): string => path.join(tmp, `run-${++runs}`);

function run(dir: string, killAt?: number) {
  const r = spawnSync(process.execPath, [child, dir], { encoding: 'utf8', env: env(killAt ? { SWITCHBOARD_TEST_KILL_AT: String(killAt) } : {}) });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  const saved = r.stdout.split('\n').filter((l) => l.startsWith('saved ')).map((l) => Number(l.split(' ')[2]));
  // stderr without tfjs's "install our node backend" banner
  const stderr = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/^=+$/.test(l) && !l.startsWith('Hi, looks like you are running TensorFlow.js')).join('\n');
  return { status: r.status, signal: r.signal, stderr, saved, result: line ? (JSON.parse(line.slice(7)) as Result) : null };
}

/** The step trainer_state.json names (0 when there is none yet). */
function namedStep(dir: string): number {
  const file = path.join(dir, 'trainer_state.json');
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { step: number }).step : 0;
}

const finalListing = ['step-000003', 'trainer_state.json'];

let baseline: ReturnType<typeof run>;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-kill-'));
  child = path.join(tmp, 'kill-child.js');
  buildSync({ entryPoints: [path.join(__dirname, 'fixtures', 'kill-child.ts')], bundle: true, platform: 'node', external: ['@tensorflow/*'], outfile: child, logLevel: 'error' });
  baseline = run(freshDir());
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Resumes `dir` to the end and checks the curve and the listing; returns the step it resumed from. */
function resumeAndCheck(dir: string, what: string): number {
  const r = run(dir);
  expect([what, r.status, r.stderr]).toEqual([what, 0, '']);
  expect([what, r.result!.losses]).toEqual([what, baseline.result!.losses]);
  expect([what, fs.readdirSync(dir).sort()]).toEqual([what, finalListing]);
  return r.result!.resumedFrom;
}

test('the uninterrupted run: three saves, each passing its kill points', () => {
  expect(baseline.status).toBe(0);
  expect(baseline.result!.losses).toHaveLength(3);
  expect(baseline.saved).toHaveLength(3);
  expect(baseline.saved[1] - baseline.saved[0]).toBeGreaterThan(10); // each save has many points to kill at
});

test('killed at every kill point of the first two saves, a new process resumes from a complete snapshot', () => {
  const [, second] = baseline.saved;
  let withLeftovers = 0;
  let previous = 0;
  for (let n = 1; n <= second; n++) {
    const dir = freshDir();
    const k = run(dir, n);
    expect([n, k.signal]).toEqual([n, 'SIGKILL']);
    const named = namedStep(dir);
    const finished = baseline.saved.filter((p) => p <= n).length; // saves complete before point n
    expect([n, named >= finished && named <= finished + 1]).toEqual([n, true]);
    expect([n, named >= previous]).toEqual([n, true]); // a later kill never leaves an older snapshot
    previous = named;
    if (fs.readdirSync(dir).some((f) => !finalListing.includes(f) && f !== `step-00000${named}`)) withLeftovers++;
    expect([n, resumeAndCheck(dir, `kill at point ${n}`)]).toEqual([n, named]);
  }
  expect(withLeftovers).toBeGreaterThan(second / 2); // the clean-up had work to do
});

test('killed again while a resume cleans up, the next resume still finishes the same curve', () => {
  for (const n of [5, baseline.saved[0] + 5]) {
    const dir = freshDir();
    expect(run(dir, n).signal).toBe('SIGKILL');
    const leftovers = fs.readdirSync(dir).length;
    expect(run(dir, 1).signal).toBe('SIGKILL'); // its first kill point: after its first removal
    expect(fs.readdirSync(dir).length).toBeLessThan(leftovers);
    resumeAndCheck(dir, `kill at point ${n}, then at the resume's first`);
  }
});

test('killed at random times, a new process resumes from a complete snapshot', async () => {
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 4; i++) {
    const dir = freshDir();
    const delayMs = rand() * 12;
    await new Promise<void>((done) => {
      const p = spawn(process.execPath, [child, dir], { env: env({}) });
      let armed = false;
      p.stdout.on('data', (d: Buffer) => {
        if (armed || !d.toString().includes('saved 1')) return;
        armed = true;
        setTimeout(() => p.kill('SIGKILL'), delayMs);
      });
      p.on('exit', () => done());
    });
    resumeAndCheck(dir, `random kill ${i} (${delayMs.toFixed(1)} ms after the first save)`);
  }
});
