#!/usr/bin/env node
// The `switchboard` command. Runs the compiled library in dist/, first bringing it up to date when any
// source under kernel-lib/ or bench/ is newer than the last build (scripts/lib/build.js, the same check
// set-up and the tests use), so it never runs stale code.
'use strict';
const path = require('node:path');
const { ensureBuilt } = require('../scripts/lib/build.js');

const root = path.resolve(__dirname, '..');
const log = (line) => process.stderr.write(`switchboard: ${line}\n`);

ensureBuilt({ log }).then(
  (r) => {
    if (!r.ok && r.tsc === 'failed') {
      log('refusing to run a stale or broken dist/; fix the errors above (npx tsc -p tsconfig.build.json)');
      process.exitCode = 1;
      return;
    }
    return require(path.join(root, 'dist', 'kernel-lib', 'cli', 'main.js'))
      .main(process.argv.slice(2))
      .then((code) => {
        process.exitCode = code;
      });
  },
  (e) => {
    log(`could not build dist/: ${e.message}`);
    process.exitCode = 1;
  },
);
