'use strict';
/**
 * Runs Jupyter Notebook for `npm start`, and stops it together with every kernel it started when
 * set-up gets Ctrl-C, SIGTERM or SIGHUP. Plain Node, no dependencies.
 *
 * Why set-up handles the stop instead of leaving the signals to Jupyter: a signal sent to a process
 * group (Ctrl-C in a terminal, `kill -TERM -<pgid>`, a container or service manager stopping us)
 * reached Jupyter twice — directly, and again forwarded by set-up (or npm). Notebook 6's second
 * signal stops its event loop while it is still shutting kernels down ("RuntimeError: Event loop
 * stopped before Future completed"), and the kernels, which jupyter_client starts in sessions of
 * their own, kept running. So Jupyter runs in its own process group, where no group signal reaches
 * it, and set-up sends it exactly one SIGTERM (Jupyter then shuts every kernel down itself). As a
 * backstop, set-up keeps a list of Jupyter's child processes (the kernels) while it runs and, once
 * Jupyter has exited, ends any that are still alive.
 */
const fs = require('fs');
const os = require('os');
const { spawn } = require('child_process');

const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };
/** Jupyter gives a busy kernel 5 s to answer its shutdown request before killing it; this leaves room for that. */
const STOP_GRACE_MS = 15_000;
/** Leftover kernels get SIGTERM, then SIGKILL after this long. */
const KERNEL_GRACE_MS = 3_000;
const TRACK_EVERY_MS = 1_000;

/** `/proc/<pid>/stat` fields: [ppid, start time]; null when the process is gone (or this is not Linux). */
function procStat(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces or ')'; fields after the last ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z') return null; // a zombie has already exited
    return { ppid: Number(rest[1]), start: rest[19] };
  } catch {
    return null;
  }
}

/** The direct children of `pid`, as pid → start time (the start time tells a reused pid apart). */
function childrenOf(pid) {
  const out = new Map();
  let entries = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const st = procStat(Number(e));
    if (st && st.ppid === pid) out.set(Number(e), st.start);
  }
  return out;
}

/** True while the process that had this start time is still running. */
function stillRunning(pid, start) {
  const st = procStat(pid);
  return st !== null && st.start === start;
}

/** Signals a kernel's process group (jupyter_client makes each kernel a session leader), else the process. */
function signalKernel(pid, sig) {
  try {
    process.kill(-pid, sig);
    return;
  } catch {
    /* not a group leader, or gone */
  }
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Ends the kernels of `known` that outlived Jupyter; returns how many there were. */
async function reapKernels(known) {
  let left = [...known].filter(([pid, start]) => stillRunning(pid, start));
  if (left.length === 0) return 0;
  for (const [pid] of left) signalKernel(pid, 'SIGTERM');
  const until = Date.now() + KERNEL_GRACE_MS;
  while (Date.now() < until && left.some(([pid, start]) => stillRunning(pid, start))) await sleep(100);
  for (const [pid, start] of left) if (stillRunning(pid, start)) signalKernel(pid, 'SIGKILL');
  return left.length;
}

/**
 * Starts Jupyter (`cmd args`, its own process group, no stdin: it never stops to ask on a terminal).
 * Returns { stop(signal), exited }: `stop` begins the orderly stop (once; later calls only say so),
 * `exited` resolves with Jupyter's exit code after its leftover kernels are gone.
 */
function runJupyter(cmd, args, { env, cwd, log }) {
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  const kernels = new Map();
  const track = () => {
    for (const [pid, start] of childrenOf(child.pid)) kernels.set(pid, start);
  };
  const tracker = setInterval(track, TRACK_EVERY_MS);
  let stopping = null;
  let forced = null;

  const exited = new Promise((resolve, reject) => {
    child.on('error', (err) => {
      clearInterval(tracker);
      reject(new Error(`could not start ${cmd}: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      clearInterval(tracker);
      clearTimeout(forced);
      reapKernels(kernels).then((n) => {
        if (n > 0) log(`stopped ${n} kernel process${n === 1 ? '' : 'es'} that Jupyter left running`);
        resolve(code !== null ? code : 128 + (os.constants.signals[signal] || 1));
      }, reject);
    });
  });

  function stop(sig) {
    if (stopping) {
      log(`${sig}: already stopping Jupyter and its kernels…`);
      return;
    }
    stopping = sig;
    track(); // the kernels as they are now, in case one started since the last look
    const n = [...kernels].filter(([pid, start]) => stillRunning(pid, start)).length;
    log(`${sig}: stopping Jupyter and its ${n} kernel${n === 1 ? '' : 's'}`);
    try {
      child.kill('SIGTERM');
    } catch {
      /* already gone */
    }
    forced = setTimeout(() => {
      log(`Jupyter did not stop within ${STOP_GRACE_MS / 1000} s; killing it`);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, STOP_GRACE_MS);
  }

  return { child, stop, exited };
}

module.exports = { runJupyter, childrenOf, SIGNAL_NUMBERS };
