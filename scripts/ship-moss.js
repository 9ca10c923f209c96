#!/usr/bin/env node
'use strict';
/**
 * `npm run ship:moss -- [RUN ...] [--from DIR] [--to DIR]`: ships finished MoSS runs (issue #13) into the
 * repository, so notebook 02's quick mode runs on committed files: each run's adapter as float16 (PEFT
 * layout, ≤ 2 MB; a full fine-tuning run ships no weights), its metrics.json and its per-item held-out scores
 * (eval-test.json), into data/checkpoints/moss/<run>/ (sb.moss.shipRun). Commit the directories it writes.
 *
 *   RUN          run names (moss-<arm>-r<R>-seed<K>, moss-full-seed<K>); each must be a finished run, else exit 1.
 *                Without names: every finished run under --from; unfinished ones are listed and skipped.
 *   --from DIR   where the runs are (default .cache/moss, what npm run train:moss writes)
 *   --to DIR     where they go (default data/checkpoints/moss)
 */
const path = require('path');
const { parseArgs } = require('util');
const { REPO } = require('./lib/env');
const { ensureBuilt } = require('./lib/build');

async function main() {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('usage: npm run ship:moss -- [RUN ...] [--from DIR] [--to DIR]\n');
    return 0;
  }
  await ensureBuilt();
  const sb = require(path.join(REPO, 'dist', 'kernel-lib'));
  const from = path.resolve(values.from ?? path.join(REPO, '.cache', sb.moss.SHIPPED_FOLDER));
  const to = path.resolve(values.to ?? path.join(REPO, 'data', 'checkpoints', sb.moss.SHIPPED_FOLDER));
  const r = sb.moss.shipRuns({ from, to, runs: positionals.length > 0 ? positionals : undefined, log: (s) => process.stderr.write(`${s}\n`) });
  process.stdout.write(`${r.shipped.length} run(s) shipped to ${path.relative(REPO, to) || to}${r.skipped.length ? `, ${r.skipped.length} skipped` : ''}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`ship:moss: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  },
);
