'use strict';
/**
 * Build freshness, in one place: `ensureBuilt()` compiles kernel-lib/ and bench/ into dist/ (tsc -p
 * tsconfig.build.json) when any source is newer than the build stamp, a source was added or removed, or a
 * tsconfig changed, and bundles the prompt widget when any of its inputs (esbuild's metafile) changed.
 * Used by scripts/setup.js (npm start/test/bench/data/train:*), bin/switchboard.js and jest's globalSetup
 * (tests/helpers/global-setup.js), so no command runs stale code.
 * Plain Node, no dependencies beyond typescript and esbuild in node_modules.
 */
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const { REPO, paths } = require('./env.js');

const BUILD_ROOTS = ['kernel-lib', 'bench'];
const TSCONFIGS = ['tsconfig.json', 'tsconfig.build.json'];

/** A file's modification time in ms, or -1 when it does not exist. */
function mtimeMs(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/** Every .ts that tsconfig.build.json compiles (tests and declarations excluded), repo-relative, sorted. */
function listBuildSources() {
  const out = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && !e.name.startsWith('.')) walk(p);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !e.name.endsWith('.test.ts')) {
        out.push(path.relative(REPO, p));
      }
    }
  };
  for (const root of BUILD_ROOTS) walk(path.join(REPO, root));
  return out.sort();
}

/**
 * Whether dist/ is current: { sources, stale, why, removed }. `why` says what changed (for the log line);
 * `removed` is true when a source of the last build is gone (its output must go too).
 */
function buildState() {
  const sources = listBuildSources();
  const stampTime = mtimeMs(paths.buildStamp);
  let previous = null;
  try {
    previous = JSON.parse(fs.readFileSync(paths.buildStamp, 'utf8')).sources;
  } catch {
    /* no stamp */
  }
  const changed = [...sources, ...TSCONFIGS].filter((f) => mtimeMs(path.join(REPO, f)) > stampTime);
  const sameSet = Array.isArray(previous) && previous.join('\n') === sources.join('\n');
  const removed = Array.isArray(previous) && previous.some((f) => !sources.includes(f));
  const stale = sources.length > 0 && (stampTime < 0 || !sameSet || changed.length > 0);
  const why = stampTime < 0 ? 'no previous build' : !sameSet ? 'sources added or removed' : `${changed.length} file(s) changed`;
  return { sources, stale, why, removed };
}

/** tsc with its output on stderr (stdout may be a command's JSON); resolves with the exit status. */
function runTscDefault(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', process.stderr, process.stderr] });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code !== null ? code : 128 + (require('os').constants.signals[signal] || 1)));
  });
}

/**
 * Makes dist/ and the widget bundle current. `log` gets a line for each thing done (nothing when all is
 * current); `run(cmd, args)` runs tsc (setup.js passes its signal-forwarding runner).
 * Resolves { ok, tsc: 'up to date' | 'built' | 'failed' | 'no sources', widgets: 'up to date' | 'built' |
 * 'failed' | 'no sources', sources }.
 */
async function ensureBuilt({ log = () => {}, run = runTscDefault } = {}) {
  let widgets;
  try {
    widgets = require('../build-widgets.js').buildWidgets({ quiet: true });
    if (widgets === 'built') log('build: bundled widgets/dist/widget.js');
  } catch (e) {
    widgets = 'failed';
    log(`build: widget bundle failed: ${e.message}`);
  }
  const state = buildState();
  const result = (tsc) => ({ ok: tsc !== 'failed' && widgets !== 'failed', tsc, widgets, sources: state.sources.length });
  if (state.sources.length === 0) return result('no sources');
  if (!state.stale) return result('up to date');
  // A source was removed or renamed: drop the old output so `require('./dist/...')` cannot pick it up.
  if (state.removed) for (const root of BUILD_ROOTS) fs.rmSync(path.join(paths.dist, root), { recursive: true, force: true });
  log(`build: ${state.why}; running tsc -p tsconfig.build.json`);
  const startedAt = new Date();
  const code = await run(process.execPath, [path.join(paths.nodeModules, 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);
  if (code !== 0) {
    log(`build: tsc reported errors (exit ${code}); dist/ was emitted anyway but may be stale or broken`);
    return result('failed');
  }
  fs.mkdirSync(paths.dist, { recursive: true });
  fs.writeFileSync(paths.buildStamp, `${JSON.stringify({ builtAt: startedAt.toISOString(), sources: state.sources }, null, 1)}\n`);
  // The stamp's mtime is when the build started, so a file saved during the build still counts as changed.
  fs.utimesSync(paths.buildStamp, startedAt, startedAt);
  return result('built');
}

module.exports = { ensureBuilt, buildState, listBuildSources, mtimeMs, BUILD_ROOTS };
