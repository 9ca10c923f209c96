/** `npm run train:vqvae` (switchboard train vqvae): a bad option is named, exit 2, before the backend or data load. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const BIN = path.resolve(__dirname, '../../bin/switchboard.js');
const firstLine = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, 'train', 'vqvae', ...args], { encoding: 'utf8' });
  return [r.status, r.stderr.split('\n')[0], r.stdout];
};

test.each([
  [['--config', '{"hidden2": 0}'], 'train:vqvae: --config: VQVAEConfig.hidden2 must be a positive integer, got 0'],
  [['--config', '{"hiden2": 96}'], "train:vqvae: --config: unknown field 'hiden2'; VQVAEConfig fields are numCodes, codeDim, hidden1, hidden2, resBlocks, imageSizes"],
  [['--config', '[96]'], 'train:vqvae: --config must be a JSON object, got [96]'],
  [['--lr', 'fast'], "train:vqvae: --lr must be a positive number, got 'fast'"],
  [['--steps', '0'], "train:vqvae: --steps must be a positive integer, got '0'"],
  [['--seed', '-1'], "train:vqvae: --seed must be a non-negative integer, got '-1'"],
  [['--bogus'], 'train:vqvae: unknown or incomplete argument --bogus'],
  [['--out'], 'train:vqvae: unknown or incomplete argument --out'],
  [['--seed', '4294967296'], "train:vqvae: --seed must be an integer in [0, 2^32), got '4294967296'"],
])('%j', (args, message) => {
  // nothing on stdout: the backend line would come first if work had started
  expect(firstLine(...args)).toEqual([2, message, '']);
});

test('--config that is not JSON: the parser’s own words, then the text given', () => {
  const [status, line] = firstLine('--config', '{hidden2: 96}');
  expect(status).toBe(2);
  expect(line).toMatch(/^train:vqvae: --config is not valid JSON \(.+\): \{hidden2: 96\}$/);
});
