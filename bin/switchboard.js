#!/usr/bin/env node
// The `switchboard` CLI. Runs the compiled library in dist/ (built by `npm start`, `npm test` or
// `npm run build`); builds it first when it is missing.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
const entry = path.join(root, 'dist', 'kernel-lib', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('switchboard: building the library (first run)…\n');
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
require(entry).main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
