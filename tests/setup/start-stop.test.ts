/**
 * `npm start` (scripts/setup.js --start) stops Jupyter and every kernel it started on Ctrl-C and on
 * SIGTERM — also when the signal goes to the whole process group, which used to reach Jupyter twice
 * and crash its kernel cleanup ("Event loop stopped before Future completed"), leaving a tslab kernel
 * running; a kernel that outlives Jupyter anyway is ended by set-up. And it starts quietly: no debugpy
 * "frozen modules" warning, no 404 for the ipywidgets extension the notebook page asks for, and one line
 * naming the TensorFlow.js backend kernels get.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { REPO } from '../helpers/notebook';

const SETUP = path.join(REPO, 'scripts', 'setup.js');
const TOKEN = 'switchboard-start-stop-test';

/** [ppid, start time] of a live process, from /proc; null when it is gone or a zombie. */
function proc(pid: number): { ppid: number; start: string; cmdline: string } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z') return null;
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    return { ppid: Number(rest[1]), start: rest[19], cmdline };
  } catch {
    return null;
  }
}

function findProcess(pred: (cmdline: string, ppid: number) => boolean): { pid: number; start: string } | null {
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const p = proc(Number(e));
    if (p && pred(p.cmdline, p.ppid)) return { pid: Number(e), start: p.start };
  }
  return null;
}

const alive = (p: { pid: number; start: string }) => proc(p.pid)?.start === p.start;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, ms: number, fn: () => T | null | Promise<T | null>, out: () => string): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; output:\n${out()}`);
    await sleep(200);
  }
}

interface Started {
  child: ChildProcess;
  base: string;
  out: () => string;
  exited: Promise<number | null>;
  jupyter: { pid: number; start: string };
  kernel: { pid: number; start: string };
}

/** npm start on a free port, with a fixed token; then one tslab kernel opened through Jupyter's REST API. */
async function startWithKernel(): Promise<Started> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, [SETUP, '--start', `--port=${port}`, `--NotebookApp.token=${TOKEN}`], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, like `npm start` in a terminal
  });
  let text = '';
  child.stdout!.on('data', (b: Buffer) => (text += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (text += b.toString()));
  const out = () => text;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // The port Jupyter says it serves on: when the random one is taken, Jupyter moves to the next one
  // ("The port … is already in use, trying another port"), which a fixed URL would wait on forever.
  const served = () => /http:\/\/127\.0\.0\.1:(\d+)\//.exec(text)?.[1];
  let base = `http://127.0.0.1:${port}`;
  await waitFor('Jupyter to answer', 120_000, async () => {
    if (child.exitCode !== null) throw new Error(`set-up exited ${child.exitCode}:\n${text}`);
    const p = served();
    if (p === undefined) return null;
    base = `http://127.0.0.1:${p}`;
    try {
      return (await fetch(`${base}/api/status?token=${TOKEN}`)).ok || null;
    } catch {
      return null;
    }
  }, out);
  const res = await fetch(`${base}/api/kernels?token=${TOKEN}`, { method: 'POST', body: JSON.stringify({ name: 'tslab' }) });
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: string };
  const jupyter = await waitFor('the Jupyter process', 5_000, () => findProcess((c, ppid) => ppid === child.pid && c.includes('-m notebook')), out);
  const kernel = await waitFor('the kernel process', 30_000, () => findProcess((c) => c.includes(`kernel-${id}.json`)), out);
  expect(proc(kernel.pid)?.ppid).toBe(jupyter.pid);
  await sleep(1000); // let the kernel get going
  return { child, base, out, exited, jupyter, kernel };
}

async function expectAllGone(s: Started, signal: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([s.exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 30_000)))]);
  clearTimeout(timer);
  expect({ code, output: code === 'timeout' ? s.out() : '' }).toEqual({ code: 0, output: '' });
  expect(alive(s.jupyter)).toBe(false);
  expect(alive(s.kernel)).toBe(false);
  expect(s.out()).toContain(`[setup] ${signal}: stopping Jupyter and its 1 kernel\n`);
  expect(s.out()).toMatch(/Kernel shutdown: /);
  expect(s.out()).not.toMatch(/Traceback|RuntimeError|Event loop stopped/);
}

async function cleanUp(s: Started | undefined): Promise<void> {
  if (!s) return;
  for (const target of [-s.child.pid!, s.jupyter.pid, s.kernel.pid]) {
    try {
      if (target === -s.child.pid! || alive(target === s.jupyter.pid ? s.jupyter : s.kernel)) process.kill(target, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

test('SIGTERM to the whole process group (a container or service manager stopping it): Jupyter and its kernel are gone, no traceback', async () => {
  let s: Started | undefined;
  try {
    s = await startWithKernel();
    // Quiet start: the kernelspec listing (which imports debugpy) and the notebook page's ipywidgets request.
    expect((await fetch(`${s.base}/api/kernelspecs?token=${TOKEN}`)).status).toBe(200);
    expect((await fetch(`${s.base}/nbextensions/widgets/notebook/js/extension.js?token=${TOKEN}`)).status).toBe(200);
    await sleep(300);
    expect(s.out()).toMatch(/^\[setup\] TensorFlow\.js backend for notebook kernels: (tensorflow-gpu|tensorflow|wasm|cpu)\b.*$/m);
    expect(s.out()).not.toContain('Debugger warning');
    expect(s.out()).not.toMatch(/\b404 GET\b/);
    process.kill(-s.child.pid!, 'SIGTERM');
    await expectAllGone(s, 'SIGTERM');
  } finally {
    await cleanUp(s);
  }
}, 180_000);

test('Ctrl-C in a terminal (SIGINT to the foreground process group): Jupyter and its kernel are gone', async () => {
  let s: Started | undefined;
  try {
    s = await startWithKernel();
    process.kill(-s.child.pid!, 'SIGINT');
    await expectAllGone(s, 'SIGINT');
  } finally {
    await cleanUp(s);
  }
}, 180_000);

test('SIGTERM to set-up alone, twice: one orderly stop, Jupyter and its kernel are gone', async () => {
  let s: Started | undefined;
  try {
    s = await startWithKernel();
    s.child.kill('SIGTERM');
    await sleep(50);
    s.child.kill('SIGTERM'); // e.g. npm forwarding the same signal: must not cut the kernel shutdown short
    await expectAllGone(s, 'SIGTERM');
    expect(s.out()).toContain('[setup] SIGTERM: already stopping Jupyter and its kernels');
  } finally {
    await cleanUp(s);
  }
}, 180_000);

test('when Jupyter dies without cleaning up (SIGKILL), set-up ends the kernel it left running', async () => {
  let s: Started | undefined;
  try {
    s = await startWithKernel();
    process.kill(s.jupyter.pid, 'SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([s.exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 30_000)))]);
    clearTimeout(timer);
    expect(code).toBe(128 + 9);
    expect(alive(s.kernel)).toBe(false);
    expect(s.out()).toContain('[setup] stopped 1 kernel process that Jupyter left running\n');
  } finally {
    await cleanUp(s);
  }
}, 180_000);
