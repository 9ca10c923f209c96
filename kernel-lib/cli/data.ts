/**
 * `switchboard data` (`npm run data`): builds the data cache and (re)trains the text tokenizer, writing
 * data/tokenizer/tokenizer.json only when it changed.
 */
import fs from 'fs';
import path from 'path';
import { buildData, defaultProgress } from '../data/build';
import { defaultTokenizerPath } from '../data/paths';
import { ensureData } from '../data/store';
import { loadTextTokenizer, saveTextTokenizer, tokenizerJsonText, trainTextTokenizer } from '../data/text-tokenizer';
import { CommandSpec, parseCommand } from './args';
import type { Io } from './io';

export const DATA: CommandSpec = {
  usage: 'switchboard data',
  positionals: [],
  about:
    'Builds the data sets (emoji, scenes, stories, Brown) into .cache/data and retrains the text tokenizer, writing\n' +
    'data/tokenizer/tokenizer.json only when it changed (data/README.md).',
  options: {
    force: { type: 'boolean', help: 'rebuild the cache even when it is current' },
    'no-tokenizer': { type: 'boolean', help: 'skip the tokenizer' },
    check: { type: 'boolean', help: 'train the tokenizer but do not write it; exit 1 when the committed file differs' },
    'cache-dir': { type: 'string', arg: 'DIR', help: 'build there instead of .cache/data (also: SWITCHBOARD_DATA_CACHE)' },
  },
};

export async function data(argv: string[], io: Io): Promise<number> {
  const { values, help } = parseCommand(argv, DATA);
  if (help) return io.help(DATA);
  const cacheDir = values['cache-dir'] as string | undefined;
  const flags = new Set(Object.keys(values).filter((k) => values[k] === true).map((k) => `--${k}`));
  const log = defaultProgress;
  const t0 = performance.now();
  const manifest = await buildData({ cacheDir, force: flags.has('--force'), onProgress: log });
  const c = manifest.counts;
  const fmt = (s: { train: number; val: number; test: number }): string => `${s.train}/${s.val}/${s.test}`;
  log(
    `data ready (train/val/test): emoji ${fmt(c.emoji)}, scenes ${fmt(c.scenes)}, stories ${fmt(c.stories)}, ` +
      `brown documents ${fmt(c.brownDocuments)}`,
  );
  if (flags.has('--no-tokenizer')) return 0;

  const trained = trainTextTokenizer({ onProgress: log });
  const file = defaultTokenizerPath();
  const rel = path.relative(process.cwd(), file);
  const store = await ensureData({ cacheDir });
  let tokens = 0;
  let sentences = 0;
  for (const d of store.brown) {
    if (d.split !== 'val') continue;
    for (const s of d.paragraphs.flat()) {
      tokens += trained.bpe.encode(s).length;
      sentences++;
    }
  }
  log(
    `tokenizer: ${trained.bpe.vocabSize} tokens from ${trained.texts} texts in ${trained.seconds.toFixed(1)} s; ` +
      `${(tokens / sentences).toFixed(1)} tokens per Brown val sentence`,
  );
  if (flags.has('--check')) {
    const same = fs.existsSync(file) && fs.readFileSync(file, 'utf8') === tokenizerJsonText(trained.bpe);
    log(same ? `${rel}: matches a fresh training` : `${rel}: DIFFERS from a fresh training (run npm run data and commit it)`);
    return same ? 0 : 1;
  }
  const wrote = saveTextTokenizer(trained.bpe, file);
  loadTextTokenizer(file); // validates what was written
  log(`${rel}: ${wrote ? 'written' : 'unchanged'}; total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}
