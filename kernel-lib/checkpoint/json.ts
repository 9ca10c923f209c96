/** JSON helpers for the checkpoint files: reading with file-naming errors, and refusing values JSON would mangle. */
import * as fs from 'fs';
import { CheckpointError } from './errors';

/** Reads and parses a JSON file; `file not found` / `not valid JSON (...)` errors name the file. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CheckpointError(file, 'file not found');
    throw new CheckpointError(file, `cannot read file (${(err as Error).message})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CheckpointError(file, `not valid JSON (${(err as Error).message})`);
  }
}

/** True for `{...}` written as a literal (not an array, Map, Date, class instance or null). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Throws unless `value` survives JSON.stringify → JSON.parse unchanged: only plain objects, arrays,
 * strings, finite numbers, booleans and null (JSON.stringify would silently turn NaN into null, drop
 * undefined, and flatten a Map to {}). `where` names the value in the message, e.g. `tokenizer_layout`.
 */
export function assertPlainJson(value: unknown, where: string, file: string): void {
  const ancestors = new Set<object>();
  const visit = (v: unknown, at: string): void => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new CheckpointError(file, `${at} is ${v}, which JSON cannot hold`);
      return;
    }
    if (typeof v !== 'object') throw new CheckpointError(file, `${at} is ${v === undefined ? 'undefined' : `a ${typeof v}`}, which JSON cannot hold`);
    if (ancestors.has(v)) throw new CheckpointError(file, `${at} refers back to itself (a cycle)`);
    if (!Array.isArray(v) && !isPlainObject(v)) {
      throw new CheckpointError(file, `${at} is a ${v.constructor?.name ?? 'non-plain object'}, not a plain JSON object`);
    }
    ancestors.add(v);
    if (Array.isArray(v)) v.forEach((x, i) => visit(x, `${at}[${i}]`));
    else for (const [k, x] of Object.entries(v)) visit(x, `${at}.${k}`);
    ancestors.delete(v);
  };
  visit(value, where);
}
