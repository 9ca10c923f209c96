/**
 * npm 11 reviews dependency install scripts: each package with one must be approved or denied in
 * package.json's allowScripts, or every `npm ci` (which `npm start` runs on a fresh clone) warns about
 * it. This project's lockfile leaves out registry URLs, so npm cannot verify a version pin
 * (`pkg@1.2.3` never matches): entries must be bare names.
 */
import * as fs from 'fs';
import * as path from 'path';
import { REPO } from '../helpers/notebook';

const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { hasInstallScript?: boolean; resolved?: string }>;
};

test('every dependency with an install script is approved or denied by name in allowScripts', () => {
  const withScripts = Object.entries(lock.packages)
    .filter(([, p]) => p.hasInstallScript)
    .map(([key]) => key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length))
    .sort();
  expect(withScripts.length).toBeGreaterThan(0);
  const allow = pkg.allowScripts ?? {};
  expect(Object.keys(allow).sort()).toEqual([...new Set(withScripts)]);
  for (const v of Object.values(allow)) expect(typeof v).toBe('boolean');
  // What needs its script: the native zeromq binding (tslab's kernel protocol), esbuild's binary, the native
  // TensorFlow backends' libtensorflow download. core-js's postinstall only prints a banner.
  expect(allow).toEqual({ '@tensorflow/tfjs-node': true, '@tensorflow/tfjs-node-gpu': true, 'core-js': false, esbuild: true, zeromq: true });
  // Bare names, because the lockfile carries no registry URLs to verify a pinned version against.
  expect(Object.values(lock.packages).some((p) => p.resolved)).toBe(false);
});
