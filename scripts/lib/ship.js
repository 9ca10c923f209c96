'use strict';
/**
 * The command line every `npm run ship:<paper>` shares (scripts/ship-liquid.js, ship-minigpt5.js, ship-mumu.js):
 * `[RUN ...] [--from DIR] [--to DIR]`, the build, sb.<paper>.shipRuns from .cache/<folder> into
 * data/checkpoints/<folder>, the runs not shipped (those merely not trained yet counted, the others listed
 * with what is missing) and a one-line summary. Exits 1 with the error's message when shipping refuses.
 */
const path = require('path');
const { parseArgs } = require('util');
const { REPO } = require('./env');
const { ensureBuilt } = require('./build');

/**
 * paper: the code name (sb.<paper>, ship:<paper>); folder: (sb) => its runs folder name; budget: (r) => the
 * summary's note on the shipped folder's budget (" (Liquid checkpoints there: 27.0 MB)"), or '' for none.
 */
async function ship({ paper, folder, budget = () => '' }) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(`usage: npm run ship:${paper} -- [RUN ...] [--from DIR] [--to DIR]\n`);
    return 0;
  }
  await ensureBuilt();
  const sb = require(path.join(REPO, 'dist', 'kernel-lib'));
  const from = path.resolve(values.from ?? path.join(REPO, '.cache', folder(sb)));
  const to = path.resolve(values.to ?? path.join(REPO, 'data', 'checkpoints', folder(sb)));
  const r = sb[paper].shipRuns({ from, to, runs: positionals.length > 0 ? positionals : undefined, log: (s) => process.stderr.write(`${s}\n`) });
  const notTrained = r.skipped.filter((s) => / is not trained: /.test(s.reason));
  for (const s of r.skipped) if (!notTrained.includes(s)) process.stderr.write(`not shipped: ${s.reason}\n`);
  process.stdout.write(`${r.shipped.length} run(s) shipped to ${path.relative(REPO, to) || to}${budget(r)}` +
    `${notTrained.length ? `; ${notTrained.length} not trained yet` : ''}${r.skipped.length > notTrained.length ? `; ${r.skipped.length - notTrained.length} unfinished (above)` : ''}\n`);
  return 0;
}

/** Runs `ship(o)` as the script's main: exit 0, or 1 with "ship:<paper>: <message>". */
function shipMain(o) {
  ship(o).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`ship:${o.paper}: ${e instanceof Error ? e.message : e}`);
      process.exit(1);
    },
  );
}

module.exports = { shipMain };
