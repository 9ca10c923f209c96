#!/usr/bin/env node
'use strict';
/**
 * `npm run notebook -- notebooks/01-redundancy-aware-moe-plora.ipynb [--quick] [--retrain]`: executes a
 * notebook top to bottom on the project's tslab kernel (what "Run All" in Jupyter does), e.g. to refresh
 * the results JSON a paper notebook writes. The executed copy goes to test-artifacts/<name>.executed.ipynb;
 * the notebook itself is left as it is. Without --quick the notebook runs in full mode (full = not quick:
 * every held-out item, shipped checkpoints); --retrain, in either mode, sets SWITCHBOARD_S1_RETRAIN=1 and
 * SWITCHBOARD_MOSS_RETRAIN=1 (notebook 01, notebook 02 then train their models first and analyse those).
 * Set-up (npm ci, build, kernel) must have run: `npm run notebook` does it first.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { REPO, PYTHON, QUICK_ENV_VAR, KERNEL_NAME, jupyterEnv } = require('./lib/env');

function main(argv) {
  const files = argv.filter((a) => !a.startsWith('--'));
  const flags = argv.filter((a) => a.startsWith('--'));
  const unknown = flags.filter((f) => f !== '--quick' && f !== '--retrain');
  if (files.length !== 1 || unknown.length > 0) {
    process.stderr.write(`usage: npm run notebook -- NOTEBOOK.ipynb [--quick] [--retrain]${unknown.length ? ` (unknown option ${unknown[0]})` : ''}\n`);
    return 2;
  }
  const nb = path.resolve(files[0]);
  if (!fs.existsSync(nb) || !nb.endsWith('.ipynb')) {
    process.stderr.write(`run-notebook: no notebook at ${nb}\n`);
    return 2;
  }
  const env = jupyterEnv(process.env);
  if (flags.includes('--quick')) env[QUICK_ENV_VAR] = '1';
  else delete env[QUICK_ENV_VAR];
  if (flags.includes('--retrain')) {
    env.SWITCHBOARD_S1_RETRAIN = '1';
    env.SWITCHBOARD_MOSS_RETRAIN = '1';
  }
  const outDir = path.join(REPO, 'test-artifacts');
  fs.mkdirSync(outDir, { recursive: true });
  const name = `${path.basename(nb, '.ipynb')}.executed.ipynb`;
  process.stderr.write(`running ${path.relative(REPO, nb)} (${flags.includes('--quick') ? 'quick' : 'full'} mode) …\n`);
  const r = spawnSync(
    PYTHON,
    ['-m', 'nbconvert', '--to', 'notebook', '--execute', `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`, '--ExecutePreprocessor.timeout=-1', '--output-dir', outDir, '--output', name, nb],
    { cwd: path.dirname(nb), env, stdio: 'inherit' },
  );
  if (r.status !== 0) {
    process.stderr.write(`run-notebook: nbconvert failed (exit ${r.status}); tslab errors reach nbconvert without their message: open the notebook in Jupyter (npm start) to see the failing cell\n`);
    return 1;
  }
  process.stderr.write(`executed copy: ${path.relative(REPO, path.join(outDir, name))}\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
