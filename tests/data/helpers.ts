/**
 * Helpers for the data tests: a small build in a temp folder, and an independent reading of captions and
 * geometry (written from the caption grammar, not from the generator's code).
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { BuildOptions } from '../../kernel-lib/data/build';

/** Small counts: enough to exercise every layout and event, quick to build. */
export const SMALL: BuildOptions = {
  scenes: { train: 300, val: 100, test: 100 },
  stories: { train: 100, val: 40, test: 40 },
};

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `switchboard-${tag}-`));
}

export const quiet = (): void => {};

export interface TestBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Canvas halves: a region name's box constraint. */
export function regionHolds(region: string, b: TestBox): boolean {
  const left = b.x + b.w <= 16;
  const right = b.x >= 16;
  const top = b.y + b.h <= 16;
  const bottom = b.y >= 16;
  const table: Record<string, boolean> = {
    left,
    right,
    top,
    bottom,
    'top left': top && left,
    'top right': top && right,
    'bottom left': bottom && left,
    'bottom right': bottom && right,
  };
  if (!(region in table)) throw new Error(`unknown region '${region}'`);
  return table[region];
}

export function relationHolds(rel: string, a: TestBox, b: TestBox): boolean {
  if (rel === 'to the left of') return a.x + a.w <= b.x;
  if (rel === 'to the right of') return b.x + b.w <= a.x;
  if (rel === 'above') return a.y + a.h <= b.y;
  if (rel === 'below') return b.y + b.h <= a.y;
  throw new Error(`unknown relation '${rel}'`);
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export const REL = '(to the left of|to the right of|above|below)';
export const POS = '(?:on the (left|right)|at the (top left|top right|bottom left|bottom right|top|bottom))';
export const ARTICLE = '(?:(?:a|an|the) )?';

/** A capture group matching any of the names (longest first), with an optional article. */
export function namesGroup(names: readonly string[]): string {
  return `${ARTICLE}(${[...names].sort((a, b) => b.length - a.length).map(escapeRe).join('|')})`;
}
