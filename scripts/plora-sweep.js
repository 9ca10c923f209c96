#!/usr/bin/env node
'use strict';
/**
 * `npm run plora:sweep`: notebook 01's seeds and mechanism arms (issue #18). Evaluates the 10 fine-tunes of
 * the sweep (PLoRA and LoRA at seeds 0, 1, 2; PLoRA's frozen / routers / experts / replay arms at seed 0)
 * on the notebook's full-mode held-out material, collects the init ablation's seeds, and writes
 * notebooks/results/01-redundancy-aware-moe-plora.sweep.json (only when a number changed), which the
 * notebook reads and folds into its results JSON.
 *
 *   --train      train the runs that are missing first (about 19 min each on one core; resumable)
 *   --quick      a small protocol to check the pipeline (writes under .cache/results/, never the committed file)
 *   --out FILE   write the sweep here instead
 *
 * Each evaluated run is kept in .cache/s1/sweep-partial*.json as it finishes: after a kill, run it again.
 * Without --train, a missing run is an error listing the commands that train it (two can run at once, one per core).
 */
const path = require('path');
const { parseArgs } = require('util');
const { REPO } = require('./lib/env');
const { ensureBuilt } = require('./lib/build');

async function main() {
  const { values } = parseArgs({ options: { train: { type: 'boolean' }, quick: { type: 'boolean' }, out: { type: 'string' } } });
  await ensureBuilt();
  const sb = require(path.join(REPO, 'dist', 'kernel-lib'));
  const quick = Boolean(values.quick);
  const protocol = quick ? { passages: 8, perplexityTokens: 1000, traceCaptions: 4, tracePassages: 4, captions: 3, cfgScale: 3 } : sb.plora.FULL_PROTOCOL;
  const file = values.out ?? path.join(REPO, quick ? '.cache/results' : 'notebooks/results', sb.plora.SWEEP_FILE);
  const t0 = Date.now();
  let last = 0;
  const sweep = await sb.plora.runSweep({
    root: REPO,
    protocol,
    train: Boolean(values.train),
    partialFile: path.join(REPO, '.cache', 's1', quick ? 'sweep-partial-quick.json' : 'sweep-partial.json'),
    log: (s) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${s}\n`),
    onProgress: (what, done, total) => {
      if (Date.now() - last < 10000 && done < total) return;
      last = Date.now();
      process.stderr.write(`  ${what} ${done}/${total}\n`);
    },
  });
  console.log(sb.writeResultsFile(file, sweep) ? `wrote ${file}` : `${file} already holds these numbers`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
