/** `switchboard generate MODEL --adapter DIR`: decodes with a PEFT adapter on, as the library does. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useBackend } from '../helpers/backend';
import { tinySession } from '../helpers/fixtures';
import type { Session } from '../../kernel-lib/session';
import { attachLoRA, savePeftAdapter } from '../../kernel-lib/adapters';
import { generate } from '../../kernel-lib/cli/generate';
import type { Io } from '../../kernel-lib/cli/io';
import { randomizeZeros } from './moss-helpers';

let s: Session;
let tmp: string;
beforeAll(async () => {
  await useBackend();
  s = await tinySession({ seed: 4 });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-gen-adapter-'));
  s.save(path.join(tmp, 'model'));
});
afterAll(() => {
  s.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function captureIo(): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), write: (t) => out.push(t), err: (l) => err.push(l), help: () => 0 }, out, err };
}

const tokensOf = (lines: string[]): number[] => lines.slice(1).map((l) => (JSON.parse(l) as { tokenId: number }).tokenId);

test('--adapter decodes with the ConvLoRA on: the same tokens as the library with the adapter attached', async () => {
  const h = attachLoRA(s, { kind: 'convlora', rank: 4, alpha: 8, grid: s.tokenizer.imageGrid, seed: 1 });
  randomizeZeros(h, 3, 0.5);
  savePeftAdapter(h, path.join(tmp, 'moss'));
  const args = [path.join(tmp, 'model'), '--prompt', 'an emoji of a tiger', '--start-image', '--temperature', '0', '--json'];
  const lib = s.generate('an emoji of a tiger', { startImage: true, temperature: 0 });
  for await (const _ of lib);
  h.enabled = false;
  const libBase = s.generate('an emoji of a tiger', { startImage: true, temperature: 0 });
  for await (const _ of libBase);
  h.detach();
  const withAdapter = captureIo();
  expect(await generate([...args, '--adapter', path.join(tmp, 'moss')], withAdapter.io)).toBe(0);
  expect(withAdapter.err[0]).toBe('[adapter convlora: convlora, rank 4]');
  expect(tokensOf(withAdapter.out)).toEqual(lib.steps.map((st) => st.tokenId));
  const base = captureIo();
  expect(await generate(args, base.io)).toBe(0);
  expect(tokensOf(base.out)).toEqual(libBase.steps.map((st) => st.tokenId));
  expect(tokensOf(base.out)).not.toEqual(tokensOf(withAdapter.out)); // the adapter changed the decode
});

test('--adapter names a directory without adapter_config.json: a usage error', async () => {
  await expect(generate([path.join(tmp, 'model'), '--prompt', 'a', '--adapter', tmp], captureIo().io)).rejects.toThrow(
    `--adapter ${tmp}: no adapter_config.json there (a PEFT adapter directory, as saveAdapter/savePeftAdapter write)`,
  );
});
