/**
 * Tables: records (`[{a: 1, b: 'x'}, …]`), rows (`[[1, 'x'], …]` with `columns`) or one plain object
 * (shown as key/value rows) → an HTML table, every value escaped, numbers right-aligned; a padded text
 * table where there is no notebook.
 */
import type { DisplayTarget } from './env';
import { resolveDisplay } from './env';
import { escapeHtml } from './html';

export type TableInput = readonly Record<string, unknown>[] | readonly (readonly unknown[])[] | Record<string, unknown>;

export interface TableOptions {
  /** Column order and names (default: keys in order of first appearance; required names for array rows). */
  columns?: string[];
  caption?: string;
  /** Show at most this many rows, then a "… n more" line (default 200). */
  maxRows?: number;
  /** Significant digits of non-integer numbers (default 4). */
  digits?: number;
  format?: (value: unknown, column: string) => string;
}

interface Grid {
  columns: string[];
  rows: unknown[][];
  numeric: boolean[];
  hidden: number;
}

function toGrid(input: TableInput, opts: TableOptions): Grid {
  let columns: string[];
  let rows: unknown[][];
  if (!Array.isArray(input)) {
    columns = opts.columns ?? ['key', 'value'];
    rows = Object.entries(input as Record<string, unknown>);
  } else if (input.length > 0 && Array.isArray(input[0])) {
    const arr = input as readonly (readonly unknown[])[];
    const width = Math.max(...arr.map((r) => r.length));
    columns = opts.columns ?? Array.from({ length: width }, (_, i) => String(i));
    rows = arr.map((r) => columns.map((_, i) => r[i]));
  } else {
    const recs = input as readonly Record<string, unknown>[];
    const seen = new Set<string>();
    for (const r of recs) for (const k of Object.keys(r ?? {})) seen.add(k);
    columns = opts.columns ?? [...seen];
    rows = recs.map((r) => columns.map((c) => r?.[c]));
  }
  const max = opts.maxRows ?? 200;
  const hidden = Math.max(0, rows.length - max);
  rows = rows.slice(0, max);
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined));
  return { columns, rows, numeric, hidden };
}

/** A value as table text: numbers to `digits` significant digits, objects as JSON. */
export function formatCell(v: unknown, digits = 4): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) || !Number.isFinite(v) ? String(v) : String(Number(v.toPrecision(digits)));
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export function htmlTable(input: TableInput, opts: TableOptions = {}): string {
  const g = toGrid(input, opts);
  const fmt = (v: unknown, c: string): string => (opts.format ? opts.format(v, c) : formatCell(v, opts.digits));
  const align = (i: number): string => (g.numeric[i] ? ' style="text-align:right"' : ' style="text-align:left"');
  const head = g.columns.map((c, i) => `<th${align(i)}>${escapeHtml(c)}</th>`).join('');
  const body = g.rows
    .map((r) => `<tr>${r.map((v, i) => `<td${align(i)}>${escapeHtml(fmt(v, g.columns[i]))}</td>`).join('')}</tr>`)
    .join('\n');
  const more = g.hidden > 0 ? `\n<tr><td colspan="${g.columns.length}" style="text-align:left;color:#777">… ${g.hidden} more rows</td></tr>` : '';
  const caption = opts.caption !== undefined ? `<caption style="caption-side:top;text-align:left">${escapeHtml(opts.caption)}</caption>` : '';
  return `<table class="switchboard-table">${caption}<thead><tr>${head}</tr></thead><tbody>\n${body}${more}\n</tbody></table>`;
}

export function textTable(input: TableInput, opts: TableOptions = {}): string {
  const g = toGrid(input, opts);
  const fmt = (v: unknown, c: string): string => (opts.format ? opts.format(v, c) : formatCell(v, opts.digits)).replace(/\s*\n\s*/g, ' ');
  const cells = g.rows.map((r) => r.map((v, i) => fmt(v, g.columns[i])));
  const widths = g.columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((s, i) => (g.numeric[i] ? s.padStart(widths[i]) : s.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(g.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)];
  if (g.hidden > 0) out.push(`… ${g.hidden} more rows`);
  if (opts.caption !== undefined) out.unshift(opts.caption);
  return out.join('\n');
}

export function showTable(input: TableInput, opts: TableOptions & { display?: DisplayTarget } = {}): void {
  resolveDisplay(opts.display).show({ html: htmlTable(input, opts), text: textTable(input, opts) });
}
