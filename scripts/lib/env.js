'use strict';
/**
 * Paths and environment shared by scripts/setup.js, scripts/lib/build.js, bin/switchboard.js and the test helpers.
 * Plain Node, no dependencies: this runs before `npm install`.
 */
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..');

/** Jupyter, nbclient, nbconvert and the PyTorch reference come from Debian's python, not whatever is first on PATH. */
const PYTHON = '/usr/bin/python3';

/** Everything Jupyter writes (kernelspecs, runtime files, config, notebook signatures) stays in here. */
const JUPYTER_LOCAL = path.join(REPO, '.jupyter-local');

/** The one place that names the quick-mode switch for notebooks (smaller models, fewer steps). */
const QUICK_ENV_VAR = 'SWITCHBOARD_QUICK';

const KERNEL_NAME = 'tslab';

/**
 * Set by `npm test` (which installs python3-torch first): a torch test that cannot import torch fails
 * instead of skipping (tests/helpers/torch.ts).
 */
const TORCH_REQUIRED_ENV = 'SWITCHBOARD_REQUIRE_TORCH';

const paths = {
  repo: REPO,
  nodeModules: path.join(REPO, 'node_modules'),
  installStamp: path.join(REPO, 'node_modules', '.switchboard-install-stamp'),
  dist: path.join(REPO, 'dist'),
  buildStamp: path.join(REPO, 'dist', '.build-stamp'),
  notebooks: path.join(REPO, 'notebooks'),
  jupyterLocal: JUPYTER_LOCAL,
  jupyterData: path.join(JUPYTER_LOCAL, 'data'),
  jupyterConfig: path.join(JUPYTER_LOCAL, 'config'),
  jupyterRuntime: path.join(JUPYTER_LOCAL, 'runtime'),
  ipython: path.join(JUPYTER_LOCAL, 'ipython'),
  /** The kernel's entry script (what node_modules/.bin/tslab links to). */
  tslabBin: path.join(REPO, 'node_modules', 'tslab', 'bin', 'tslab'),
  kernelSpecDir: path.join(JUPYTER_LOCAL, 'data', 'kernels', KERNEL_NAME),
};

/** Environment variables that point Jupyter at the project-local directories. */
function jupyterVars() {
  return {
    JUPYTER_DATA_DIR: paths.jupyterData,
    JUPYTER_CONFIG_DIR: paths.jupyterConfig,
    JUPYTER_RUNTIME_DIR: paths.jupyterRuntime,
    IPYTHONDIR: paths.ipython,
  };
}

/**
 * The environment to run Jupyter (server, nbclient, nbconvert) with: `base` plus the project-local Jupyter
 * directories, and PATH led by this node's directory and node_modules/.bin so kernels find the same node.
 */
function jupyterEnv(base = process.env) {
  const env = { ...base, ...jupyterVars() };
  // Notebook 6 imports ipykernel (and with it debugpy) to list kernelspecs; debugpy then prints a
  // four-line "Debugger warning: … frozen modules" under Python 3.11. Nobody debugs Jupyter's own
  // Python here, so the check is turned off (it logs at debug level instead).
  env.PYDEVD_DISABLE_FILE_VALIDATION = '1';
  const pathParts = [path.dirname(process.execPath), path.join(REPO, 'node_modules', '.bin')];
  env.PATH = [...pathParts, base.PATH || ''].filter(Boolean).join(path.delimiter);
  return env;
}

/** jupyterEnv plus quick mode: what tests (and notebooks executed by tests) run with. */
function testEnv(base = process.env) {
  return { ...jupyterEnv(base), [QUICK_ENV_VAR]: '1' };
}

module.exports = { REPO, PYTHON, QUICK_ENV_VAR, KERNEL_NAME, TORCH_REQUIRED_ENV, paths, jupyterVars, jupyterEnv, testEnv };
