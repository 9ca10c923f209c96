/** The `switchboard` CLI against a real (tiny) checkpoint: info, generate --json, errors. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import { Session } from '../../kernel-lib/session';
import type { Step } from '../../kernel-lib/decode/generate';

const BIN = path.resolve(__dirname, '../../bin/switchboard.js');
let dir: string;
let s: Session;
beforeAll(async () => {
  await useBackend();
  s = await tinySession({ seed: 9 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-cli-'));
  s.save(dir);
});
afterAll(() => {
  s.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

function cli(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, SWITCHBOARD_BACKEND: 'wasm' } });
}

test('info prints the model summary (and --json parses)', () => {
  const r = cli('info', dir);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/layers\s+2 × \(attention 4 heads \/ 2 kv, MoE 4 experts top-2\)/);
  expect(r.stdout).toMatch(/backend\s+wasm/);
  const j = JSON.parse(cli('info', dir, '--json').stdout);
  expect(j.config.numExperts).toBe(4);
  expect(j.vocabulary.imageCodes).toBe(32);
});

test('generate --json: a prompt line, then one line per step equal to the library’s steps', async () => {
  const r = cli('generate', dir, '--prompt', 'an emoji of a tiger', '--start-image', '--max-new-tokens', '20', '--seed', '4', '--temperature', '0.8', '--json');
  expect(r.status).toBe(0);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const enc = s.encode('an emoji of a tiger');
  expect(lines[0].prompt.ids).toEqual([...enc.ids, s.tokenizer.boi]);
  expect(lines[0].prompt.modalities).toEqual([...enc.modalities, 'special']);
  const lib: Step[] = [];
  for await (const st of s.generate('an emoji of a tiger', { startImage: true, maxNewTokens: 20, seed: 4, temperature: 0.8 })) lib.push(st);
  const steps = lines.slice(1) as Step[];
  expect(steps.map((x) => x.tokenId)).toEqual(lib.map((x) => x.tokenId));
  expect(Object.keys(steps[0]).sort()).toEqual(Object.keys(lib[0]).sort());
  steps.forEach((x, i) => {
    expect(x.routing.map((l) => l.experts)).toEqual(lib[i].routing.map((l) => l.experts));
    expect(x.logprob).toBeCloseTo(lib[i].logprob, 5);
    expect(x.grid).toEqual(lib[i].grid);
  });
  expect(r.stderr).toMatch(/\[\d+ tokens, stopped: (eos|max-new-tokens)\]/);
});

test('generate with image codes from a JSON file (image → caption)', () => {
  const f = path.join(dir, '..', `codes-${process.pid}.json`);
  fs.writeFileSync(f, JSON.stringify({ height: 4, width: 4, codes: Array.from({ length: 16 }, (_, i) => i) }));
  const r = cli('generate', dir, '--image-from', f, '--prompt', 'this is', '--max-new-tokens', '3', '--json');
  fs.rmSync(f);
  expect(r.status).toBe(0);
  const first = JSON.parse(r.stdout.split('\n')[0]);
  expect(first.prompt.modalities.filter((m: string) => m === 'image')).toHaveLength(16);
  expect(first.prompt.grid[2]).toEqual({ image: 0, row: 0, col: 0 });
});

test('bad input: exact messages and exit codes', () => {
  let r = cli('generate', dir, '--prompt', 'x', '--max-new-tokens', 'lots');
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/^switchboard: --max-new-tokens must be an integer, got 'lots'/);
  r = cli('generate', path.join(dir, 'nope'), '--prompt', 'x');
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`switchboard: ${path.join(dir, 'nope', 'config.json')}: file not found`);
  r = cli('frobnicate');
  expect(r.status).toBe(2);
  expect(r.stderr).toContain("switchboard: unknown command 'frobnicate'");
  r = cli('generate', dir, '--prompt', 'tiger '.repeat(300));
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/switchboard: The prompt is \d+ tokens, longer than the model's context of 128 tokens/);
  r = cli('generate', dir, '--image-from', 'no-such.png');
  expect(r.status).toBe(2);
  expect(r.stderr).toContain("--image-from no-such.png: ENOENT: no such file or directory, open 'no-such.png'");
});

test('generate --image-from a PNG: the VQ-VAE turns it into codes (image → caption)', async () => {
  const sharp = (await import('sharp')).default;
  const raw = Buffer.alloc(32 * 32 * 3, 255);
  for (let y = 8; y < 24; y++) for (let x = 8; x < 24; x++) raw.set([220, 30, 30], (y * 32 + x) * 3);
  const png = path.join(dir, '..', `red-${process.pid}.png`);
  fs.writeFileSync(png, await sharp(raw, { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer());
  try {
    // the tiny test model has 32 image codes: the shipped VQ-VAE (512) does not fit it
    let r = cli('generate', dir, '--image-from', png, '--prompt', 'this is');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the VQ-VAE at .*vqvae-emoji has 512 codes but the model has 32 image codes/);
    const mm = path.resolve(__dirname, '../../data/checkpoints/mm-moe-small');
    r = cli('generate', mm, '--image-from', png, '--prompt', 'this is', '--max-new-tokens', '3', '--json');
    expect(r.status).toBe(0);
    const first = JSON.parse(r.stdout.split('\n')[0]);
    expect(first.prompt.modalities.filter((m: string) => m === 'image')).toHaveLength(64);
  } finally {
    fs.rmSync(png);
  }
});

test('generate --start-image --image-out: one whole image by default, written as the VQ-VAE decodes its codes', async () => {
  const { VQVAE } = await import('../../kernel-lib/image');
  const { imageGridPng, PREVIEW_BACKGROUND } = await import('../../kernel-lib/image/png');
  const ck = path.resolve(__dirname, '../../data/checkpoints');
  const mm = path.join(ck, 'mm-moe-small');
  const out = path.join(dir, 'drawn.png');
  const r = cli('generate', mm, '--prompt', 'an apple above a dog', '--start-image', '--seed', '3', '--cfg-scale', '3', '--json', '--image-out', out);
  expect(r.status).toBe(0);
  const steps = r.stdout.trim().split('\n').slice(1).map((l) => JSON.parse(l) as Step);
  // 64 codes and <eoi> without --max-new-tokens
  expect(steps.map((st) => st.modality).join(',')).toBe([...Array(64).fill('image'), 'special'].join(','));
  expect(r.stderr).toContain(`wrote ${out} (1 image)`);
  const mmSession = await Session.load(mm);
  const codes = steps.filter((st) => st.modality === 'image').map((st) => mmSession.tokenizer.codeOf(st.tokenId));
  mmSession.dispose();
  const vq = VQVAE.load(path.join(ck, 'vqvae-emoji'));
  const expected = await imageGridPng(vq.decode([{ height: 8, width: 8, codes }]), { columns: 1, padding: 2, scale: 4, background: PREVIEW_BACKGROUND });
  vq.dispose();
  expect(Buffer.compare(fs.readFileSync(out), Buffer.from(expected))).toBe(0);
});

test('generate --image-out errors: not a .png, no such directory, no complete image drawn', () => {
  const mm = path.resolve(__dirname, '../../data/checkpoints/mm-moe-small');
  let r = cli('generate', mm, '--prompt', 'a dog', '--image-out', 'dog.jpg');
  expect([r.status, r.stderr.split('\n')[0]]).toEqual([2, "switchboard: --image-out must name a .png file, got 'dog.jpg'"]);
  r = cli('generate', mm, '--prompt', 'a dog', '--image-out', path.join(dir, 'no-such-dir', 'dog.png'));
  expect([r.status, r.stderr.split('\n')[0]]).toEqual([2, `switchboard: --image-out ${path.join(dir, 'no-such-dir', 'dog.png')}: no directory ${path.join(dir, 'no-such-dir')}`]);
  const out = path.join(dir, 'none.png');
  r = cli('generate', mm, '--prompt', 'a dog', '--max-new-tokens', '3', '--image-out', out);
  expect(r.status).toBe(1);
  expect(r.stderr.trim().split('\n').at(-1)).toBe(`switchboard: --image-out ${out}: the model drew no complete image (0 of 64 codes); use --start-image, or raise --max-new-tokens`);
  expect(fs.existsSync(out)).toBe(false);
});

test('Ctrl-C during generate: stops within a step and exits 130 (not 0), after saying it was aborted', async () => {
  const { spawn } = await import('node:child_process');
  const mm = path.resolve(__dirname, '../../data/checkpoints/mm-moe-small');
  // an image is at least 64 forced steps, so the signal lands mid-generation
  const child = spawn(process.execPath, [BIN, 'generate', mm, '--prompt', 'a dog', '--start-image', '--cfg-scale', '3', '--json'], { env: { ...process.env, SWITCHBOARD_BACKEND: 'wasm' } });
  let out = '';
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    if (out.split('\n').length > 2 && !child.killed) child.kill('SIGINT'); // the prompt line and one step are out
  });
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  expect([code, signal]).toEqual([130, null]);
  const steps = out.trim().split('\n').length - 1;
  expect(steps).toBeGreaterThanOrEqual(1);
  expect(steps).toBeLessThan(65);
  expect(err.trim().split('\n').at(-1)).toBe(`[${steps} tokens, stopped: aborted]`);
});

test('generate --cfg-unconditional: Liquid\'s <unconditional> branch equals the library; bad modes and missing pieces are named', async () => {
  const u = s.withUnconditional({ seed: 2 });
  const udir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-cli-uncond-'));
  try {
    u.save(udir);
    const args = ['generate', udir, '--prompt', 'an emoji of a tiger', '--start-image', '--max-new-tokens', '6', '--seed', '1', '--cfg-scale', '3', '--json'];
    const r = cli(...args, '--cfg-unconditional', 'unconditional-token');
    expect(r.status).toBe(0);
    const lib: Step[] = [];
    for await (const st of u.generate('an emoji of a tiger', { startImage: true, maxNewTokens: 6, seed: 1, cfgScale: 3, cfgUnconditional: 'unconditional-token' })) lib.push(st);
    const ids = r.stdout.trim().split('\n').slice(1).map((l) => (JSON.parse(l) as Step).tokenId);
    expect(ids).toEqual(lib.map((x) => x.tokenId));
    // the other branch is a different guidance: its first image code's log-probability differs
    const other = cli(...args, '--cfg-unconditional', 'drop-text');
    expect(other.status).toBe(0);
    expect((JSON.parse(other.stdout.split('\n')[1]) as Step).logprob).not.toBeCloseTo(lib[0].logprob, 6);
  } finally {
    u.dispose();
    fs.rmSync(udir, { recursive: true, force: true });
  }
  let r = cli('generate', dir, '--prompt', 'a dog', '--start-image', '--cfg-scale', '3', '--cfg-unconditional', 'empty');
  expect([r.status, r.stderr.trim()]).toEqual([2, "switchboard: --cfg-unconditional must be one of drop-text, unconditional-token, got 'empty'"]);
  r = cli('generate', dir, '--prompt', 'a dog', '--start-image', '--cfg-unconditional', 'drop-text');
  expect([r.status, r.stderr.trim()]).toEqual([2, 'switchboard: --cfg-unconditional goes with --cfg-scale (it picks the unconditional branch of the guidance)']);
  r = cli('generate', dir, '--prompt', 'a dog', '--start-image', '--max-new-tokens', '2', '--cfg-scale', '3', '--cfg-unconditional', 'unconditional-token');
  expect(r.status).toBe(1);
  expect(r.stderr.trim().split('\n').at(-1)).toBe("switchboard: cfgUnconditional 'unconditional-token' needs a vocabulary with <unconditional> (tokenizer.withUnconditional / session.withUnconditional)");
});

test('--seed: integers in [0, 2^32) only (4294967296 used to wrap to seed 0)', () => {
  for (const bad of ['4294967296', '-1', '1.5', 'x', '']) {
    const r = cli('generate', dir, '--prompt', 'x', '--seed', bad);
    expect([r.status, r.stderr.trim()]).toEqual([2, `switchboard: --seed must be an integer in [0, 2^32), got '${bad}'`]);
  }
  const top = cli('generate', dir, '--prompt', 'x', '--seed', '4294967295', '--max-new-tokens', '2', '--json');
  expect(top.status).toBe(0);
});

test('--image-from a file that is not an image: the error names the file', () => {
  const f = path.join(dir, '..', `notes-${process.pid}.png`);
  fs.writeFileSync(f, 'not a picture');
  const mm = path.resolve(__dirname, '../../data/checkpoints/mm-moe-small');
  try {
    const r = cli('generate', mm, '--image-from', f, '--prompt', 'this is');
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(new RegExp(`^switchboard: --image-from ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a readable image \\(.+\\)$`));
  } finally {
    fs.rmSync(f);
  }
});

test('the command line: one line naming the flag, exit 2; --help on every command', () => {
  const cases: [string[], string][] = [
    [['generate', dir, '--prompt', 'x', '--bogus'], 'switchboard: unknown option --bogus'],
    [['generate', dir, '--prompt'], 'switchboard: --prompt needs a value'],
    [['generate', dir, '--prompt', 'x', '--temperature', 'hot'], "switchboard: --temperature must be a number, got 'hot'"],
    [['info', dir, '--json=yes'], 'switchboard: --json takes no value'],
    [['info'], 'switchboard: info takes exactly one MODEL, got none'],
    [['data', '--nope'], 'switchboard: unknown option --nope'],
    [['bench', '--torch-threads', '0'], "switchboard: --torch-threads must be a positive integer, got '0'"],
    [['train', 'clip', '--steps', 'many'], "train:clip: --steps must be a positive integer, got 'many'"],
  ];
  for (const [args, line] of cases) {
    const r = cli(...args);
    expect([r.status, r.stderr.trim()]).toEqual([2, line]);
  }
  const top = cli('--help');
  expect(top.status).toBe(0);
  for (const c of ['info', 'generate', 'bench', 'data', 'train']) expect(top.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  for (const c of [['info'], ['generate'], ['bench'], ['data'], ['train'], ...['text-moe-small', 'mm-moe-small', 's1-plora', 's1-lora', 's1-init-ablation', 'vqvae', 'clip'].map((r) => ['train', r])]) {
    const r = cli(...c, '--help');
    expect([c, r.status]).toEqual([c, 0]);
    expect(r.stdout.split('\n')[0]).toBe(`usage: switchboard ${c.join(' ')}${c[0] === 'train' && c.length === 1 ? ' RECIPE' : ['info', 'generate'].includes(c[0]) ? ' MODEL [options]' : ' [options]'}`);
    expect(r.stdout).toContain('--help');
  }
  expect(cli('train').status).toBe(2);
});
