#!/usr/bin/env node
'use strict';
/**
 * `npm run ship:liquid -- [RUN ...] [--from DIR] [--to DIR]`: ships finished Liquid runs (issue #16) into the
 * repository, so notebook 03's quick mode runs on committed files (sb.liquid.shipRuns): every finished run's
 * metrics.json and per-item held-out scores (eval/step-N.json), each trained size's text checkpoint record
 * (text-<size>/metrics.json), and the final float16 checkpoint of each size's mixed run at seed 0 (what the
 * notebook decodes and routes live; all Liquid checkpoints together at most 40 MB), into
 * data/checkpoints/liquid/<run>/. Commit the directories it writes.
 *
 *   RUN          run names (<arm>-seed<k>, text-<size>); each must be finished, else exit 1 naming what is missing.
 *                Without names: every finished run under --from; the others are counted, unfinished ones listed.
 *   --from DIR   where the runs are (default .cache/liquid, what npm run train:liquid writes)
 *   --to DIR     where they go (default data/checkpoints/liquid)
 */
const path = require('path');
const { parseArgs } = require('util');
const { REPO } = require('./lib/env');
const { ensureBuilt } = require('./lib/build');

async function main() {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('usage: npm run ship:liquid -- [RUN ...] [--from DIR] [--to DIR]\n');
    return 0;
  }
  await ensureBuilt();
  const sb = require(path.join(REPO, 'dist', 'kernel-lib'));
  const from = path.resolve(values.from ?? path.join(REPO, '.cache', sb.liquid.SHIPPED_FOLDER));
  const to = path.resolve(values.to ?? path.join(REPO, 'data', 'checkpoints', sb.liquid.SHIPPED_FOLDER));
  const r = sb.liquid.shipRuns({ from, to, runs: positionals.length > 0 ? positionals : undefined, log: (s) => process.stderr.write(`${s}\n`) });
  const notTrained = r.skipped.filter((s) => / is not trained: /.test(s.reason));
  for (const s of r.skipped) if (!notTrained.includes(s)) process.stderr.write(`not shipped: ${s.reason}\n`);
  const mb = (r.checkpointBytes / 2 ** 20).toFixed(1);
  process.stdout.write(`${r.shipped.length} run(s) shipped to ${path.relative(REPO, to) || to} (Liquid checkpoints there: ${mb} MB)` +
    `${notTrained.length ? `; ${notTrained.length} not trained yet` : ''}${r.skipped.length > notTrained.length ? `; ${r.skipped.length - notTrained.length} unfinished (above)` : ''}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`ship:liquid: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  },
);
