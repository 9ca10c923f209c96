/**
 * Scenes: every caption is read back with a parser written from the caption grammar, and what it claims
 * (relations, positions) is checked against the boxes; the pixels are checked against the boxes (the
 * object is where its box says, the background white elsewhere) and against the object's original crop.
 */
import fs from 'fs';
import { SPLITS } from '../../kernel-lib/data/emoji';
import { resizeArea } from '../../kernel-lib/image/rgb';
import { DataStore, ensureData } from '../../kernel-lib/data/store';
import { namesGroup, POS, quiet, REL, regionHolds, relationHolds, SMALL, tempDir, TestBox } from './helpers';

let dir: string;
let store: DataStore;

beforeAll(async () => {
  dir = tempDir('scenes');
  store = await ensureData({ ...SMALL, cacheDir: dir, onProgress: quiet });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Claim {
  relations: Array<[string, string, string]>; // [nameA, relation, nameB]
  positions: Array<[string, string]>; // [name, region]
}

/** Parses "NP REL NP[ and NP POS]" or "NP POS and NP POS[ and NP POS]"; null when it does not parse. */
function parseCaption(caption: string, names: readonly string[]): Claim | null {
  const np = namesGroup(names);
  const relational = new RegExp(`^${np} ${REL} ${np}(?: and ${np} ${POS})?$`).exec(caption);
  if (relational) {
    const [, a, rel, b, c, side, corner] = relational;
    return { relations: [[a, rel, b]], positions: c ? [[c, side ?? corner]] : [] };
  }
  const absolute = new RegExp(`^${np} ${POS} and ${np} ${POS}(?: and ${np} ${POS})?$`).exec(caption);
  if (absolute) {
    const positions: Array<[string, string]> = [];
    for (let k = 1; k < absolute.length; k += 3) if (absolute[k]) positions.push([absolute[k], absolute[k + 1] ?? absolute[k + 2]]);
    return { relations: [], positions };
  }
  return null;
}

test('every caption parses, names each object once, and its relations and positions hold for the boxes', () => {
  let relations = 0;
  let positions = 0;
  for (const split of SPLITS) {
    for (const s of store.scenes(split)) {
      const names = s.objects.map((o) => o.name);
      expect(new Set(names).size).toBe(names.length);
      const claim = parseCaption(s.caption, names);
      if (claim === null) throw new Error(`caption does not parse: ${JSON.stringify(s.caption)} (objects ${names.join(', ')})`);
      const mentioned = [...claim.relations.flatMap(([a, , b]) => [a, b]), ...claim.positions.map(([n]) => n)];
      expect(mentioned.slice().sort()).toEqual(names.slice().sort());
      const box = (name: string): TestBox => s.objects[names.indexOf(name)].box;
      for (const [a, rel, b] of claim.relations) {
        if (!relationHolds(rel, box(a), box(b))) throw new Error(`"${s.caption}": ${a} is not ${rel} ${b} (${JSON.stringify(s.objects)})`);
        relations++;
      }
      for (const [n, region] of claim.positions) {
        if (!regionHolds(region, box(n))) throw new Error(`"${s.caption}": ${n} is not in the ${region} (${JSON.stringify(box(n))})`);
        positions++;
      }
    }
  }
  expect(relations).toBeGreaterThan(200);
  expect(positions).toBeGreaterThan(200);
});

test('boxes are 12–16 px, inside the canvas and disjoint; 2–3 objects per scene', () => {
  const counts = new Set<number>();
  for (const split of SPLITS) {
    for (const s of store.scenes(split)) {
      counts.add(s.objects.length);
      s.objects.forEach((o, i) => {
        const b = o.box;
        expect(b.w).toBe(b.h);
        expect(b.w).toBeGreaterThanOrEqual(12);
        expect(b.w).toBeLessThanOrEqual(16);
        expect(b.x >= 0 && b.y >= 0 && b.x + b.w <= 32 && b.y + b.h <= 32).toBe(true);
        for (const q of s.objects.slice(i + 1)) {
          const apart = b.x + b.w <= q.box.x || q.box.x + q.box.w <= b.x || b.y + b.h <= q.box.y || q.box.y + q.box.h <= b.y;
          expect(apart).toBe(true);
        }
      });
    }
  }
  expect([...counts].sort()).toEqual([2, 3]);
});

test('pixels: white outside the boxes, and each box holds its object downscaled from its original crop', () => {
  const problems: string[] = [];
  for (const split of SPLITS) {
    store.scenes(split).slice(0, 60).forEach((s, i) => {
      const img = store.sceneImage(split, i);
      const inside = (x: number, y: number): boolean => s.objects.some(({ box: b }) => x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h);
      for (let p = 0; p < 32 * 32; p++) {
        if (!inside(p % 32, Math.floor(p / 32)) && img.pixels[3 * p] + img.pixels[3 * p + 1] + img.pixels[3 * p + 2] !== 765) {
          problems.push(`${split} ${i}: pixel (${p % 32}, ${Math.floor(p / 32)}) outside every box is not white`);
        }
      }
      for (const o of s.objects) {
        if (store.emoji[o.emoji].name !== o.name) problems.push(`${split} ${i}: emoji ${o.emoji} is not a ${o.name}`);
        const small = resizeArea(store.emojiImage(o.emoji), o.box.h, o.box.w);
        let nonWhite = 0;
        let differ = 0;
        for (let y = 0; y < o.box.h; y++) {
          for (let x = 0; x < o.box.w * 3; x++) {
            const v = img.pixels[((o.box.y + y) * 32 + o.box.x) * 3 + x];
            if (v !== small.pixels[y * o.box.w * 3 + x]) differ++;
            if (v < 250) nonWhite++;
          }
        }
        if (differ > 0 || nonWhite === 0) problems.push(`${split} ${i}: ${o.name}: ${differ} values differ from its crop, ${nonWhite} non-white`);
      }
    });
  }
  expect(problems).toEqual([]);
});

test('the parser is strict: a wrong relation or a missing object does not parse as true', () => {
  const names = ['tiger face', 'red apple', 'automobile'];
  expect(parseCaption('a tiger face to the left of a red apple', names)).toEqual({ relations: [['tiger face', 'to the left of', 'red apple']], positions: [] });
  expect(parseCaption('a tiger face next to a red apple', names)).toBeNull();
  expect(parseCaption('a tiger face above an automobile and a red apple on the right', names)).toEqual({
    relations: [['tiger face', 'above', 'automobile']],
    positions: [['red apple', 'right']],
  });
  expect(relationHolds('to the left of', { x: 0, y: 0, w: 14, h: 14 }, { x: 12, y: 0, w: 14, h: 14 })).toBe(false);
  expect(regionHolds('top left', { x: 2, y: 3, w: 14, h: 14 })).toBe(false);
});
