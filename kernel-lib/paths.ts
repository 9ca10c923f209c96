/**
 * Where things live in this checkout: the repository root, the shipped checkpoints and the gitignored
 * cache. The one place that finds the root, so the sources (kernel-lib/…, run by ts-jest), the build
 * (dist/kernel-lib/…) and notebooks all agree. Imports nothing from the library: any folder may use it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

/** The checkout's root: the nearest folder above this file whose package.json is Switchboard's. */
export function repoRoot(): string {
  if (root !== undefined) return root;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'switchboard') return (root = dir);
    } catch {
      /* no package.json here */
    }
    if (path.dirname(dir) === dir) throw new Error(`could not find Switchboard's package.json above ${__dirname}`);
  }
}

/** data/checkpoints, or one shipped checkpoint in it (`checkpointDir('vqvae-emoji')`). */
export function checkpointDir(name?: string): string {
  const dir = path.join(repoRoot(), 'data', 'checkpoints');
  return name === undefined ? dir : path.join(dir, name);
}

/** .cache (gitignored), or a path inside it (`cachePath('runs', 'clip-emoji')`). */
export function cachePath(...parts: string[]): string {
  return path.join(repoRoot(), '.cache', ...parts);
}

/** A training run's resumable state: .cache/runs/<name>. */
export function runDir(name: string): string {
  return cachePath('runs', name);
}
