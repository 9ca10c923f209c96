/**
 * Runtime shapes for the JSON a paper writes (its notebook's results, its recipes' metrics.json). One
 * declaration gives both the TypeScript type (`Infer<typeof SHAPE>`) and the check of a parsed file, so
 * the builder that writes a results file, the notebook that reads it and the test that checks the
 * committed copy cannot drift apart:
 *
 *   const POINT = obj({ step: int, nll: num });
 *   type Point = Infer<typeof POINT>;                  // { step: number; nll: number }
 *   const p = checkShape(POINT, JSON.parse(text), 'results.json');   // throws naming the field
 */

/** A checker: returns the value (typed) or throws naming the path of what is wrong. */
export interface Shape<T> {
  readonly name: string;
  check(value: unknown, path: string): T;
}

export type Infer<S> = S extends Shape<infer T> ? T : never;

/** A JSON value that does not fit its shape; the message names the file (or object) and the field. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}…` : s;
};

const fail = (path: string, want: string, got: unknown): never => {
  throw new ShapeError(`${path}: expected ${want}, got ${show(got)}`);
};

function leaf<T>(name: string, ok: (v: unknown) => boolean): Shape<T> {
  return { name, check: (v, p) => (ok(v) ? (v as T) : fail(p, name, v)) };
}

/** A finite number (JSON has no NaN or Infinity: JSON.stringify writes them as null). */
export const num: Shape<number> = leaf('a finite number', (v) => typeof v === 'number' && Number.isFinite(v));
/** A finite number or null (where a measurement can be undefined, e.g. NaN written by JSON.stringify). */
export const numOrNull: Shape<number | null> = leaf('a finite number or null', (v) => v === null || (typeof v === 'number' && Number.isFinite(v)));
export const int: Shape<number> = leaf('an integer', (v) => Number.isInteger(v));
export const str: Shape<string> = leaf('a string', (v) => typeof v === 'string');
export const bool: Shape<boolean> = leaf('true or false', (v) => typeof v === 'boolean');

/** One of the given strings. */
export function oneOf<const T extends readonly string[]>(...values: T): Shape<T[number]> {
  const name = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  return leaf(name, (v) => typeof v === 'string' && values.includes(v));
}

/** An array of items of one shape, optionally of an exact length or at least `min` long. */
export function arr<T>(item: Shape<T>, o: { length?: number; min?: number } = {}): Shape<T[]> {
  const name = `an array${o.length !== undefined ? ` of ${o.length}` : ''} of ${item.name}`;
  return {
    name,
    check(v, p) {
      if (!Array.isArray(v)) return fail(p, name, v);
      if (o.length !== undefined && v.length !== o.length) throw new ShapeError(`${p}: expected ${o.length} items, got ${v.length}`);
      if (o.min !== undefined && v.length < o.min) throw new ShapeError(`${p}: expected at least ${o.min} items, got ${v.length}`);
      return v.map((x, i) => item.check(x, `${p}[${i}]`));
    },
  };
}

/** A fixed-length array with a shape per position. */
export function tuple<const S extends readonly Shape<unknown>[]>(...items: S): Shape<{ -readonly [K in keyof S]: Infer<S[K]> }> {
  const name = `[${items.map((s) => s.name).join(', ')}]`;
  return {
    name,
    check(v, p) {
      if (!Array.isArray(v) || v.length !== items.length) return fail(p, name, v);
      return items.map((s, i) => s.check(v[i], `${p}[${i}]`)) as { -readonly [K in keyof S]: Infer<S[K]> };
    },
  };
}

/** Marks an object field as optional (absent is fine; present must fit). */
export interface Optional<T> extends Shape<T | undefined> {
  readonly optional: true;
}
export function opt<T>(s: Shape<T>): Optional<T> {
  return { name: `${s.name} (optional)`, optional: true, check: (v, p) => (v === undefined ? undefined : s.check(v, p)) };
}

type Fields = Record<string, Shape<unknown>>;
type OptionalKeys<F extends Fields> = { [K in keyof F]: F[K] extends Optional<unknown> ? K : never }[keyof F];
type ObjectOf<F extends Fields> = { [K in Exclude<keyof F, OptionalKeys<F>>]: Infer<F[K]> } & { [K in OptionalKeys<F>]?: Infer<F[K]> };
type Flat<T> = { [K in keyof T]: T[K] };

/**
 * An object with these fields. Extra fields are refused unless `extra: true` (a results file with a
 * field the type does not know was written by other code than the builder).
 */
export function obj<F extends Fields>(fields: F, o: { extra?: boolean } = {}): Shape<Flat<ObjectOf<F>>> {
  const name = `an object with ${Object.keys(fields).join(', ')}`;
  return {
    name,
    check(v, p) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(p, 'an object', v);
      const rec = v as Record<string, unknown>;
      const out: Record<string, unknown> = o.extra ? { ...rec } : {};
      for (const [k, s] of Object.entries(fields)) {
        const x = s.check(rec[k], `${p}.${k}`);
        if (x !== undefined) out[k] = x;
      }
      if (!o.extra) {
        const unknown = Object.keys(rec).filter((k) => !(k in fields));
        if (unknown.length > 0) throw new ShapeError(`${p}: unexpected field '${unknown[0]}' (known: ${Object.keys(fields).join(', ')})`);
      }
      return out as Flat<ObjectOf<F>>;
    },
  };
}

/** An object whose keys are exactly `keys`, each value of one shape. */
export function keyed<const K extends readonly string[], T>(keys: K, value: Shape<T>): Shape<Record<K[number], T>> {
  return obj(Object.fromEntries(keys.map((k) => [k, value]))) as unknown as Shape<Record<K[number], T>>;
}

/** Checks `value` against `shape`; `what` (a file name, say) starts the error message. */
export function checkShape<T>(shape: Shape<T>, value: unknown, what: string): T {
  return shape.check(value, what);
}
