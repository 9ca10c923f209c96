/**
 * The one argument parser of the `switchboard` command and its sub-commands, on `node:util` parseArgs.
 * A bad command line (unknown flag, missing value, a value that is not the number asked for) is a
 * UsageError: one line naming the flag, exit status 2, before any work starts.
 */
import { parseArgs } from 'node:util';
import { checkSeed } from '../decode/seed';

/** A bad command line: printed as one line (no stack) with exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Shown in --help: the value's name (`N`, `DIR`) for string options. */
  arg?: string;
  help: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

export interface CommandSpec {
  /** As typed: `switchboard generate`, `switchboard train vqvae`. */
  usage: string;
  /** What it does, one paragraph (for --help). */
  about: string;
  options: OptionSpecs;
  /** The positional arguments' names, e.g. ['MODEL']; a command that takes none gives []. */
  positionals: string[];
  /**
   * How an unknown flag or a flag missing its value is worded (default `unknown option --x` and
   * `--x needs a value`); a command whose scripts and tests know older wording keeps it here.
   */
  unknownOrIncomplete?: (flag: string) => string;
}

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  /** True when --help (or -h) was given: the caller prints helpText(spec) and exits 0. */
  help: boolean;
}

/** The flag parseArgs complained about, from its error message (`Unknown option '--x'`, `Option '--x <value>' …`). */
function flagOf(message: string): string {
  const m = /'(-{1,2}[^' ]+)/.exec(message);
  return m ? m[1] : '';
}

/** Parses argv against the spec; throws UsageError for every kind of bad command line. */
export function parseCommand(argv: string[], spec: CommandSpec): Parsed {
  if (argv.includes('--help') || argv.includes('-h')) return { values: {}, positionals: [], help: true };
  const options = Object.fromEntries(Object.entries(spec.options).map(([k, o]) => [k, { type: o.type }]));
  // parseArgs reads `--seed -1` as a flag missing its value; a negative number is a value (then judged by its checker)
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : '';
    if (spec.options[name]?.type === 'string' && /^-[\d.]/.test(argv[i + 1] ?? '')) args.push(`${argv[i]}=${argv[++i]}`);
    else args.push(argv[i]);
  }
  let r: ReturnType<typeof parseArgs>;
  try {
    r = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    if (!err.code?.startsWith('ERR_PARSE_ARGS')) throw e;
    const flag = flagOf(err.message);
    if (spec.unknownOrIncomplete) throw new UsageError(spec.unknownOrIncomplete(flag));
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${flag}`);
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      // a boolean given a value (--json=1) reads "Option '--json' does not take an argument"
      throw new UsageError(/does not take an argument/.test(err.message) ? `${flag} takes no value` : `${flag} needs a value`);
    }
    throw new UsageError(err.message);
  }
  const want = spec.positionals.length;
  if (r.positionals.length !== want) {
    const what = want === 0 ? 'no arguments' : `exactly ${want === 1 ? 'one' : want} ${spec.positionals.join(' ')}`;
    throw new UsageError(`${spec.usage.split(' ').slice(1).join(' ')} takes ${what}, got ${r.positionals.length === 0 ? 'none' : r.positionals.map((p) => `'${p}'`).join(' ')}`);
  }
  return { values: r.values as Parsed['values'], positionals: r.positionals, help: false };
}

/** The --help text of a command: usage line, what it does, every option. */
export function helpText(spec: CommandSpec): string {
  const flags = Object.entries(spec.options).map(([k, o]) => [`--${k}${o.type === 'string' ? ` ${o.arg ?? 'VALUE'}` : ''}`, o.help]);
  const width = Math.max('--help'.length, ...flags.map(([f]) => f.length));
  const lines = [`usage: ${spec.usage}${spec.positionals.length ? ` ${spec.positionals.join(' ')}` : ''}${flags.length ? ' [options]' : ''}`, '', spec.about];
  lines.push('', 'options:', ...flags.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`), `  ${'--help'.padEnd(width)}  this text`);
  return lines.join('\n');
}

/** A number option: undefined when absent; a UsageError naming the flag when the text is not one. */
export function numberArg(values: Parsed['values'], name: string, opts: { integer?: boolean; min?: number } = {}): number | undefined {
  const v = values[name];
  if (v === undefined || typeof v === 'boolean') return undefined;
  const n = Number(v);
  const bad = v.trim() === '' || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min);
  if (bad) {
    const what = opts.integer
      ? opts.min === 1
        ? 'a positive integer'
        : opts.min === 0
          ? 'a non-negative integer'
          : 'an integer'
      : opts.min === undefined
        ? 'a number'
        : `a number ≥ ${opts.min}`;
    throw new UsageError(`--${name} must be ${what}, got '${v}'`);
  }
  return n;
}

/** An option that must be one of `choices`: undefined when absent; else a UsageError naming the flag and the choices. */
export function choiceArg<const T extends string>(values: Parsed['values'], name: string, choices: readonly T[]): T | undefined {
  const v = values[name];
  if (v === undefined || typeof v === 'boolean') return undefined;
  if (!(choices as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${v}'`);
  return v as T;
}

/** A number option (already read by numberArg) that must be one of `choices`; the error quotes what was typed. */
export function numberChoice<const T extends number>(values: Parsed['values'], name: string, n: number | undefined, choices: readonly T[]): T | undefined {
  if (n !== undefined && !(choices as readonly number[]).includes(n)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${String(values[name])}'`);
  return n as T | undefined;
}

/** A --seed option: an integer in [0, 2^32) (the library's rule, decode/seed.ts), else a UsageError naming the flag. */
export function seedArg(values: Parsed['values'], name = 'seed'): number | undefined {
  const v = values[name];
  if (v === undefined || typeof v === 'boolean') return undefined;
  try {
    return checkSeed(v.trim() === '' ? NaN : Number(v), `--${name}`, v);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
