/**
 * The browser code has its own strict tsconfig (DOM, no Node types), so the root type-check does not
 * cover it; this does. The bundle itself is built by esbuild (scripts/build-widgets.js), which does
 * not type-check.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..');

test('widgets/ type-checks under widgets/tsconfig.json (strict, DOM)', () => {
  const r = spawnSync(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'widgets/tsconfig.json'], { cwd: REPO, encoding: 'utf8' });
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
}, 60_000);

test('the bundle builds and defines window.SwitchboardWidget.render', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { buildWidgets, OUT } = require('../../scripts/build-widgets.js') as { buildWidgets(o?: { quiet?: boolean }): string; OUT: string };
  expect(['built', 'up to date']).toContain(buildWidgets({ quiet: true }));
  const win: { SwitchboardWidget?: { render?: unknown; protocolVersion?: number } } = {};
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  new Function('window', 'self', `var globalThis = window; ${require('node:fs').readFileSync(OUT, 'utf8')}; window.SwitchboardWidget = SwitchboardWidget;`)(win, win);
  expect(typeof win.SwitchboardWidget?.render).toBe('function');
  expect(win.SwitchboardWidget?.protocolVersion).toBe(1);
});
