/**
 * The base class of the library's own errors: the ones whose message already says everything a user
 * needs (which file, which field, what to do). A notebook cell that throws one shows that message,
 * not the message followed by a dozen internal stack frames and a dump of the error's fields: tslab
 * (and Node's console, REPL and uncaught-error printer) show an error through `util.inspect`, and
 * this class answers `util.inspect` with `Name: message`.
 *
 * The stack is still there for whoever asks: `error.stack` is the ordinary V8 stack, and with
 * SWITCHBOARD_DEBUG=1 in the environment `util.inspect` prints it too (as Node does for any error).
 *
 * This file imports nothing, so any folder can use it.
 */
import { inspect, InspectOptions } from 'node:util';

/** Set to 1 (or any value but 0 / empty) to see library errors with their stack. */
export const DEBUG_ENV_VAR = 'SWITCHBOARD_DEBUG';

export function debugErrors(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[DEBUG_ENV_VAR];
  return v !== undefined && v !== '' && v !== '0';
}

export class SwitchboardError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    // new.target: subclasses get their own name without having to set it.
    this.name = new.target.name;
  }

  /** `Name: message` (and the cause's line); the full stack under SWITCHBOARD_DEBUG. */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    if (debugErrors()) return this.stack ?? `${this.name}: ${this.message}`;
    let text = `${this.name}: ${this.message}`;
    if (this.cause !== undefined) {
      const cause = this.cause instanceof Error ? `${this.cause.name}: ${this.cause.message}` : inspect(this.cause, { ...options, depth: 1 });
      text += `\n  caused by ${cause}`;
    }
    return text;
  }
}
