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
