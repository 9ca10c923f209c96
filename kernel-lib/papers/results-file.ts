/**
 * A paper notebook's results JSON: the header every one starts with, and writing it without churn (a
 * notebook re-run that measures the same numbers leaves the tracked file untouched, byte for byte, instead
 * of rewriting it with only its date changed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bool, oneOf, str } from './shape';

/** The fields a results file starts with (a paper adds its own after them, e.g. the decoder it used). */
export function resultsHeaderFields<const N extends string>(notebook: N) {
  return {
    notebook: oneOf(notebook),
    /** Quick mode (SWITCHBOARD_QUICK=1): small samples; full mode: every held-out item. */
    quick: bool,
    /** Whether the runs were retrained by the notebook rather than read from shipped/trained runs. */
    retrained: bool,
    /** When it ran; not a result. */
    date: str,
    base: str,
  };
}

/** The header of a results file from what the notebook measured (the date: now unless given). */
export function resultsHeader<N extends string>(notebook: N, m: { quick: boolean; retrained: boolean; base: string; date?: Date }): { notebook: N; quick: boolean; retrained: boolean; date: string; base: string } {
  return { notebook, quick: m.quick, retrained: m.retrained, date: (m.date ?? new Date()).toISOString(), base: m.base };
}

/** Fields that say when, not what: they do not count as a change. */
export const VOLATILE_FIELDS = ['date'] as const;

function withoutVolatile(x: unknown, ignore: readonly string[]): unknown {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return x;
  return Object.fromEntries(Object.entries(x).filter(([k]) => !ignore.includes(k)));
}

/** The JSON text a results file is written as (one space indent, trailing newline). */
export function resultsJson(results: object): string {
  return JSON.stringify(results, null, 1) + '\n';
}

/**
 * Writes `results` to `file` unless the file already holds the same results apart from the top-level
 * `ignore` fields (default: `date`). Returns whether it wrote. A file that does not parse is replaced.
 */
export function writeResultsFile(file: string, results: object, o: { ignore?: readonly string[] } = {}): boolean {
  const ignore = o.ignore ?? VOLATILE_FIELDS;
  if (fs.existsSync(file)) {
    let old: unknown;
    try {
      old = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      old = undefined;
    }
    // Compare through a JSON round trip, so NaN (written as null) and key order count as they are stored.
    const now = JSON.parse(JSON.stringify(results)) as unknown;
    if (old !== undefined && JSON.stringify(withoutVolatile(old, ignore)) === JSON.stringify(withoutVolatile(now, ignore))) return false;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, resultsJson(results));
  return true;
}
