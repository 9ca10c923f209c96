/** scripts/run-notebook.js (npm run notebook): argument errors are named; a notebook runs and its executed copy lands in test-artifacts/. */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const REPO = path.resolve(__dirname, '..', '..');
const run = (...args: string[]) => spawnSync(process.execPath, [path.join(REPO, 'scripts', 'run-notebook.js'), ...args], { cwd: REPO, encoding: 'utf8' });

test('usage errors exit 2 and say what is wrong', () => {
  const none = run();
  expect(none.status).toBe(2);
  expect(none.stderr).toBe('usage: npm run notebook -- NOTEBOOK.ipynb [--quick] [--retrain]\n');
  const flag = run('notebooks/00-tour.ipynb', '--fast');
  expect(flag.status).toBe(2);
  expect(flag.stderr).toBe('usage: npm run notebook -- NOTEBOOK.ipynb [--quick] [--retrain] (unknown option --fast)\n');
  const missing = run('notebooks/nope.ipynb');
  expect(missing.status).toBe(2);
  expect(missing.stderr).toBe(`run-notebook: no notebook at ${path.join(REPO, 'notebooks', 'nope.ipynb')}\n`);
});

test('a quick run of a paper notebook leaves its committed full-mode results alone', () => {
  const committed = path.join(REPO, 'notebooks', 'results', '01-redundancy-aware-moe-plora.json');
  const before = fs.readFileSync(committed, 'utf8');
  const quickOut = path.join(REPO, '.cache', 'results', '01-redundancy-aware-moe-plora.json');
  fs.rmSync(quickOut, { force: true });
  const r = run('notebooks/01-redundancy-aware-moe-plora.ipynb', '--quick');
  expect(r.status).toBe(0);
  expect(fs.readFileSync(committed, 'utf8')).toBe(before);
  expect(JSON.parse(fs.readFileSync(quickOut, 'utf8')).quick).toBe(true);
}, 420_000);

test('runs the tour in quick mode and writes the executed copy', () => {
  const out = path.join(REPO, 'test-artifacts', '00-tour.executed.ipynb');
  fs.rmSync(out, { force: true });
  const r = run('notebooks/00-tour.ipynb', '--quick');
  expect(r.status).toBe(0);
  expect(r.stderr).toContain('executed copy: test-artifacts/00-tour.executed.ipynb');
  const nb = JSON.parse(fs.readFileSync(out, 'utf8')) as { cells: { cell_type: string; outputs?: unknown[] }[] };
  expect(nb.cells.filter((c) => c.cell_type === 'code').every((c) => (c.outputs ?? []).length > 0)).toBe(true);
}, 300_000);
