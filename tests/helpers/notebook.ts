/**
 * Executes Jupyter notebooks on the tslab kernel from tests, with the project-local Jupyter directories that
 * scripts/setup.js registered the kernel in, and SWITCHBOARD_QUICK=1.
 *
 * Execution goes through nbclient (Debian's /usr/bin/python3) one cell at a time, stopping at the first failing
 * cell. tslab never sends Jupyter `error` messages: a failing cell only sets status "error" on the execute
 * reply, and the compile diagnostics or the exception go to the cell's stderr stream. So a failure here is
 * reported with the cell's number and source plus its stderr, any `error` outputs and the end of its stdout.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

interface EnvLib {
  REPO: string;
  PYTHON: string;
  QUICK_ENV_VAR: string;
  KERNEL_NAME: string;
  paths: { kernelSpecDir: string };
  testEnv(base?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
}
// Plain JS shared with scripts/setup.js (it must run before npm install, so it cannot be TypeScript).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const envLib = require('../../scripts/lib/env.js') as EnvLib;

export const REPO = envLib.REPO;
export const QUICK_ENV_VAR = envLib.QUICK_ENV_VAR;

/** One output of a code cell, as nbformat 4 stores it. */
export interface NbOutput {
  output_type: 'stream' | 'execute_result' | 'display_data' | 'error' | string;
  name?: 'stdout' | 'stderr';
  text?: string | string[];
  data?: Record<string, string | string[] | unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  [k: string]: unknown;
}

export interface NbCell {
  cell_type: 'code' | 'markdown' | 'raw';
  source: string | string[];
  metadata: Record<string, unknown>;
  outputs?: NbOutput[];
  execution_count?: number | null;
  [k: string]: unknown;
}

export interface NbDocument {
  cells: NbCell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** A cell after execution, with its outputs gathered into plain text. */
export interface CellResult {
  index: number;
  cellType: NbCell['cell_type'];
  source: string;
  /** Whether the kernel ran it (false for markdown cells and cells after a failure). */
  executed: boolean;
  outputs: NbOutput[];
  stdout: string;
  stderr: string;
  /** text/plain of execute_result and display_data outputs, joined. */
  text: string;
  errors: { ename: string; evalue: string; traceback: string }[];
}

export interface NotebookTiming {
  /** Kernel process start until it answered kernel_info (tslab loads its TypeScript compiler here). */
  kernelStartS: number | null;
  /** Per cell wall time, in cell order, for the cells that ran. */
  cellS: number[];
  /** The whole nbclient run, kernel start and shutdown included. */
  totalS: number | null;
  /** Wall time of the python process as seen from here. */
  wallS: number;
}

export interface NotebookResult {
  /** The executed notebook (nbformat 4 JSON). */
  notebook: NbDocument;
  cells: CellResult[];
  /** The exported HTML when `html` was asked for. */
  html?: string;
  timing: NotebookTiming;
  /** Where the executed notebook was written, when `outputPath` was given (otherwise it is not kept on disk). */
  outputPath?: string;
}

/** Every cell's stdout, in cell order, joined by newlines. */
export function stdoutOf(res: NotebookResult): string {
  return res.cells.map((c) => c.stdout).join('\n');
}

/** Each output's text/html as one string ('' for an output without HTML), cell by cell. */
export function htmlOutputsOf(res: NotebookResult): string[] {
  return res.cells.flatMap((c) => c.outputs.map((o) => {
    const v = o.data?.['text/html'];
    return Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : '';
  }));
}

export interface ExecuteOptions {
  /** Limit for the whole notebook (kernel start included); a cell still running then fails as a timeout. Default 300. */
  timeoutS?: number;
  /** Extra environment for the kernel (on top of process.env, the local Jupyter dirs and SWITCHBOARD_QUICK=1). */
  env?: Record<string, string | undefined>;
  /** Also export HTML (nbconvert's HTMLExporter); a string is a path to write it to as well. */
  html?: boolean | string;
  /** Also write the executed .ipynb here (by default it is only returned). */
  outputPath?: string;
  /** Kernel working directory; default the notebook's directory (as Jupyter does). */
  cwd?: string;
  /** Kernel name; default tslab. */
  kernelName?: string;
  /** Seconds to wait for the kernel to answer at start-up. Default 120. */
  startupTimeoutS?: number;
}

/** Thrown when a cell fails, times out, the kernel dies or cannot start. */
export class NotebookExecutionError extends Error {
  constructor(
    message: string,
    readonly kind: 'error' | 'timeout' | 'dead-kernel' | 'kernel' | 'interrupted' | 'runner',
    readonly cellIndex: number | null,
    readonly cellSource: string | null,
    readonly result: NotebookResult | null,
  ) {
    super(message);
    this.name = 'NotebookExecutionError';
  }
}

const PY_RUNNER = String.raw`
import json, signal, sys, time, traceback

def _terminate(signum, frame):
    raise KeyboardInterrupt()
signal.signal(signal.SIGTERM, _terminate)

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

args = json.loads(sys.argv[1])
nb = nbformat.read(args['input'], as_version=4)
res = {'failedCell': None, 'kind': None, 'message': None, 'kernelStartS': None, 'cellS': [], 'totalS': None}
t0 = time.time()
deadline = t0 + args['timeoutS']
client = NotebookClient(nb, kernel_name=args['kernelName'], timeout=args['timeoutS'],
                        startup_timeout=args['startupTimeoutS'], record_timing=True,
                        resources={'metadata': {'path': args['cwd']}})
try:
    with client.setup_kernel():
        res['kernelStartS'] = time.time() - t0
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != 'code':
                continue
            client.timeout = max(1, int(deadline - time.time()))
            c0 = time.time()
            try:
                client.execute_cell(cell, i)
            except CellTimeoutError as e:
                res.update(failedCell=i, kind='timeout', message=str(e))
                break
            except CellExecutionError as e:
                res.update(failedCell=i, kind='error', message=str(e))
                break
            except DeadKernelError as e:
                res.update(failedCell=i, kind='dead-kernel', message=str(e))
                break
            finally:
                res['cellS'].append(time.time() - c0)
except KeyboardInterrupt:
    res.update(kind='interrupted', message='the notebook runner was terminated')
except Exception:
    res.update(kind='kernel', message=traceback.format_exc())
res['totalS'] = time.time() - t0
nbformat.write(nb, args['output'])
if args.get('html'):
    try:
        from nbconvert import HTMLExporter
        body, _ = HTMLExporter().from_notebook_node(nb)
        with open(args['html'], 'w', encoding='utf-8') as f:
            f.write(body)
    except Exception:
        res['htmlError'] = traceback.format_exc()
with open(args['result'], 'w') as f:
    json.dump(res, f)
`;

interface RunnerResult {
  failedCell: number | null;
  kind: NotebookExecutionError['kind'] | null;
  message: string | null;
  kernelStartS: number | null;
  cellS: number[];
  totalS: number | null;
  htmlError?: string;
}

function joinText(t: string | string[] | unknown): string {
  if (Array.isArray(t)) return t.join('');
  return typeof t === 'string' ? t : '';
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

function summarizeCell(cell: NbCell, index: number, executed: boolean): CellResult {
  const outputs = cell.outputs ?? [];
  const by = (name: string) =>
    outputs
      .filter((o) => o.output_type === 'stream' && o.name === name)
      .map((o) => joinText(o.text))
      .join('');
  return {
    index,
    cellType: cell.cell_type,
    source: joinText(cell.source),
    executed,
    outputs,
    stdout: by('stdout'),
    stderr: by('stderr'),
    text: outputs
      .filter((o) => o.output_type === 'execute_result' || o.output_type === 'display_data')
      .map((o) => joinText(o.data?.['text/plain']))
      .join('\n'),
    errors: outputs
      .filter((o) => o.output_type === 'error')
      .map((o) => ({
        ename: o.ename ?? '',
        evalue: o.evalue ?? '',
        traceback: stripAnsi((o.traceback ?? []).join('\n')),
      })),
  };
}

function tail(s: string, max: number): string {
  return s.length <= max ? s : `…${s.slice(s.length - max)}`;
}

function indent(s: string): string {
  return s
    .replace(/\s+$/, '')
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

/** The report for a failed cell: its source and every piece of text the kernel left. */
export function describeCellFailure(notebookPath: string, cell: CellResult, kind: string, runnerMessage: string | null): string {
  const parts = [`Notebook ${notebookPath}: cell ${cell.index + 1} failed (${kind}).`, `  source:\n${indent(cell.source)}`];
  for (const e of cell.errors) {
    const head = [e.ename, e.evalue].filter(Boolean).join(': ');
    if (head || e.traceback) parts.push(`  error output:\n${indent([head, e.traceback].filter(Boolean).join('\n'))}`);
  }
  if (cell.stderr.trim()) parts.push(`  stderr:\n${indent(stripAnsi(tail(cell.stderr, 4000)))}`);
  if (cell.stdout.trim()) parts.push(`  stdout (end):\n${indent(stripAnsi(tail(cell.stdout, 1500)))}`);
  const hasKernelText = cell.errors.some((e) => e.ename || e.evalue || e.traceback) || cell.stderr.trim() !== '';
  if (!hasKernelText) {
    if (kind === 'timeout' || kind === 'dead-kernel') {
      parts.push(`  ${stripAnsi(runnerMessage ?? '').trim().split('\n').slice(-3).join(' ')}`);
    } else {
      parts.push('  (the kernel reported an error but left no message: tslab prints compile errors and exceptions to stderr, which was empty)');
    }
  }
  return parts.join('\n');
}

function ensureKernelRegistered(kernelName: string): void {
  if (kernelName !== envLib.KERNEL_NAME) return;
  const spec = path.join(envLib.paths.kernelSpecDir, 'kernel.json');
  if (!fs.existsSync(spec)) {
    throw new NotebookExecutionError(
      `The ${kernelName} kernel is not registered in ${path.dirname(spec)}; run \`node scripts/setup.js\` (npm test does it).`,
      'runner',
      null,
      null,
      null,
    );
  }
}

/**
 * Executes a notebook on tslab and returns the executed notebook. Throws NotebookExecutionError naming the
 * failing cell, with its source and output text, when a cell fails (cells tagged `raises-exception` may fail).
 */
export async function executeNotebook(notebookPath: string, opts: ExecuteOptions = {}): Promise<NotebookResult> {
  const input = path.resolve(notebookPath);
  const kernelName = opts.kernelName ?? envLib.KERNEL_NAME;
  ensureKernelRegistered(kernelName);
  const timeoutS = opts.timeoutS ?? 300;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-nbexec-'));
  try {
    return await runNotebook(notebookPath, input, kernelName, timeoutS, work, opts);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function runNotebook(
  notebookPath: string,
  input: string,
  kernelName: string,
  timeoutS: number,
  work: string,
  opts: ExecuteOptions,
): Promise<NotebookResult> {
  const outputPath = opts.outputPath ? path.resolve(opts.outputPath) : path.join(work, path.basename(input));
  const htmlPath = typeof opts.html === 'string' ? path.resolve(opts.html) : path.join(work, 'notebook.html');
  const resultPath = path.join(work, 'result.json');
  fs.mkdirSync(path.dirname(outputPath), { recursive: true });
  if (opts.html) fs.mkdirSync(path.dirname(htmlPath), { recursive: true });
  const args = {
    input,
    output: outputPath,
    result: resultPath,
    html: opts.html ? htmlPath : null,
    cwd: opts.cwd ?? path.dirname(input),
    kernelName,
    timeoutS,
    startupTimeoutS: opts.startupTimeoutS ?? 120,
  };
  const env: NodeJS.ProcessEnv = { ...envLib.testEnv(process.env) };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }

  const started = Date.now();
  let runnerLog = '';
  const code = await new Promise<number | string>((resolve, reject) => {
    const child = spawn(envLib.PYTHON, ['-c', PY_RUNNER, JSON.stringify(args)], { cwd: envLib.REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (b: Buffer) => {
      runnerLog = tail(runnerLog + b.toString('utf8'), 20000);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    // Backstop beyond nbclient's own deadline: SIGTERM lets the runner shut the kernel down, SIGKILL if it hangs.
    const term = setTimeout(() => child.kill('SIGTERM'), (timeoutS + 30) * 1000);
    const kill = setTimeout(() => child.kill('SIGKILL'), (timeoutS + 60) * 1000);
    child.on('error', (e) => {
      clearTimeout(term);
      clearTimeout(kill);
      reject(e);
    });
    child.on('close', (c, sig) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve(c ?? sig ?? 'unknown');
    });
  });
  const wallS = (Date.now() - started) / 1000;

  if (!fs.existsSync(resultPath) || !fs.existsSync(outputPath)) {
    throw new NotebookExecutionError(
      `Notebook ${notebookPath}: the nbclient runner (${envLib.PYTHON}) exited with ${code} before writing results:\n${indent(runnerLog.trim())}`,
      'runner',
      null,
      null,
      null,
    );
  }
  const runner = JSON.parse(fs.readFileSync(resultPath, 'utf8')) as RunnerResult;
  const notebook = JSON.parse(fs.readFileSync(outputPath, 'utf8')) as NbDocument;
  const lastRun = runner.failedCell ?? (runner.kind ? -1 : notebook.cells.length - 1);
  const cells = notebook.cells.map((c, i) => summarizeCell(c, i, c.cell_type === 'code' && i <= lastRun));
  const result: NotebookResult = {
    notebook,
    cells,
    timing: { kernelStartS: runner.kernelStartS, cellS: runner.cellS, totalS: runner.totalS, wallS },
  };
  if (opts.outputPath) result.outputPath = outputPath;
  if (opts.html) {
    if (runner.htmlError || !fs.existsSync(htmlPath)) {
      throw new NotebookExecutionError(`Notebook ${notebookPath}: HTML export failed:\n${indent(runner.htmlError ?? runnerLog)}`, 'runner', null, null, result);
    }
    result.html = fs.readFileSync(htmlPath, 'utf8');
  }

  if (runner.kind && runner.failedCell !== null) {
    const cell = cells[runner.failedCell];
    throw new NotebookExecutionError(describeCellFailure(notebookPath, cell, runner.kind, runner.message), runner.kind, cell.index, cell.source, result);
  }
  if (runner.kind) {
    throw new NotebookExecutionError(
      `Notebook ${notebookPath}: ${runner.kind === 'kernel' ? `the ${kernelName} kernel did not start or was lost` : runner.kind}:\n${indent(
        stripAnsi(runner.message ?? ''),
      )}${runnerLog.trim() ? `\n  runner output:\n${indent(tail(runnerLog, 4000))}` : ''}`,
      runner.kind,
      null,
      null,
      result,
    );
  }
  // Belt and braces: an `error` output in a cell not tagged raises-exception fails the run even if the reply said ok.
  for (const cell of cells) {
    const tags = (notebook.cells[cell.index].metadata?.tags as string[] | undefined) ?? [];
    if (cell.errors.length > 0 && !tags.includes('raises-exception')) {
      throw new NotebookExecutionError(describeCellFailure(notebookPath, cell, 'error output', null), 'error', cell.index, cell.source, result);
    }
  }
  return result;
}

/** A cell for writeNotebook: a string is a code cell. */
export type CellSpec = string | { markdown: string } | { code: string; tags?: string[] };

/** Writes an nbformat 4 notebook for the tslab kernel (handy for tests that build notebooks on the fly). */
export function writeNotebook(file: string, cells: CellSpec[]): NbDocument {
  const nb: NbDocument = {
    cells: cells.map((c): NbCell => {
      if (typeof c === 'string') return { cell_type: 'code', source: c, metadata: {}, outputs: [], execution_count: null };
      if ('markdown' in c) return { cell_type: 'markdown', source: c.markdown, metadata: {} };
      return { cell_type: 'code', source: c.code, metadata: c.tags ? { tags: c.tags } : {}, outputs: [], execution_count: null };
    }),
    metadata: {
      kernelspec: { name: 'tslab', display_name: 'TypeScript (tslab)', language: 'typescript' },
      language_info: { name: 'typescript', file_extension: '.ts', mimetype: 'text/typescript' },
    },
    nbformat: 4,
    nbformat_minor: 4,
  };
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(nb, null, 1)}\n`);
  return nb;
}
