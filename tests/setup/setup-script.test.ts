/**
 * scripts/setup.js: the ensure steps register tslab in the project-local Jupyter dirs (nothing under $HOME),
 * and `--start` runs a Jupyter Notebook server that sees that kernel, prints its token URL and stops on SIGINT.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO } from '../helpers/notebook';

const SETUP = path.join(REPO, 'scripts', 'setup.js');
const KERNEL_JSON = path.join(REPO, '.jupyter-local', 'data', 'kernels', 'tslab', 'kernel.json');
const GLOBAL_JUPYTER_DIRS = ['.local/share/jupyter', '.jupyter', '.ipython'];

let fakeHome: string;

beforeAll(() => {
  fakeHome = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-home-'));
});

afterAll(() => {
  fs.rmSync(fakeHome, { recursive: true, force: true });
});

test('--start --no-launch exits 0 and registers tslab under .jupyter-local with an argv of existing files', () => {
  const r = spawnSync(process.execPath, [SETUP, '--start', '--no-launch'], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, HOME: fakeHome },
    timeout: 600_000,
  });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
  expect(r.stdout).toMatch(/\[setup\] npm deps: /);
  expect(r.stdout).toMatch(/\[setup\] build: /);
  expect(r.stdout).toMatch(/\[setup\] Debian packages: ok/);
  expect(r.stdout).toMatch(/\[setup\] tslab kernel: registered/);
  expect(r.stdout).toContain('--no-launch given, not running: /usr/bin/python3 -m notebook --ip=127.0.0.1 --no-browser');

  const spec = JSON.parse(fs.readFileSync(KERNEL_JSON, 'utf8')) as { argv: string[]; language: string };
  expect(spec.language).toBe('typescript');
  expect(spec.argv.slice(-3)).toEqual(['kernel', '--config-path', '{connection_file}']);
  const files = spec.argv.slice(0, -3);
  expect(files.length).toBeGreaterThan(0);
  for (const f of files) {
    expect(path.isAbsolute(f)).toBe(true);
    expect(fs.statSync(f).isFile()).toBe(true);
  }
  for (const d of GLOBAL_JUPYTER_DIRS) expect(fs.existsSync(path.join(fakeHome, d))).toBe(false);
});

test('a second run finds everything in place', () => {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [SETUP], { cwd: REPO, encoding: 'utf8', timeout: 600_000 });
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('[setup] npm deps: up to date');
  expect(r.stdout).toContain('[setup] tslab kernel: registered (.jupyter-local/data/kernels/tslab)');
  // eslint-disable-next-line no-console
  console.log(`setup.js with nothing to do: ${((Date.now() - t0) / 1000).toFixed(1)}s`);
});

test('--start serves notebooks/ with the local tslab kernel, prints the token URL and stops on SIGINT', async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, [SETUP, '--start', `--port=${port}`], {
    cwd: REPO,
    env: { ...process.env, HOME: fakeHome },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group, so the finally below can clean up everything it started
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no token URL within 120s; output:\n${out}`)), 120_000);
      const poll = setInterval(() => {
        const m = /(http:\/\/127\.0\.0\.1:\d+\/(?:tree)?\?token=[0-9a-f]+)/.exec(out);
        if (m) {
          clearInterval(poll);
          clearTimeout(timer);
          resolve(m[1]);
        }
      }, 100);
      void exited.then((code) => {
        clearInterval(poll);
        clearTimeout(timer);
        reject(new Error(`exited ${code} before printing a URL:\n${out}`));
      });
    });
    const u = new URL(url);
    const token = u.searchParams.get('token');
    const res = await fetch(`${u.origin}/api/kernelspecs?token=${token}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { kernelspecs: Record<string, { resource_dir?: string }> };
    expect(Object.keys(body.kernelspecs)).toContain('tslab');
    const contents = await fetch(`${u.origin}/api/contents/?token=${token}`);
    expect(contents.status).toBe(200);
    expect(((await contents.json()) as { path: string }).path).toBe('');

    child.kill('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 20_000)))]);
    clearTimeout(timer);
    expect(code).not.toBe('timeout');
    expect(out).toMatch(/Shutting down|KeyboardInterrupt|shutdown/i);
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const d of GLOBAL_JUPYTER_DIRS) expect(fs.existsSync(path.join(fakeHome, d))).toBe(false);
});
