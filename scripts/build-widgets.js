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
 * Returns quickly when the bundle is newer than every input. The inputs are what esbuild reported bundling
 * last time (its metafile, kept beside the bundle as widget.inputs.json), so a file the bundle reaches through
 * any import (kernel-lib/display/colors.ts, say) counts, and nothing else does.
 */
const fs = require('fs');
const path = require('path');

const REPO = path.resolve(__dirname, '..');
const ENTRY = path.join(REPO, 'widgets', 'src', 'index.ts');
const OUT = path.join(REPO, 'widgets', 'dist', 'widget.js');
/** The repo-relative files the last bundle was made from (esbuild's metafile inputs). */
const INPUTS = path.join(REPO, 'widgets', 'dist', 'widget.inputs.json');

/** The last bundle's inputs plus this script (its options shape the bundle); null when unknown. */
function lastInputs() {
  try {
    const inputs = JSON.parse(fs.readFileSync(INPUTS, 'utf8')).inputs;
    return Array.isArray(inputs) ? [...inputs.map((f) => path.join(REPO, f)), __filename] : null;
  } catch {
    return null;
  }
}

/** True when the bundle exists and no input of it changed (or vanished) since it was written. */
function upToDate() {
  if (!fs.existsSync(OUT)) return false;
  const inputs = lastInputs();
  if (!inputs) return false;
  const outTime = fs.statSync(OUT).mtimeMs;
  return inputs.every((f) => fs.existsSync(f) && fs.statSync(f).mtimeMs <= outTime);
}

/** Builds when needed; returns 'up to date' | 'built' | 'no sources'. Throws when esbuild is missing or fails. */
function buildWidgets({ force = false, quiet = false } = {}) {
  if (!fs.existsSync(ENTRY)) return 'no sources';
  if (!force && upToDate()) return 'up to date';
  let esbuild;
  try {
    esbuild = require('esbuild');
  } catch (e) {
    throw new Error(`esbuild is not installed (${e.code || e.message}); run npm ci`);
  }
  const started = new Date();
  const result = esbuild.buildSync({
    absWorkingDir: REPO,
    metafile: true,
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
  fs.writeFileSync(INPUTS, `${JSON.stringify({ inputs: Object.keys(result.metafile.inputs).sort() }, null, 1)}\n`);
  // dated to when bundling started, so an input saved while esbuild ran still counts as newer
  fs.utimesSync(OUT, started, started);
  return 'built';
}

module.exports = { buildWidgets, OUT, INPUTS };

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
