/**
 * `npm run data` (node scripts/setup.js --data → node dist/kernel-lib/data/cli.js): builds the data cache
 * and (re)trains the text tokenizer, writing data/tokenizer/tokenizer.json only when it changed.
 *
 *   --force           rebuild the cache even when it is current
 *   --no-tokenizer    skip the tokenizer
 *   --check           train the tokenizer but do not write it; exit 1 when the committed file differs
 *   --cache-dir DIR   build there instead of .cache/data (also: SWITCHBOARD_DATA_CACHE)
 */
import fs from 'fs';
import path from 'path';
import { buildData, defaultProgress } from './build';
import { defaultTokenizerPath } from './paths';
import { ensureData } from './store';
import { loadTextTokenizer, saveTextTokenizer, tokenizerJsonText, trainTextTokenizer } from './text-tokenizer';

const USAGE = 'usage: npm run data -- [--force] [--no-tokenizer] [--check] [--cache-dir DIR]';

export async function main(argv: string[]): Promise<number> {
  const flags = new Set<string>();
  let cacheDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--cache-dir') cacheDir = argv[++i];
    else if (['--force', '--no-tokenizer', '--check'].includes(argv[i])) flags.add(argv[i]);
    else {
      process.stderr.write(`unknown argument ${argv[i]}\n${USAGE}\n`);
      return 2;
    }
  }
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

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`[data] error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
