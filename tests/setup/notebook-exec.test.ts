/**
 * The tslab path end to end: a notebook executed on the project-local tslab kernel imports a local module
 * compiled the way dist/ is (tsc 5.7, .js + .d.ts, imported by relative path the way notebooks/ imports
 * ../dist/kernel-lib), imports @tensorflow/tfjs from node_modules, prints; and failures name their cell.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { executeNotebook, NotebookExecutionError, REPO, writeNotebook } from '../helpers/notebook';

let root: string;

beforeAll(() => {
  // Same shape as the repo: <root>/node_modules, <root>/dist-like/, <root>/notebooks/*.ipynb.
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-nbtest-'));
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  const src = path.join(root, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(
    path.join(src, 'greet.ts'),
    [
      'export interface Greeting { readonly text: string; readonly length: number }',
      'export function greet(name: string): Greeting {',
      '  const text = `hello, ${name}`;',
      '  return { text, length: text.length };',
      '}',
      'export class Counter { #n = 0; next(): number { return ++this.#n; } }',
      '',
    ].join('\n'),
  );
  const tsc = spawnSync(
    process.execPath,
    [
      path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'),
      '--declaration', '--strict', '--target', 'ES2022', '--module', 'commonjs', '--types', 'node', '--skipLibCheck',
      '--rootDir', src, '--outDir', path.join(root, 'lib'),
      path.join(src, 'greet.ts'),
    ],
    { encoding: 'utf8' },
  );
  expect(tsc.stdout + tsc.stderr).toBe('');
  expect(tsc.status).toBe(0);
});

afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

test('a 3-cell notebook imports a compiled local module by relative path and @tensorflow/tfjs, and prints', async () => {
  const nb = path.join(root, 'notebooks', 'probe.ipynb');
  writeNotebook(nb, [
    { markdown: '# probe' },
    [
      'import { greet, Counter } from "../lib/greet";',
      'import * as tf from "@tensorflow/tfjs";',
      'const g = greet("switchboard");',
      'const c = new Counter();',
    ].join('\n'),
    [
      'console.log(`greeting=${g.text} len=${g.length} next=${c.next()},${c.next()}`);',
      'console.log(`sum=${Array.from(tf.add(1, 2).dataSync())}`);',
      'console.log(`quick=${process.env.SWITCHBOARD_QUICK} cwd=${process.cwd()}`);',
    ].join('\n'),
    'g.length * 2',
  ]);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-home-'));
  const executed = path.join(root, 'out', 'probe.executed.ipynb');
  const res = await executeNotebook(nb, { timeoutS: 180, html: true, env: { HOME: home }, outputPath: executed });
  // Jupyter wrote nothing under $HOME: kernelspec, connection files and config live in .jupyter-local/.
  expect(fs.readdirSync(home)).toEqual([]);
  fs.rmSync(home, { recursive: true, force: true });
  const [md, imports, prints, last] = res.cells;
  expect(md.executed).toBe(false);
  expect(imports.executed).toBe(true);
  expect(prints.stdout).toContain('greeting=hello, switchboard len=18 next=1,2');
  expect(prints.stdout).toContain('sum=3');
  expect(prints.stdout).toContain(`quick=1 cwd=${fs.realpathSync(path.dirname(nb))}`);
  // tslab prints the value of a cell's last expression to stdout (not as an execute_result).
  expect(last.stdout + last.text).toContain('36');
  expect(res.html).toContain('greeting=hello, switchboard');
  expect(res.outputPath).toBe(executed);
  expect(JSON.parse(fs.readFileSync(executed, 'utf8')).cells[2].outputs.length).toBeGreaterThan(0);
  // eslint-disable-next-line no-console
  console.log(
    `tslab timing: kernel start ${res.timing.kernelStartS?.toFixed(2)}s, cells ${res.timing.cellS.map((s) => s.toFixed(2)).join('/')}s, ` +
      `nbclient total ${res.timing.totalS?.toFixed(2)}s, wall ${res.timing.wallS.toFixed(2)}s`,
  );
});

test('a throwing cell is reported with its source and the message from stderr; later cells do not run', async () => {
  const nb = path.join(root, 'notebooks', 'throws.ipynb');
  writeNotebook(nb, [
    'console.log("first cell ran");',
    'const marker = 41;\nthrow new Error(`boom from cell two: ${marker + 1}`);',
    'console.log("must not run");',
  ]);
  const err = await executeNotebook(nb, { timeoutS: 180 }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NotebookExecutionError);
  const e = err as NotebookExecutionError;
  expect(e.kind).toBe('error');
  expect(e.cellIndex).toBe(1);
  expect(e.message).toContain('cell 2 failed');
  expect(e.message).toContain('throw new Error(`boom from cell two: ${marker + 1}`);');
  expect(e.message).toContain('boom from cell two: 42');
  expect(e.result?.cells[0].stdout).toContain('first cell ran');
  expect(e.result?.cells[2].executed).toBe(false);
  expect(e.result?.cells[2].stdout).toBe('');
});

test('a TypeScript compile error is reported with the diagnostic', async () => {
  const nb = path.join(root, 'notebooks', 'typeerror.ipynb');
  writeNotebook(nb, ['const n: number = "not a number";']);
  const err = await executeNotebook(nb, { timeoutS: 180 }).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NotebookExecutionError);
  const msg = (err as Error).message;
  expect(msg).toContain('cell 1 failed');
  expect(msg).toContain('const n: number = "not a number";');
  expect(msg).toMatch(/Type 'string' is not assignable to type 'number'/);
});
