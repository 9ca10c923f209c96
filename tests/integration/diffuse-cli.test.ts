/**
 * `switchboard diffuse` as a child process on a tiny untrained latent diffusion decoder saved by the test:
 * the PNG has the grid's size and holds exactly the library's samples, the same seed gives the same bytes,
 * every bad flag is one line naming it (exit 2, nothing written), a missing checkpoint says so and how to
 * make it (exit 1), Ctrl-C exits 130 without writing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { useBackend } from '../helpers/backend';
import { randomize, tinyLdm } from '../diffusion/helpers';
import { LatentDiffusion } from '../../kernel-lib/diffusion/model';
import { readPng } from '../../kernel-lib/image/png';
import { checkCheckpointExists } from '../../kernel-lib/cli/diffuse';

const BIN = path.resolve(__dirname, '../../bin/switchboard.js');
const SHIPPED = path.resolve(__dirname, '../../data/checkpoints/ldm-emoji');
const PROMPT = 'a cat to the left of a tree';
let tmp: string;
let ck: string;

beforeAll(async () => {
  await useBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-diffuse-'));
  ck = path.join(tmp, 'ldm');
  const m = tinyLdm({ seed: 2 });
  randomize(m, 0.1, 7); // the zero-initialised adaLN gates would make ε̂ ≡ 0: samples would barely depend on the caption
  m.save(ck, { dtype: 'float32' });
  m.dispose();
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  return spawnSync(process.execPath, [BIN, 'diffuse', ...args], { encoding: 'utf8', env: { ...process.env, SWITCHBOARD_BACKEND: 'wasm' } });
}

const out = (name: string) => path.join(tmp, name);

test('one image at --scale 1: a 32×32 PNG holding exactly the library’s sample of the same options', async () => {
  const file = out('one.png');
  const r = cli('--checkpoint', ck, '--prompt', PROMPT, '--out', file, '--steps', '4', '--cfg-scale', '3', '--seed', '5', '--scale', '1');
  expect([r.status, r.stdout]).toEqual([0, '']);
  expect(r.stderr.split('\n')).toContain(`wrote ${file} (1 image, ×1)`);
  const png = new Uint8Array(fs.readFileSync(file));
  const back = await readPng(png, { size: 32, resize: false });
  const m = LatentDiffusion.load(ck);
  try {
    const lib = await m.sample({ cond: PROMPT, steps: 4, cfgScale: 3, seed: 5 });
    expect(Buffer.from(back.pixels).equals(Buffer.from(lib.images[0].pixels))).toBe(true);
  } finally {
    m.dispose();
  }
});

test('sizes: default ×4 fills 128×128; --num-images 3 --scale 2 is a row with 2 px around and between', async () => {
  const a = out('x4.png');
  expect(cli('--checkpoint', ck, '--prompt', PROMPT, '--out', a, '--steps', '2').status).toBe(0);
  const ma = await sharp(fs.readFileSync(a)).metadata();
  expect([ma.format, ma.width, ma.height]).toEqual(['png', 128, 128]);
  const b = out('row.png');
  const r = cli('--checkpoint', ck, '--prompt', PROMPT, '--out', b, '--steps', '2', '--num-images', '3', '--scale', '2', '--sampler', 'ddpm');
  expect(r.status).toBe(0);
  expect(r.stderr).toMatch(/^\[2 of 2 ddpm steps, stopped: done, [\d.]+ s\]$/m);
  const mb = await sharp(fs.readFileSync(b)).metadata();
  expect([mb.width, mb.height]).toEqual([2 + 3 * (64 + 2), 2 + 64 + 2]);
});

test('the same seed gives identical bytes; another seed gives another image', () => {
  const files = ['s1a.png', 's1b.png', 's2.png'].map(out);
  const seeds = ['1', '1', '2'];
  files.forEach((f, i) => expect(cli('--checkpoint', ck, '--prompt', PROMPT, '--out', f, '--steps', '3', '--seed', seeds[i]).status).toBe(0));
  const [a, b, c] = files.map((f) => fs.readFileSync(f));
  expect(a.equals(b)).toBe(true);
  expect(a.equals(c)).toBe(false);
});

test.each([
  [['--prompt', 'x'], 'switchboard: diffuse needs --out FILE.png'],
  [['--out', 'x.png'], 'switchboard: diffuse needs --prompt TEXT'],
  [['--prompt', 'x', '--out', 'x.jpg'], "switchboard: --out must name a .png file, got 'x.jpg'"],
  [['--prompt', 'x', '--out', '/no/such/dir/x.png'], 'switchboard: --out /no/such/dir/x.png: no directory /no/such/dir'],
  [['--prompt', 'x', '--out', 'x.png', '--steps', '0'], "switchboard: --steps must be a positive integer, got '0'"],
  [['--prompt', 'x', '--out', 'x.png', '--steps', '2.5'], "switchboard: --steps must be a positive integer, got '2.5'"],
  [['--prompt', 'x', '--out', 'x.png', '--cfg-scale', 'strong'], "switchboard: --cfg-scale must be a number, got 'strong'"],
  [['--prompt', 'x', '--out', 'x.png', '--seed', '-1'], "switchboard: --seed must be an integer in [0, 2^32), got '-1'"],
  [['--prompt', 'x', '--out', 'x.png', '--seed', '4294967296'], "switchboard: --seed must be an integer in [0, 2^32), got '4294967296'"],
  [['--prompt', 'x', '--out', 'x.png', '--sampler', 'euler'], "switchboard: --sampler must be ddim or ddpm, got 'euler'"],
  [['--prompt', 'x', '--out', 'x.png', '--num-images', '0'], "switchboard: --num-images must be a positive integer, got '0'"],
  [['--prompt', 'x', '--out', 'x.png', '--scale', '1.5'], "switchboard: --scale must be a positive integer, got '1.5'"],
  [['--prompt', 'x', '--out', 'x.png', '--bogus'], 'switchboard: unknown option --bogus'],
  [['--prompt', 'x', '--out'], 'switchboard: --out needs a value'],
  [['--prompt', 'x', '--out', 'x.png', 'extra'], "switchboard: diffuse takes no arguments, got 'extra'"],
])('bad flags %j: one line naming it, exit 2, nothing written', (args, message) => {
  // a missing checkpoint would be exit 1: every flag is judged first
  const r = spawnSync(process.execPath, [BIN, 'diffuse', '--checkpoint', path.join(tmp, 'absent'), ...args], { encoding: 'utf8', cwd: tmp });
  expect([r.status, r.stderr, r.stdout]).toEqual([2, `${message}\n`, '']);
  expect(fs.existsSync(path.join(tmp, 'x.png'))).toBe(false);
});

test('--steps above the checkpoint’s timesteps: named after the config is read, exit 2', () => {
  const r = cli('--checkpoint', ck, '--prompt', PROMPT, '--out', out('never.png'), '--steps', '1001');
  expect([r.status, r.stderr.trim()]).toEqual([2, "switchboard: --steps must be at most 1000 (the checkpoint's timesteps), got '1001'"]);
  expect(fs.existsSync(out('never.png'))).toBe(false);
});

test('--help lists every flag, exit 0', () => {
  const r = cli('--help');
  expect(r.status).toBe(0);
  for (const f of ['--prompt', '--out', '--checkpoint', '--steps', '--cfg-scale', '--seed', '--sampler', '--num-images', '--scale']) expect(r.stdout).toContain(f);
  expect(spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' }).stdout).toMatch(/^ {2}diffuse /m);
});

test('a --checkpoint that is not there: named, with how the default is made, exit 1', () => {
  const absent = path.join(tmp, 'absent');
  const r = cli('--checkpoint', absent, '--prompt', PROMPT, '--out', out('none.png'));
  expect([r.status, r.stderr.trim()]).toEqual([1, `switchboard: --checkpoint ${absent}: no such directory (the default, data/checkpoints/ldm-emoji, is made by \`npm run train:diffusion\`)`]);
});

test('without --checkpoint it draws with the shipped ldm-emoji: the library’s sample of the same options', async () => {
  const file = out('shipped.png');
  const r = cli('--prompt', PROMPT, '--out', file, '--steps', '5', '--seed', '2', '--scale', '1');
  expect([r.status, r.stdout]).toEqual([0, '']);
  const back = await readPng(new Uint8Array(fs.readFileSync(file)), { size: 32, resize: false });
  const m = LatentDiffusion.load(SHIPPED);
  try {
    const lib = await m.sample({ cond: PROMPT, steps: 5, seed: 2 });
    expect(Buffer.from(back.pixels).equals(Buffer.from(lib.images[0].pixels))).toBe(true);
  } finally {
    m.dispose();
  }
});

test('a missing default checkpoint: the message says it ships and how to get it back or make it', () => {
  expect(() => checkCheckpointExists({ dir: out('gone'), explicitDir: false })).toThrow(
    `no latent diffusion checkpoint at ${out('gone')}: ldm-emoji ships with the repository (restore it with \`git checkout -- data/checkpoints/ldm-emoji\`), or make it with \`npm run train:diffusion\` (or give --checkpoint DIR)`,
  );
  expect(() => checkCheckpointExists({ dir: SHIPPED, explicitDir: false })).not.toThrow();
});

test('Ctrl-C while sampling: stops within a step, exit 130, nothing written', async () => {
  const file = out('interrupted.png');
  // ddpm runs every one of the 1000 timesteps: seconds of work, so the signal lands mid-sampling
  const child = spawn(process.execPath, [BIN, 'diffuse', '--checkpoint', ck, '--prompt', PROMPT, '--out', file, '--sampler', 'ddpm'], { env: { ...process.env, SWITCHBOARD_BACKEND: 'wasm' } });
  let err = '';
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
    if (/^drawing /m.test(err) && !child.killed) child.kill('SIGINT');
  });
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  expect([code, signal]).toEqual([130, null]);
  const m = /^\[(\d+) of 1000 ddpm steps, stopped: aborted, [\d.]+ s\]$/m.exec(err);
  expect(m).not.toBeNull();
  expect(Number((m as RegExpExecArray)[1])).toBeLessThan(1000);
  expect(fs.existsSync(file)).toBe(false);
});
