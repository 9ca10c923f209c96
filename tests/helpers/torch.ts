/**
 * Test helper: the one torch probe and the one torch-test rule.
 *
 * Under `npm test` (scripts/setup.js --test installs python3-torch, then sets SWITCHBOARD_REQUIRE_TORCH=1)
 * every torch test runs, and one that cannot import torch FAILS with how to install it. Outside it (a plain
 * `npx jest …`), torch tests are skipped with a visible warning naming why. No torch test skips silently.
 */
import { spawnSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';
/** Set by scripts/setup.js --test (scripts/lib/env.js TORCH_REQUIRED_ENV). */
export const TORCH_REQUIRED_ENV = 'SWITCHBOARD_REQUIRE_TORCH';
export const TORCH_INSTALL_HINT = 'install it with `sudo apt-get install python3-torch` (npm test does this when run as root)';

let cached: string | null | undefined;
/** null when /usr/bin/python3 imports torch (and numpy, which the reference scripts use), else why not. */
export function torchMissing(): string | null {
  if (cached === undefined) {
    const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8', timeout: 60_000 });
    cached = r.status === 0 ? null : `${PYTHON} cannot import torch (${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)})`;
  }
  return cached;
}

/** What to do with torch tests: run them, fail (torch required but missing) or skip (missing, not required). */
export function torchRule(missing: string | null, required: boolean): 'run' | 'fail' | 'skip' {
  return missing === null ? 'run' : required ? 'fail' : 'skip';
}

/**
 * `describe` for tests that need PyTorch, following the rule above: when torch is required but missing the
 * block becomes one failing test that says how to install it; when it is merely missing, a skipped block
 * and a console warning.
 */
export function describeTorch(name: string, fn: () => void): void {
  const missing = torchMissing();
  const rule = torchRule(missing, process.env[TORCH_REQUIRED_ENV] === '1');
  if (rule === 'run') {
    describe(name, fn);
  } else if (rule === 'fail') {
    describe(name, () => {
      test('needs PyTorch', () => {
        throw new Error(`${missing}; npm test requires it: ${TORCH_INSTALL_HINT}`);
      });
    });
  } else {
    console.warn(`SKIPPED (no PyTorch): ${name}. ${missing}; ${TORCH_INSTALL_HINT}, or run npm test.`);
    describe.skip(name, fn);
  }
}

export function decodeF32(t: { data: string; shape: number[] }): Float32Array {
  const buf = Buffer.from(t.data, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}
