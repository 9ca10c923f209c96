#!/usr/bin/env node
'use strict';
/**
 * `npm run ship:mumu -- [RUN ...] [--from DIR] [--to DIR]`: ships finished MUMU runs (issue #17) into the
 * repository, so notebook 05's quick mode runs on committed files (sb.mumu.shipRuns): every finished run's
 * metrics.json and per-prompt held-out scores (eval-heldout.json), and for the live runs (seed 0 of every run
 * set but decoder-full) the trained connector and decoder LoRA as float16 (all MUMU weights together at most
 * 15 MB), into data/checkpoints/mumu/<run>/. Commit the directories it writes.
 *
 *   RUN          run names (mumu-<arm>-t<N>-seed<k>, mumu-caption-only-seed<k>); each must be finished (trained
 *                and scored), else exit 1 naming what is missing and the command that finishes it.
 *                Without names: every finished run under --from; the others are counted, unfinished ones listed.
 *   --from DIR   where the runs are (default .cache/mumu, what npm run train:mumu writes)
 *   --to DIR     where they go (default data/checkpoints/mumu)
 */
const path = require('path');
const { parseArgs } = require('util');
const { REPO } = require('./lib/env');
const { ensureBuilt } = require('./lib/build');

async function main() {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('usage: npm run ship:mumu -- [RUN ...] [--from DIR] [--to DIR]\n');
    return 0;
  }
  await ensureBuilt();
  const sb = require(path.join(REPO, 'dist', 'kernel-lib'));
  const from = path.resolve(values.from ?? path.join(REPO, '.cache', sb.mumu.RUNS_FOLDER));
  const to = path.resolve(values.to ?? path.join(REPO, 'data', 'checkpoints', sb.mumu.RUNS_FOLDER));
  const r = sb.mumu.shipRuns({ from, to, runs: positionals.length > 0 ? positionals : undefined, log: (s) => process.stderr.write(`${s}\n`) });
  const notTrained = r.skipped.filter((s) => / is not trained: /.test(s.reason));
  for (const s of r.skipped) if (!notTrained.includes(s)) process.stderr.write(`not shipped: ${s.reason}\n`);
  const mb = (r.weightBytes / 2 ** 20).toFixed(1);
  process.stdout.write(`${r.shipped.length} run(s) shipped to ${path.relative(REPO, to) || to} (MUMU weights there: ${mb} MB)` +
    `${notTrained.length ? `; ${notTrained.length} not trained yet` : ''}${r.skipped.length > notTrained.length ? `; ${r.skipped.length - notTrained.length} unfinished (above)` : ''}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`ship:mumu: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  },
);
