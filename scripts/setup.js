#!/usr/bin/env node
'use strict';
/**
 * Switchboard set-up and entry points (`npm start`, `npm test`, `npm run bench`, `npm run data`, `npm run setup`).
 *
 *   node scripts/setup.js                 ensure steps only
 *   node scripts/setup.js --start [--no-launch] [notebook args...]
 *   node scripts/setup.js --test [jest args...]
 *   node scripts/setup.js --bench [bench args...]
 *   node scripts/setup.js --data [data args...]   = --cli data [data args...]
 *   node scripts/setup.js --cli [args...]         npm deps + build only, then bin/switchboard.js args (npm run
 *                                                  data, npm run train:<recipe>: switchboard train <recipe>)
 *   node scripts/setup.js --run FILE [args...]    npm deps + build only, then node FILE args (a compiled file)
 *
 * Ensure steps (each prints one line and is quick when there is nothing to do):
 *   1. npm dependencies   `npm ci` (or `npm install` without a lockfile) when node_modules is missing or older
 *                         than package.json / package-lock.json
 *   2. build              `tsc -p tsconfig.build.json` when a .ts under kernel-lib/ or bench/ changed, and the
 *                         widget bundle when one of its inputs did (scripts/lib/build.js, also run by the CLI
 *                         and by jest's globalSetup)
 *   3. Debian packages    Jupyter Notebook, nbclient, nbconvert (+ PyTorch and OpenBLAS for --test/--bench,
 *                         + Chromium for --test) for /usr/bin/python3; installed with apt-get when root
 *   4. tslab kernel       kernelspec written to .jupyter-local/data/kernels/tslab (nothing global)
 *
 * Plain Node with no dependencies: it runs before `npm install`.
 */
const fs = require('fs');
const path = require('path');
const os = require('os');
const { spawn, spawnSync } = require('child_process');
const envLib = require('./lib/env.js');
const { runJupyter } = require('./lib/jupyter.js');
const { ensureBuilt, mtimeMs } = require('./lib/build.js');

const { REPO, PYTHON, KERNEL_NAME, TORCH_REQUIRED_ENV, paths, jupyterEnv, testEnv } = envLib;

/** The one command-line entry point; npm run data / bench / train:* all go through it. */
const CLI = path.join(REPO, 'bin', 'switchboard.js');

// ---------------------------------------------------------------------------------------------------------------
// Output and timing

const timings = [];

function log(msg) {
  process.stdout.write(`[setup] ${msg}\n`);
}

function fmtS(ms) {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** Runs `fn` as a named step, records its duration. */
async function step(name, fn) {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    timings.push({ name, ms: Date.now() - t0 });
  }
}

class SetupError extends Error {}

// ---------------------------------------------------------------------------------------------------------------
// Child processes: one at a time, with signals forwarded

let currentChild = null;
let signalsInstalled = false;
/** While Jupyter runs (npm start), its runner handles the stop signals (scripts/lib/jupyter.js says why). */
let signalOwner = null;

const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

function installSignalForwarding() {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const sig of Object.keys(SIGNAL_NUMBERS)) {
    process.on(sig, () => {
      if (signalOwner) return signalOwner(sig);
      if (!currentChild || currentChild.exitCode !== null || currentChild.signalCode !== null) {
        process.exit(128 + SIGNAL_NUMBERS[sig]);
      }
      // Ctrl-C in a terminal already reaches the whole foreground process group, child included; sending it
      // again would count as a second Ctrl-C (Jupyter shuts down without asking on the second one).
      if (sig === 'SIGINT' && process.stdin.isTTY) return;
      currentChild.kill(sig);
    });
  }
}

/** Spawns a command with inherited stdio; resolves with its exit code (128+n when killed by a signal). */
function runChild(cmd, args, opts = {}) {
  installSignalForwarding();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO, stdio: 'inherit', env: process.env, ...opts });
    currentChild = child;
    child.on('error', (err) => {
      currentChild = null;
      reject(new SetupError(`could not start ${cmd}: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      currentChild = null;
      resolve(code !== null ? code : 128 + (os.constants.signals[signal] || 1));
    });
  });
}


function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// ---------------------------------------------------------------------------------------------------------------
// 1. npm dependencies

const DEP_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'];

/**
 * True when node_modules already holds exactly what package-lock.json describes (npm's own record of the
 * installed tree, node_modules/.package-lock.json, agrees on every non-optional package, and the lockfile's
 * root agrees with package.json). Lets a checkout that only touched package.json's mtime, or a tree installed
 * before the stamp existed, skip a full `npm ci`.
 */
function installedTreeMatchesLock() {
  const lockFile = path.join(REPO, 'package-lock.json');
  const hiddenFile = path.join(paths.nodeModules, '.package-lock.json');
  if (!fs.existsSync(lockFile) || !fs.existsSync(hiddenFile)) return false;
  try {
    const pkg = readJson(path.join(REPO, 'package.json'));
    const lock = readJson(lockFile);
    const hidden = readJson(hiddenFile);
    if (!lock.packages || !hidden.packages || !lock.packages['']) return false;
    const root = lock.packages[''];
    for (const field of DEP_FIELDS) {
      if (JSON.stringify(pkg[field] || {}) !== JSON.stringify(root[field] || {})) return false;
    }
    for (const [key, entry] of Object.entries(lock.packages)) {
      if (key === '' || !key.startsWith('node_modules/')) continue;
      const installed = hidden.packages[key];
      if (!installed) {
        if (entry.optional || entry.devOptional) continue; // optional deps that failed to install are dropped
        return false;
      }
      if (!entry.link && installed.version !== entry.version) return false;
      if (!fs.existsSync(path.join(REPO, key))) return false;
    }
    return true;
  } catch {
    return false;
  }
}

async function ensureNpmDeps() {
  const lockFile = path.join(REPO, 'package-lock.json');
  const hasLock = fs.existsSync(lockFile);
  const newestInput = Math.max(mtimeMs(path.join(REPO, 'package.json')), hasLock ? mtimeMs(lockFile) : -1);
  const stamp = mtimeMs(paths.installStamp);
  if (fs.existsSync(paths.nodeModules) && stamp >= newestInput) {
    log('npm deps: up to date');
    return;
  }
  if (fs.existsSync(paths.nodeModules) && installedTreeMatchesLock()) {
    fs.writeFileSync(paths.installStamp, `${new Date().toISOString()}\n`);
    log('npm deps: node_modules already matches package-lock.json (stamp refreshed)');
    return;
  }
  const args = [hasLock ? 'ci' : 'install', '--no-audit', '--no-fund'];
  const reason = fs.existsSync(paths.nodeModules) ? 'package.json/package-lock.json changed' : 'node_modules missing';
  log(`npm deps: ${reason}; running npm ${args.join(' ')}`);
  const code = await runChild('npm', args);
  if (code !== 0) throw new SetupError(`npm ${args[0]} failed (exit ${code})`);
  fs.writeFileSync(paths.installStamp, `${new Date().toISOString()}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// 2. build (kernel-lib and bench -> dist/, the widget bundle): scripts/lib/build.js, shared with the CLI and jest

/** Returns true when dist/ and the widget bundle are up to date (or there is nothing to build), false on build errors. */
async function ensureBuild() {
  const r = await ensureBuilt({ log, run: (cmd, args) => runChild(cmd, args) });
  if (r.tsc === 'no sources') log('build: no TypeScript sources under kernel-lib/ or bench/ yet; skipped');
  else if (r.tsc === 'up to date') log(`build: dist/ up to date (${r.sources} sources)`);
  return r.ok;
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Debian packages

/** Python module -> Debian package that provides it for /usr/bin/python3. */
const PY_MODULE_PACKAGES = {
  notebook: 'jupyter-notebook',
  nbclient: 'python3-nbclient',
  nbconvert: 'python3-nbconvert',
  torch: 'python3-torch',
};
const CHROMIUM = '/usr/bin/chromium';
/**
 * Debian library packages checked with dpkg-query. python3-torch links the generic libblas.so.3, which on a
 * fresh Debian 12 is netlib's reference BLAS (~10× slower matMuls); libopenblas0-pthread takes over
 * libblas.so.3 through update-alternatives, so the PyTorch baseline of the tests and the benchmark is honest.
 */
const TORCH_LIBRARIES = ['libopenblas0-pthread'];

function requirementsFor(mode) {
  const modules = ['notebook', 'nbclient', 'nbconvert'];
  const libraries = [];
  if (mode === 'test' || mode === 'bench') {
    modules.push('torch');
    libraries.push(...TORCH_LIBRARIES);
  }
  return { modules, libraries, chromium: mode === 'test' };
}

/** Installed state of Debian packages (dpkg-query); the ones not fully installed. */
function missingLibraries(libraries) {
  return libraries.filter((p) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' });
    return r.status !== 0 || !/\binstall ok installed\b/.test(r.stdout || '');
  });
}

/** Imports each module with /usr/bin/python3; returns { missing: [module...], versions: {module: version} }. */
function checkPythonModules(modules) {
  if (!fs.existsSync(PYTHON)) return { missing: modules.slice(), versions: {}, note: `${PYTHON} not found` };
  const code = [
    'import importlib, json, sys',
    'res = {"missing": [], "versions": {}, "errors": {}}',
    'for m in sys.argv[1:]:',
    '    try:',
    '        mod = importlib.import_module(m)',
    '        res["versions"][m] = str(getattr(mod, "__version__", "?"))',
    '    except Exception as e:',
    '        res["missing"].append(m)',
    '        res["errors"][m] = "%s: %s" % (type(e).__name__, e)',
    'print("@@SWITCHBOARD@@" + json.dumps(res))',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', code, ...modules], { encoding: 'utf8' });
  const line = (r.stdout || '').split('\n').find((l) => l.startsWith('@@SWITCHBOARD@@'));
  if (!line) {
    return { missing: modules.slice(), versions: {}, note: `${PYTHON} failed: ${(r.stderr || '').trim().split('\n').pop()}` };
  }
  return JSON.parse(line.slice('@@SWITCHBOARD@@'.length));
}

function missingPackages(req) {
  const py = checkPythonModules(req.modules);
  const pkgs = py.missing.map((m) => PY_MODULE_PACKAGES[m]);
  pkgs.push(...missingLibraries(req.libraries));
  if (req.chromium && !fs.existsSync(CHROMIUM)) pkgs.push('chromium');
  return { pkgs, py };
}

async function ensureDebianPackages(mode) {
  const req = requirementsFor(mode);
  let { pkgs, py } = missingPackages(req);
  const describe = () =>
    Object.entries(py.versions)
      .map(([m, v]) => `${m} ${v}`)
      .concat(req.libraries)
      .concat(req.chromium ? ['chromium'] : [])
      .join(', ');
  if (pkgs.length === 0) {
    log(`Debian packages: ok (${describe()})`);
    return;
  }
  const installCmd = ['apt-get', 'install', '-y', '--no-install-recommends', ...pkgs];
  const detail = py.note || Object.entries(py.errors || {}).map(([m, e]) => `${m}: ${e}`).join('; ');
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new SetupError(
      `Debian packages missing: ${pkgs.join(' ')}${detail ? ` (${detail})` : ''}.\n` +
        `  Switchboard needs them for ${PYTHON}. Install them, then run this again:\n\n` +
        `    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive ${installCmd.join(' ')}\n`,
    );
  }
  if (!fs.existsSync('/usr/bin/apt-get')) {
    throw new SetupError(`Debian packages missing: ${pkgs.join(' ')}, and apt-get is not available (Switchboard expects Debian 12)`);
  }
  log(`Debian packages: missing ${pkgs.join(' ')}; running apt-get update && ${installCmd.join(' ')}`);
  const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let code = await runChild('apt-get', ['update'], { env: aptEnv });
  if (code !== 0) throw new SetupError(`apt-get update failed (exit ${code})`);
  code = await runChild(installCmd[0], installCmd.slice(1), { env: aptEnv });
  if (code !== 0) throw new SetupError(`${installCmd.join(' ')} failed (exit ${code})`);
  ({ pkgs, py } = missingPackages(req));
  if (pkgs.length > 0) {
    throw new SetupError(`still missing after apt-get install: ${pkgs.join(' ')} (${py.note || JSON.stringify(py.errors)})`);
  }
  log(`Debian packages: installed (${describe()})`);
}

// ---------------------------------------------------------------------------------------------------------------
// 4. tslab kernel, registered in the project-local Jupyter data dir

/**
 * The kernelspecs `tslab install` would write (tslab/python/install.py), but with absolute paths: this node
 * and node_modules/tslab/bin/tslab (what node_modules/.bin/tslab links to), so the kernel starts the same way
 * whatever PATH Jupyter was launched with. `--config-path` and `{connection_file}` are separate argv entries
 * on purpose (tslab issue #36).
 */
function kernelSpecs() {
  const base = [process.execPath, paths.tslabBin, 'kernel', '--config-path', '{connection_file}'];
  return {
    tslab: { argv: base, display_name: 'TypeScript (tslab)', language: 'typescript' },
    jslab: { argv: [...base, '--js'], display_name: 'JavaScript (tslab)', language: 'javascript' },
  };
}

function kernelSpecPath(name = KERNEL_NAME) {
  return path.join(paths.jupyterData, 'kernels', name, 'kernel.json');
}

async function ensureKernel() {
  if (!fs.existsSync(paths.tslabBin)) {
    throw new SetupError(`${path.relative(REPO, paths.tslabBin)} is missing; run npm ci`);
  }
  // tslab talks to Jupyter through zeromq's native binding; make sure it loads under this node.
  const zmq = spawnSync(process.execPath, ['-e', "require('zeromq')"], { cwd: REPO, encoding: 'utf8' });
  if (zmq.status !== 0) {
    const last = (zmq.stderr || '').trim().split('\n').filter(Boolean).slice(0, 3).join(' | ');
    throw new SetupError(`zeromq (needed by the tslab kernel) does not load under ${process.execPath}: ${last}\n  Try: npm rebuild zeromq`);
  }
  for (const dir of [paths.jupyterData, paths.jupyterConfig, paths.ipython]) fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(paths.jupyterRuntime, { recursive: true, mode: 0o700 });
  let written = 0;
  for (const [name, spec] of Object.entries(kernelSpecs())) {
    const file = kernelSpecPath(name);
    const text = `${JSON.stringify(spec, null, 1)}\n`;
    written += writeIfChanged(file, text);
  }
  written += writeIfChanged(WIDGETS_STUB, WIDGETS_STUB_TEXT);
  const where = path.relative(REPO, path.dirname(kernelSpecPath()));
  log(written ? `tslab kernel: registered in ${where} (and jslab)` : `tslab kernel: registered (${where})`);
}

/**
 * The classic notebook page loads ipywidgets' extension from /nbextensions/widgets/notebook/js/extension.js
 * whenever jupyter-js-widgets is not installed (a hard-coded fallback in notebook/js/main.js), and logs a
 * 404 on every notebook load. Switchboard's widgets do not use ipywidgets, so an empty extension in the
 * project-local data dir (which Jupyter serves nbextensions from) answers that request.
 */
const WIDGETS_STUB = path.join(paths.jupyterData, 'nbextensions', 'widgets', 'notebook', 'js', 'extension.js');
const WIDGETS_STUB_TEXT = [
  '// Written by Switchboard set-up (scripts/setup.js): the notebook page asks for ipywidgets\' extension here',
  '// on every load; Switchboard does not use ipywidgets, so this one does nothing (and the 404 is gone).',
  'define([], function () { return { load_ipython_extension: function () {} }; });',
  '',
].join('\n');

/** Writes `text` to `file` unless it already holds exactly that; returns 1 when it wrote. */
function writeIfChanged(file, text) {
  try {
    if (fs.readFileSync(file, 'utf8') === text) return 0;
  } catch {
    /* not there yet */
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return 1;
}

/**
 * The TensorFlow.js backend a kernel will get: initBackend() from dist/ in a Node started like a kernel
 * (same node, same environment, so SWITCHBOARD_BACKEND counts). One line; a probe that fails is reported,
 * not fatal (notebooks say the same when they load a model).
 */
function probeBackend() {
  const backendJs = path.join(paths.dist, 'kernel-lib', 'backend', 'backend.js');
  if (!fs.existsSync(backendJs)) return `not known (${path.relative(REPO, backendJs)} is missing)`;
  const code = [
    `require(${JSON.stringify(backendJs)}).initBackend().then(`,
    '  (d) => process.stdout.write("@@SWITCHBOARD@@" + JSON.stringify(d)),',
    '  (e) => { process.stdout.write("@@SWITCHBOARD@@" + JSON.stringify({ error: e.message })); });',
  ].join('\n');
  const r = spawnSync(process.execPath, ['-e', code], { cwd: paths.notebooks, env: jupyterEnv(), encoding: 'utf8', timeout: 60_000 });
  const at = (r.stdout || '').indexOf('@@SWITCHBOARD@@');
  if (at < 0) return `not known (the probe failed: ${(r.stderr || r.error || '').toString().trim().split('\n').pop()})`;
  const d = JSON.parse(r.stdout.slice(at + '@@SWITCHBOARD@@'.length));
  if (d.error) return `none (${d.error})`;
  const what = d.gpu ? 'GPU' : `${d.threads} thread${d.threads === 1 ? '' : 's'}${d.backend === 'wasm' ? (d.simd ? ', SIMD' : ', no SIMD') : ''}`;
  const skipped = d.skipped.length ? `; skipped ${d.skipped.map((x) => `${x.backend} (${/^Cannot find module/.test(x.reason) ? 'not installed' : x.reason.slice(0, 80)})`).join(', ')}` : '';
  const how = process.env.SWITCHBOARD_BACKEND ? ` (SWITCHBOARD_BACKEND=${process.env.SWITCHBOARD_BACKEND})` : '';
  return `${d.backend}${how}, ${what}${skipped}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Modes

async function ensureAll(mode) {
  await step('npm deps', ensureNpmDeps);
  const buildOk = await step('build', ensureBuild);
  await step('Debian packages', () => ensureDebianPackages(mode));
  await step('tslab kernel', ensureKernel);
  return { buildOk };
}

function printTimings(title) {
  const total = timings.reduce((s, t) => s + t.ms, 0);
  log(`${title}: ${timings.map((t) => `${t.name} ${fmtS(t.ms)}`).join(', ')}; total ${fmtS(total)}`);
}

function notebookArgs(extra) {
  const args = ['-m', 'notebook', '--ip=127.0.0.1', '--no-browser', `--notebook-dir=${paths.notebooks}`];
  // Notebook 6 refuses to run as root without this (containers, CI); it only listens on 127.0.0.1.
  if (typeof process.getuid === 'function' && process.getuid() === 0 && !extra.includes('--allow-root')) args.push('--allow-root');
  return [...args, ...extra];
}

async function modeStart(args) {
  const noLaunch = args.includes('--no-launch');
  const extra = args.filter((a) => a !== '--no-launch');
  const { buildOk } = await ensureAll('start');
  if (!buildOk) log('warning: the build had errors; notebooks importing ../dist/kernel-lib may see stale code');
  fs.mkdirSync(paths.notebooks, { recursive: true });
  log(`TensorFlow.js backend for notebook kernels: ${await step('backend', probeBackend)}`);
  const cmd = [PYTHON, ...notebookArgs(extra)];
  if (noLaunch) {
    log(`ready; --no-launch given, not running: ${cmd.join(' ')}`);
    return 0;
  }
  log('starting Jupyter Notebook; open the URL with the login token that it prints below (Ctrl-C to stop it and its kernels)');
  const jupyter = runJupyter(cmd[0], cmd.slice(1), { env: jupyterEnv(), cwd: REPO, log });
  signalOwner = jupyter.stop;
  installSignalForwarding();
  try {
    return await jupyter.exited;
  } catch (e) {
    throw new SetupError(e.message);
  } finally {
    signalOwner = null;
  }
}

async function modeTest(args) {
  const { buildOk } = await ensureAll('test');
  const typecheck = await step('typecheck', () =>
    runChild(process.execPath, [path.join(paths.nodeModules, 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit']),
  );
  log(typecheck === 0 ? 'typecheck: ok' : `typecheck: failed (exit ${typecheck}); running jest anyway`);
  const jest = await step('jest', () =>
    // torch was installed above, so a torch test that cannot import it fails instead of skipping (tests/helpers/torch.ts)
    runChild(process.execPath, [path.join(paths.nodeModules, 'jest', 'bin', 'jest.js'), ...args], { env: { ...testEnv(), [TORCH_REQUIRED_ENV]: '1' } }),
  );
  printTimings('timing');
  const problems = [];
  if (!buildOk) problems.push('build had errors');
  if (typecheck !== 0) problems.push('typecheck failed');
  if (jest !== 0) problems.push(`jest exited ${jest}`);
  log(problems.length ? `FAILED: ${problems.join('; ')}` : 'all passed');
  if (jest !== 0) return jest;
  return problems.length ? 1 : 0;
}

async function modeBench(args) {
  const { buildOk } = await ensureAll('bench');
  if (!buildOk) throw new SetupError('the build had errors; refusing to benchmark stale code');
  return runChild(process.execPath, [CLI, 'bench', ...args], { env: jupyterEnv() });
}

/**
 * `switchboard <args>` after the npm dependencies and the build (npm run data, npm run train:*): what needs
 * neither Jupyter nor PyTorch.
 */
async function modeCli(args) {
  await step('npm deps', ensureNpmDeps);
  const buildOk = await step('build', ensureBuild);
  if (!buildOk) throw new SetupError(`the build had errors; refusing to run switchboard ${args[0] || ''} from a stale dist/`);
  return runChild(process.execPath, [CLI, ...args]);
}

async function modeRun(args) {
  const [file, ...rest] = args;
  if (!file) throw new SetupError('--run needs the compiled file to run, e.g. --run dist/bench/run.js');
  await step('npm deps', ensureNpmDeps);
  const buildOk = await step('build', ensureBuild);
  if (!buildOk) throw new SetupError(`the build had errors; refusing to run ${file} from a stale dist/`);
  const target = path.resolve(REPO, file);
  if (!fs.existsSync(target)) throw new SetupError(`${file} does not exist; it should be produced by the build (check its output above)`);
  return runChild(process.execPath, [target, ...rest]);
}

const USAGE = `usage: node scripts/setup.js [--start [--no-launch] [notebook args] | --test [jest args] | --bench [bench args] | --data [data args] | --cli [switchboard args] | --run FILE [args]]`;

async function main(argv) {
  const [first, ...rest] = argv;
  try {
    if (first === '--help' || first === '-h') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (first === '--start') return await modeStart(rest);
    if (first === '--test') return await modeTest(rest);
    if (first === '--bench') return await modeBench(rest);
    if (first === '--data') return await modeCli(['data', ...rest]);
    if (first === '--cli') return await modeCli(rest);
    if (first === '--run') return await modeRun(rest);
    if (first === undefined) {
      const { buildOk } = await ensureAll('start');
      if (!buildOk) log('warning: the build had errors (see above); npm test reports them too');
      printTimings('set-up done');
      return 0;
    }
    process.stderr.write(`unknown option ${first}\n${USAGE}\n`);
    return 2;
  } catch (e) {
    if (e instanceof SetupError) {
      process.stderr.write(`[setup] error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

module.exports = { ...envLib, kernelSpecPath, kernelSpecs, main };

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`[setup] unexpected error: ${e && e.stack ? e.stack : e}\n`);
      process.exit(1);
    },
  );
}
