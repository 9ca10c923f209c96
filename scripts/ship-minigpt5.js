#!/usr/bin/env node
'use strict';
/**
 * `npm run ship:minigpt5 -- [RUN ...] [--from DIR] [--to DIR]`: ships finished MiniGPT-5 runs (issue #15) into
 * the repository, so notebook 04's quick mode runs on committed files (sb.minigpt5.shipRuns): every finished
 * run's metrics.json and per-item held-out scores (eval.json), and the float16 weights of the live runs
 * (stage 1 and stage 2 of `full` at seed 0: voken rows, mapper, stage-2 LoRA; each file at most 15 MB), into
 * data/checkpoints/minigpt5/<run>/. Commit the directories it writes.
 *
 *   RUN          run names (minigpt5-s<stage>-<arm>-seed<k>); each must be finished and evaluated, else exit 1
 *                naming what is missing and the command. Without names: every finished run under --from; the
 *                others are counted, started ones listed.
 *   --from DIR   where the runs are (default .cache/minigpt5, what npm run train:minigpt5 writes)
 *   --to DIR     where they go (default data/checkpoints/minigpt5)
 */
const path = require('path');
const { parseArgs } = require('util');
const { REPO } = require('./lib/env');
const { ensureBuilt } = require('./lib/build');

async function main() {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write('usage: npm run ship:minigpt5 -- [RUN ...] [--from DIR] [--to DIR]\n');
    return 0;
  }
  await ensureBuilt();
  const sb = require(path.join(REPO, 'dist', 'kernel-lib'));
  const from = path.resolve(values.from ?? path.join(REPO, '.cache', sb.minigpt5.RUNS_FOLDER));
  const to = path.resolve(values.to ?? path.join(REPO, 'data', 'checkpoints', sb.minigpt5.SHIPPED_FOLDER));
  const r = sb.minigpt5.shipRuns({ from, to, runs: positionals.length > 0 ? positionals : undefined, log: (s) => process.stderr.write(`${s}\n`) });
  const notTrained = r.skipped.filter((s) => / is not trained: /.test(s.reason));
  for (const s of r.skipped) if (!notTrained.includes(s)) process.stderr.write(`not shipped: ${s.reason}\n`);
  process.stdout.write(`${r.shipped.length} run(s) shipped to ${path.relative(REPO, to) || to}` +
    `${notTrained.length ? `; ${notTrained.length} not trained yet` : ''}${r.skipped.length > notTrained.length ? `; ${r.skipped.length - notTrained.length} unfinished (above)` : ''}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`ship:minigpt5: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  },
);
