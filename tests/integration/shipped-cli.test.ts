/**
 * Every CLI command on every shipped language model in data/checkpoints (found by their config.json, so a
 * new one is covered without editing this file): info, info --json, generate, generate --json, and for
 * models with image codes --start-image with --image-out. `generate` once failed on the text-only
 * text-moe-small (`this tokenizer has no image vocabulary…`) while the library worked.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

const BIN = path.resolve(__dirname, '../../bin/switchboard.js');
const CK = path.resolve(__dirname, '../../data/checkpoints');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, SWITCHBOARD_BACKEND: 'wasm' } });

/** The shipped language models: checkpoint folders whose config.json is a Mixtral config. */
const MODELS = fs
  .readdirSync(CK)
  .filter((d) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(CK, d, 'config.json'), 'utf8')).model_type === 'mixtral';
    } catch {
      return false;
    }
  })
  .sort();

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-shipped-cli-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the shipped language models are found (text-only and multimodal)', () => {
  expect(MODELS).toEqual(expect.arrayContaining(['text-moe-small', 'mm-moe-small', 's1-plora', 's1-lora']));
});

describe.each(MODELS)('%s', (name) => {
  const dir = path.join(CK, name);
  let images = false;

  test('info and info --json', () => {
    const r = cli('info', dir);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^\s+parameters\s+[\d,]+$/m);
    const j = JSON.parse(cli('info', dir, '--json').stdout);
    images = j.vocabulary.imageCodes > 0;
    expect(r.stdout).toContain(`${j.vocabulary.imageCodes} image codes`);
  });

  test('generate (text), then generate --json gives the same tokens', () => {
    const r = cli('generate', dir, '--prompt', 'The old man said', '--max-new-tokens', '8', '--seed', '1');
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^\[\d+ tokens, stopped: (eos|max-new-tokens)\]$/m);
    const j = cli('generate', dir, '--prompt', 'The old man said', '--max-new-tokens', '8', '--seed', '1', '--json');
    expect(j.status).toBe(0);
    const [prompt, ...steps] = j.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(prompt.prompt.pieces.length).toBe(prompt.prompt.ids.length);
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.length).toBeLessThanOrEqual(8);
    // the plain output is the pieces the JSON steps carry
    expect(r.stdout).toBe(`${steps.map((s: { piece: string }) => s.piece).join('')}\n`);
  });

  test('--start-image --image-out (multimodal) or a clear refusal (text-only)', () => {
    const out = path.join(tmp, `${name}.png`);
    const r = cli('generate', dir, '--prompt', 'an emoji of a cat', '--start-image', '--seed', '2', '--json', '--image-out', out);
    if (!images) {
      expect([r.status, r.stderr.trim()]).toEqual([1, `switchboard: --start-image needs a model with image codes; ${dir} is text-only`]);
      return;
    }
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`wrote ${out} (1 image)`);
    const steps = r.stdout.trim().split('\n').slice(1).map((l) => JSON.parse(l));
    const grid = JSON.parse(cli('info', dir, '--json').stdout).vocabulary.imageGrid;
    expect(steps.filter((s: { modality: string }) => s.modality === 'image')).toHaveLength(grid.height * grid.width);
    expect(fs.readFileSync(out).subarray(1, 4).toString()).toBe('PNG');
  });
});
