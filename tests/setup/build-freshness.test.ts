/**
 * Build freshness (scripts/lib/build.js, scripts/build-widgets.js): dist/ counts as stale when any source is
 * newer than the build stamp; the widget bundle when any file esbuild bundled (its metafile) is newer than
 * it, including kernel-lib/display/colors.ts, which the old directory list missed. Sources are marked newer
 * by their mtime only, and put back, so nothing is rebuilt by tsc here.
 * Also the torch-test rule of tests/helpers/torch.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { torchRule } from '../helpers/torch';

const REPO = path.resolve(__dirname, '../..');
const build = require('../../scripts/lib/build.js') as {
  ensureBuilt(o?: { log?: (l: string) => void }): Promise<{ ok: boolean; tsc: string; widgets: string }>;
  buildState(): { stale: boolean; why: string };
};
const widgets = require('../../scripts/build-widgets.js') as { buildWidgets(o?: { quiet?: boolean }): string; OUT: string; INPUTS: string };

/** Runs `fn` with `file`'s mtime set `aheadMs` past `than`'s, then restores it. */
async function withNewer<T>(file: string, than: string, fn: () => T | Promise<T>): Promise<T> {
  const st = fs.statSync(file);
  const t = new Date(fs.statSync(than).mtimeMs + 10_000);
  fs.utimesSync(file, t, t);
  try {
    return await fn();
  } finally {
    fs.utimesSync(file, st.atime, st.mtime);
  }
}

test('dist/: current after ensureBuilt; a source newer than the stamp makes it stale, naming how many changed', async () => {
  const lines: string[] = [];
  const r = await build.ensureBuilt({ log: (l) => lines.push(l) });
  expect(r.ok).toBe(true);
  expect(build.buildState().stale).toBe(false);
  const stamp = path.join(REPO, 'dist', '.build-stamp');
  const state = await withNewer(path.join(REPO, 'kernel-lib', 'cli', 'args.ts'), stamp, () => build.buildState());
  expect(state).toMatchObject({ stale: true, why: '1 file(s) changed' });
  expect(build.buildState().stale).toBe(false);
});

test('the widget bundle: its inputs come from esbuild’s metafile, and colors.ts going newer rebuilds it', async () => {
  widgets.buildWidgets({ quiet: true });
  const inputs = JSON.parse(fs.readFileSync(widgets.INPUTS, 'utf8')).inputs as string[];
  expect(inputs).toEqual(expect.arrayContaining(['widgets/src/index.ts', 'kernel-lib/server/protocol.ts', 'kernel-lib/display/colors.ts']));
  expect(inputs.every((f) => fs.existsSync(path.join(REPO, f)))).toBe(true);
  expect(widgets.buildWidgets({ quiet: true })).toBe('up to date');
  const colors = path.join(REPO, 'kernel-lib', 'display', 'colors.ts');
  expect(await withNewer(colors, widgets.OUT, () => widgets.buildWidgets({ quiet: true }))).toBe('built');
  expect(widgets.buildWidgets({ quiet: true })).toBe('up to date');
});

test('torch tests: run when torch imports; when it does not, fail under npm test and skip (with a warning) elsewhere', () => {
  expect(torchRule(null, true)).toBe('run');
  expect(torchRule(null, false)).toBe('run');
  expect(torchRule('no torch', true)).toBe('fail');
  expect(torchRule('no torch', false)).toBe('skip');
});
