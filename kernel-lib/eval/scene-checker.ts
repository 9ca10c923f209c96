/**
 * An exact checker of scenes (the workbench's GenEval): which emoji stands where in a 32×32 scene.
 *
 * Scenes are made by shrinking emoji to 12–16 px (area average) and pasting them, without overlap, on
 * white. The checker slides a window of every such size over the image and compares each window with
 * every known emoji shrunk the same way, by a normalised squared distance in *ink* space (1 − v/255,
 * so white is 0):
 *
 *   dist(window c, template t) = ‖c − t‖² / (‖c‖² + ‖t‖²)   ∈ [0, 2]; 0 is a pixel-exact match
 *
 * (the cross terms c·t of all windows against all templates are one matMul per size). Detections are
 * then taken greedily, best first, skipping windows that overlap one already taken, until `maxObjects`
 * or `maxDistance`. On the data set's own scenes the true (box, emoji) pairs are at distance 0, so the
 * checker recovers them exactly; on generated scenes it is a nearest-neighbour judgement. Below that
 * exact-match bar, `templateDistances` gives each template's best window distance anywhere in the image
 * and `rankOf` the rank of a given emoji among them (how close an image comes to the right emoji).
 *
 * Scoring against a scene spec: an expected object is *found* when an unused detection names the same
 * emoji; its *position* is right when that detection's box centre lies in the expected region; a stated
 * relation holds when it holds between the two detected boxes.
 */
import * as tf from '@tensorflow/tfjs';
import { IMAGE_SIZE } from '../data/image';
import type { RGBImage } from '../image/types';
import { resizeArea } from '../image/rgb';
import { Box, boxesOverlap, holds, Region, REGION_RECTS, Relation } from '../data/layout';
import { OBJECT_MAX, OBJECT_MIN } from '../data/layout';
import { objectVocabulary, SCENE_SUBCATEGORIES } from '../data/objects';
import { DataStore } from '../data/store';

export interface SceneTemplate {
  /** Catalog index of the emoji. */
  emoji: number;
  name: string;
  /** Its 32×32 image (shrunk to each window size by the checker). */
  image: RGBImage;
}

export interface Detection {
  emoji: number;
  name: string;
  box: Box;
  /** Normalised distance of the window to the template (0 = exact). */
  distance: number;
}

export interface DetectOptions {
  /** Stop after this many detections (default 3, the most a scene holds). */
  maxObjects?: number;
  /** Ignore windows farther than this from their best template (default 0.5). */
  maxDistance?: number;
}

/** What a scene claims: its objects (emoji, region) and relations; a SceneSpec fits. */
export interface SceneClaim {
  objects: ReadonlyArray<{ emoji: number; region: Region }>;
  relations?: ReadonlyArray<{ a: number; relation: Relation; b: number }>;
}

export interface SceneCheck {
  detections: Detection[];
  /** Per expected object: the detection matched to it (by emoji), or null. */
  matches: Array<Detection | null>;
  objectsFound: number;
  positionsRight: number;
  relationsHeld: number;
  objects: number;
  relations: number;
}

export interface SceneCheckSummary {
  scenes: number;
  /** Expected objects found (right emoji anywhere) / expected objects. */
  objectAccuracy: number;
  /** Expected objects found in the expected region / expected objects. */
  positionAccuracy: number;
  /** Stated relations that hold between the detected boxes / stated relations (NaN when none). */
  relationAccuracy: number;
  /** Scenes whose every object was found in its region. */
  sceneAccuracy: number;
}

/** Window sizes: the object sizes scenes use. */
export const WINDOW_SIZES: readonly number[] = Array.from({ length: OBJECT_MAX - OBJECT_MIN + 1 }, (_, i) => OBJECT_MIN + i);

/**
 * Distances this close count as a tie in `rankOf`: the matMul form (‖c‖² + ‖t‖² − 2c·t) in float32 leaves
 * ~1e-6 of cancellation noise on an exact match, far below any real difference between two emoji.
 */
export const RANK_TIE_TOLERANCE = 1e-5;

function ink(img: RGBImage): Float32Array {
  const out = new Float32Array(img.pixels.length);
  for (let i = 0; i < out.length; i++) out[i] = 1 - img.pixels[i] / 255;
  return out;
}

export class SceneChecker {
  /** Per window size: templates as [s·s·3, V] and their squared norms [V]. */
  private readonly banks = new Map<number, { t: tf.Tensor2D; tt: tf.Tensor1D }>();
  private disposed = false;
  private columns: Map<number, number> | null = null;

  constructor(
    readonly templates: readonly SceneTemplate[],
    readonly sizes: readonly number[] = WINDOW_SIZES,
  ) {
    if (templates.length === 0) throw new Error('SceneChecker: no templates');
    for (const s of sizes) {
      if (!Number.isInteger(s) || s < 1 || s > IMAGE_SIZE) throw new Error(`SceneChecker: window size ${s} is outside [1, ${IMAGE_SIZE}]`);
      const F = s * s * 3;
      const data = new Float32Array(F * templates.length); // [F, V]: column v is template v
      templates.forEach((tpl, v) => {
        const x = ink(resizeArea(tpl.image, s, s));
        for (let f = 0; f < F; f++) data[f * templates.length + v] = x[f];
      });
      this.banks.set(
        s,
        tf.tidy(() => {
          const t = tf.tensor2d(data, [F, templates.length]);
          return { t, tt: tf.sum(tf.square(t), 0) as tf.Tensor1D };
        }),
      );
    }
  }

  /** A checker for the data set's scene objects (the scene vocabulary: train-split base emoji). */
  static fromStore(store: DataStore, sizes: readonly number[] = WINDOW_SIZES): SceneChecker {
    const vocab = objectVocabulary(store.emoji, SCENE_SUBCATEGORIES);
    return new SceneChecker(vocab.map((e) => ({ emoji: e.index, name: e.name, image: store.emojiImage(e.index) })), sizes);
  }

  /** Which emoji stand where, best first. Images of another size are area-resized to 32×32 first. */
  detect(scene: RGBImage, options: DetectOptions = {}): Detection[] {
    const maxObjects = options.maxObjects ?? 3;
    const maxDistance = options.maxDistance ?? 0.5;
    const x = this.inkOf(scene);
    const cands: Array<{ box: Box; v: number; distance: number }> = [];
    for (const s of this.sizes) {
      const n = IMAGE_SIZE - s + 1;
      // per window: its best template and distance
      const [best, arg] = tf.tidy(() => {
        const dist = this.windowDistances(x, s);
        return [tf.min(dist, 1), tf.argMin(dist, 1)];
      });
      const bestV = best.dataSync();
      const argV = arg.dataSync();
      best.dispose();
      arg.dispose();
      for (let k = 0; k < n * n; k++) {
        if (bestV[k] <= maxDistance) cands.push({ box: { x: k % n, y: Math.floor(k / n), w: s, h: s }, v: argV[k], distance: Math.max(0, bestV[k]) });
      }
    }
    cands.sort((a, b) => a.distance - b.distance || b.box.w - a.box.w);
    const out: Detection[] = [];
    for (const c of cands) {
      if (out.length >= maxObjects) break;
      if (out.some((d) => boxesOverlap(d.box, c.box))) continue;
      const t = this.templates[c.v];
      out.push({ emoji: t.emoji, name: t.name, box: c.box, distance: c.distance });
    }
    return out;
  }

  /**
   * Per template (in `templates` order): its best distance to any window of the image, over every window
   * size and position (the same distances `detect` ranks, clamped at 0 like its detections' distances).
   * How close an image comes to each emoji, also below the exact-match bar; `rankOf` reads it.
   */
  templateDistances(scene: RGBImage): Float32Array {
    const x = this.inkOf(scene);
    const out = new Float32Array(this.templates.length).fill(Infinity);
    for (const s of this.sizes) {
      const best = tf.tidy(() => tf.min(this.windowDistances(x, s), 0));
      const v = best.dataSync();
      best.dispose();
      for (let t = 0; t < out.length; t++) out[t] = Math.min(out[t], Math.max(0, v[t]));
    }
    return out;
  }

  /**
   * The rank (0 = the nearest) of `emoji`'s template in `distances` (from `templateDistances`): how many
   * templates are closer by more than RANK_TIE_TOLERANCE. Ties within it count in the emoji's favour, so
   * every object of a data-set scene (all at distance ~0, float32 noise apart) ranks 0.
   */
  rankOf(distances: ArrayLike<number>, emoji: number): number {
    if (distances.length !== this.templates.length) throw new Error(`SceneChecker.rankOf: ${distances.length} distances for ${this.templates.length} templates`);
    const v = this.columnOf().get(emoji);
    if (v === undefined) throw new Error(`SceneChecker.rankOf: emoji ${emoji} is not among the checker's templates`);
    const bar = distances[v] - RANK_TIE_TOLERANCE;
    let rank = 0;
    for (let t = 0; t < distances.length; t++) if (distances[t] < bar) rank++;
    return rank;
  }

  /** Checks one scene against what it should show (detecting as many objects as it claims). */
  check(scene: RGBImage, claim: SceneClaim, options: Omit<DetectOptions, 'maxObjects'> = {}): SceneCheck {
    const detections = this.detect(scene, { ...options, maxObjects: claim.objects.length });
    const nameOf = new Map(this.templates.map((t) => [t.emoji, t.name]));
    const used = new Set<number>();
    const matches = claim.objects.map((o) => {
      const want = nameOf.get(o.emoji);
      if (want === undefined) throw new Error(`SceneChecker.check: emoji ${o.emoji} is not among the checker's templates`);
      // Prefer a detection in the right region when the same emoji was detected twice.
      const candidates = detections.map((d, i) => ({ d, i })).filter(({ d, i }) => !used.has(i) && d.name === want);
      const pick = candidates.find(({ d }) => centreIn(d.box, o.region)) ?? candidates[0];
      if (!pick) return null;
      used.add(pick.i);
      return pick.d;
    });
    let positionsRight = 0;
    claim.objects.forEach((o, i) => {
      const m = matches[i];
      if (m && centreIn(m.box, o.region)) positionsRight++;
    });
    let relationsHeld = 0;
    for (const r of claim.relations ?? []) {
      const a = matches[r.a];
      const b = matches[r.b];
      if (a && b && holds(r.relation, a.box, b.box)) relationsHeld++;
    }
    return {
      detections,
      matches,
      objectsFound: matches.filter((m) => m !== null).length,
      positionsRight,
      relationsHeld,
      objects: claim.objects.length,
      relations: claim.relations?.length ?? 0,
    };
  }

  /** Checks scenes[i] against claims[i] and sums up. */
  checkMany(scenes: readonly RGBImage[], claims: readonly SceneClaim[], options: Omit<DetectOptions, 'maxObjects'> = {}): SceneCheckSummary {
    if (scenes.length !== claims.length) throw new Error(`SceneChecker.checkMany: ${scenes.length} scenes but ${claims.length} claims`);
    let objects = 0;
    let found = 0;
    let right = 0;
    let relations = 0;
    let held = 0;
    let whole = 0;
    scenes.forEach((s, i) => {
      const c = this.check(s, claims[i], options);
      objects += c.objects;
      found += c.objectsFound;
      right += c.positionsRight;
      relations += c.relations;
      held += c.relationsHeld;
      if (c.positionsRight === c.objects) whole++;
    });
    return {
      scenes: scenes.length,
      objectAccuracy: objects > 0 ? found / objects : NaN,
      positionAccuracy: objects > 0 ? right / objects : NaN,
      relationAccuracy: relations > 0 ? held / relations : NaN,
      sceneAccuracy: scenes.length > 0 ? whole / scenes.length : NaN,
    };
  }

  /** The image in ink space at 32×32 (area-resized first when another size). */
  private inkOf(scene: RGBImage): Float32Array {
    if (this.disposed) throw new Error('SceneChecker: used after dispose()');
    return ink(scene.height === IMAGE_SIZE && scene.width === IMAGE_SIZE ? scene : resizeArea(scene, IMAGE_SIZE, IMAGE_SIZE));
  }

  /** Catalog index → template column, made once. */
  private columnOf(): Map<number, number> {
    if (!this.columns) this.columns = new Map(this.templates.map((t, v) => [t.emoji, v]));
    return this.columns;
  }

  /**
   * dist[k, v] of every s×s window k (row-major by top-left corner) of ink image x to every template v,
   * [n·n, V]: the cross terms are one matMul. Call inside a tf.tidy.
   */
  private windowDistances(x: Float32Array, s: number): tf.Tensor2D {
    const n = IMAGE_SIZE - s + 1;
    const F = s * s * 3;
    const windows = new Float32Array(n * n * F);
    for (let wy = 0; wy < n; wy++) {
      for (let wx = 0; wx < n; wx++) {
        let o = (wy * n + wx) * F;
        for (let r = 0; r < s; r++) {
          const from = ((wy + r) * IMAGE_SIZE + wx) * 3;
          windows.set(x.subarray(from, from + s * 3), o);
          o += s * 3;
        }
      }
    }
    const bank = this.banks.get(s) as { t: tf.Tensor2D; tt: tf.Tensor1D };
    const c = tf.tensor2d(windows, [n * n, F]);
    const cc = tf.sum(tf.square(c), 1, true); // [N, 1]
    const ct = tf.matMul(c, bank.t); // [N, V]
    const sum = tf.add(cc, bank.tt); // [N, V]
    return tf.div(tf.sub(sum, tf.mul(ct, 2)), tf.add(sum, 1e-6)) as tf.Tensor2D; // [N, V]
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.banks.values()) {
      b.t.dispose();
      b.tt.dispose();
    }
  }
}

/**
 * The checker's distance between two images of the same size (see the file comment): ‖c − t‖² / (‖c‖² + ‖t‖²)
 * in ink space, 0 for identical pixels, 1 for disjoint ink, 2 at most (0 when both are blank).
 */
export function inkDistance(a: RGBImage, b: RGBImage): number {
  if (a.height !== b.height || a.width !== b.width) throw new Error(`inkDistance: a ${a.height}×${a.width} image against a ${b.height}×${b.width} one`);
  const x = ink(a);
  const y = ink(b);
  let diff = 0;
  let norms = 0;
  for (let i = 0; i < x.length; i++) {
    diff += (x[i] - y[i]) ** 2;
    norms += x[i] * x[i] + y[i] * y[i];
  }
  return norms === 0 ? 0 : diff / (norms + 1e-6);
}

/** True when the box's centre lies inside the region's rectangle. */
export function centreIn(box: Box, region: Region): boolean {
  const R = REGION_RECTS.get(region);
  if (!R) throw new Error(`unknown region '${region}'`);
  const cx = box.x + box.w / 2;
  const cy = box.y + box.h / 2;
  return cx >= R.x && cx <= R.x + R.w && cy >= R.y && cy <= R.y + R.h;
}
