/**
 * Geometry shared by scenes and stories: the eight named regions of a 32×32 canvas (quadrants and
 * halves), boxes, the relations a pair of regions implies, and placing an object in a region.
 */
import { IMAGE_SIZE } from './image';
import { randInt, Rng } from '../util/random';

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export type Region = 'top left' | 'top right' | 'bottom left' | 'bottom right' | 'left' | 'right' | 'top' | 'bottom';

const H = IMAGE_SIZE / 2;
export const REGION_RECTS: ReadonlyMap<Region, Box> = new Map<Region, Box>([
  ['top left', { x: 0, y: 0, w: H, h: H }],
  ['top right', { x: H, y: 0, w: H, h: H }],
  ['bottom left', { x: 0, y: H, w: H, h: H }],
  ['bottom right', { x: H, y: H, w: H, h: H }],
  ['left', { x: 0, y: 0, w: H, h: IMAGE_SIZE }],
  ['right', { x: H, y: 0, w: H, h: IMAGE_SIZE }],
  ['top', { x: 0, y: 0, w: IMAGE_SIZE, h: H }],
  ['bottom', { x: 0, y: H, w: IMAGE_SIZE, h: H }],
]);
export const QUADRANTS: readonly Region[] = ['top left', 'top right', 'bottom left', 'bottom right'];

/** How a caption names a region: "on the left", "at the top right". */
export function regionPhrase(r: Region): string {
  return r === 'left' || r === 'right' ? `on the ${r}` : `at the ${r}`;
}

/** Spatial relations between two objects, read "A <relation> B". */
export type Relation = 'to the left of' | 'to the right of' | 'above' | 'below';
export const INVERSE: Readonly<Record<Relation, Relation>> = {
  'to the left of': 'to the right of',
  'to the right of': 'to the left of',
  above: 'below',
  below: 'above',
};

/** True when box a stands in `rel` to box b (strictly: a's extent ends before b's begins). */
export function holds(rel: Relation, a: Box, b: Box): boolean {
  switch (rel) {
    case 'to the left of':
      return a.x + a.w <= b.x;
    case 'to the right of':
      return b.x + b.w <= a.x;
    case 'above':
      return a.y + a.h <= b.y;
    case 'below':
      return b.y + b.h <= a.y;
  }
}

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

export function boxesOverlap(a: Box, b: Box): boolean {
  return overlaps(a, b);
}

/** Relations that hold for *any* boxes placed in regions ra and rb (so they are safe to state). */
export function impliedRelations(ra: Region, rb: Region): Relation[] {
  const a = REGION_RECTS.get(ra) as Box;
  const b = REGION_RECTS.get(rb) as Box;
  return (['to the left of', 'to the right of', 'above', 'below'] as Relation[]).filter((rel) => holds(rel, a, b));
}

/** Every set of n pairwise-disjoint regions (the layouts a scene can use), in a fixed order. */
export function disjointLayouts(n: number): Region[][] {
  const all = [...REGION_RECTS.keys()];
  const out: Region[][] = [];
  const grow = (start: number, chosen: Region[]): void => {
    if (chosen.length === n) {
      out.push(chosen.slice());
      return;
    }
    for (let i = start; i < all.length; i++) {
      const r = all[i];
      if (chosen.some((c) => overlaps(REGION_RECTS.get(c) as Box, REGION_RECTS.get(r) as Box))) continue;
      chosen.push(r);
      grow(i + 1, chosen);
      chosen.pop();
    }
  };
  grow(0, []);
  return out;
}

/** Object sides in pixels when downscaled into a scene. */
export const OBJECT_MIN = 12;
export const OBJECT_MAX = 16;
/** Halves are twice as long as an object: keep it near the middle of the long side (±CENTER_JITTER). */
const CENTER_JITTER = 4;

/** A size×size box inside the region, at a random position (near the middle along a half's long side). */
export function placeIn(r: Region, size: number, rand: Rng): Box {
  const R = REGION_RECTS.get(r) as Box;
  const along = (start: number, len: number): number => {
    const slack = len - size;
    if (len <= H) return start + randInt(rand, 0, slack);
    const mid = Math.floor(slack / 2);
    return start + randInt(rand, Math.max(0, mid - CENTER_JITTER), Math.min(slack, mid + CENTER_JITTER));
  };
  return { x: along(R.x, R.w), y: along(R.y, R.h), w: size, h: size };
}
