/** Where a sub-command writes: stdout lines, raw stdout text, stderr lines, and its --help. */
import { CommandSpec, helpText } from './args';

export interface Io {
  /** One line on stdout. */
  out(line: string): void;
  /** Text on stdout as it is (tokens while they stream). */
  write(text: string): void;
  /** One line on stderr (status, progress). */
  err(line: string): void;
  /** Prints the command's --help on stdout; returns the exit status (0). */
  help(spec: CommandSpec): number;
}

export const processIo: Io = {
  out: (line) => void process.stdout.write(`${line}\n`),
  write: (text) => void process.stdout.write(text),
  err: (line) => void process.stderr.write(`${line}\n`),
  help(spec) {
    process.stdout.write(`${helpText(spec)}\n`);
    return 0;
  },
};

/** 128 + SIGINT: how a shell reports a process that Ctrl-C ended, so scripts can tell it from a finished run. */
export const EXIT_INTERRUPTED = 130;

/**
 * Runs `body` with Ctrl-C turned into an abort of `signal` (the work stops within one step); `interrupted()`
 * says whether Ctrl-C came. The listener is removed afterwards; a second Ctrl-C during the run gets Node's
 * default (killed at once).
 */
export async function withInterrupt<T>(body: (signal: AbortSignal, interrupted: () => boolean) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  let interrupted = false;
  const onInt = (): void => {
    interrupted = true;
    ac.abort();
  };
  process.once('SIGINT', onInt);
  try {
    return await body(ac.signal, () => interrupted);
  } finally {
    process.removeListener('SIGINT', onInt);
  }
}

/**
 * A progress printer that prints the first and last step and otherwise at most every `everyMs`, with the
 * time left estimated from the mean step time so far.
 */
export function throttledProgress<E extends { step: number; totalSteps: number; elapsedMs: number }>(
  io: Io,
  line: (e: E, etaMinutes: number) => string,
  everyMs = 5000,
): (e: E) => void {
  let last = 0;
  return (e) => {
    const now = Date.now();
    if (now - last < everyMs && e.step !== e.totalSteps && e.step !== 1) return;
    last = now;
    const etaSeconds = ((e.elapsedMs / e.step) * (e.totalSteps - e.step)) / 1000;
    io.err(line(e, Math.round(etaSeconds / 60)));
  };
}
