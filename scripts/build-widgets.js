#!/usr/bin/env node
'use strict';
/**
 * Bundles the browser widget (widgets/src/index.ts, plus the protocol files it imports from
 * kernel-lib/server/) into widgets/dist/widget.js: one IIFE that defines `window.SwitchboardWidget`.
 * The bundle is a build output (gitignored), made by set-up and, if missing or stale, by promptWidget.
 * Type-checking is separate (widgets/tsconfig.json; tests/widgets/typecheck.test.ts).
 *
 *   node scripts/build-widgets.js [--force]
 *
 * Returns quickly when the bundle is newer than every input.
 */
const fs = require('fs');
const path = require('path');

const REPO = path.resolve(__dirname, '..');
const ENTRY = path.join(REPO, 'widgets', 'src', 'index.ts');
const OUT = path.join(REPO, 'widgets', 'dist', 'widget.js');
const INPUT_DIRS = [path.join(REPO, 'widgets', 'src'), path.join(REPO, 'kernel-lib', 'server')];

function newestInput() {
  let newest = 0;
  for (const dir of INPUT_DIRS) {
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      if (f.endsWith('.ts')) newest = Math.max(newest, fs.statSync(path.join(dir, f)).mtimeMs);
    }
  }
  return newest;
}

/** Builds when needed; returns 'up to date' | 'built' | 'no sources'. Throws when esbuild is missing or fails. */
function buildWidgets({ force = false, quiet = false } = {}) {
  if (!fs.existsSync(ENTRY)) return 'no sources';
  const outTime = fs.existsSync(OUT) ? fs.statSync(OUT).mtimeMs : -1;
  if (!force && outTime >= newestInput()) return 'up to date';
  let esbuild;
  try {
    esbuild = require('esbuild');
  } catch (e) {
    throw new Error(`esbuild is not installed (${e.code || e.message}); run npm ci`);
  }
  esbuild.buildSync({
    entryPoints: [ENTRY],
    outfile: OUT,
    bundle: true,
    format: 'iife',
    globalName: 'SwitchboardWidget',
    platform: 'browser',
    target: ['es2020'],
    minify: true,
    legalComments: 'none',
    logLevel: quiet ? 'silent' : 'warning',
  });
  return 'built';
}

module.exports = { buildWidgets, OUT };

if (require.main === module) {
  try {
    const r = buildWidgets({ force: process.argv.includes('--force') });
    const size = fs.existsSync(OUT) ? ` (${(fs.statSync(OUT).size / 1024).toFixed(1)} KiB)` : '';
    process.stdout.write(`widgets: ${r}${size}\n`);
  } catch (e) {
    process.stderr.write(`widgets: build failed: ${e.message}\n`);
    process.exit(1);
  }
}
