/**
 * Which parameters train, and how: freeze patterns, slices that train only in part, and parameter groups
 * with their own learning-rate multiplier and weight decay. Every trainer resolves them here, before any
 * step, so a bad pattern or slice is named before anything changes.
 */
import * as tf from '@tensorflow/tfjs';

/** Part of a parameter that trains: along `axis`, indices [from, to) train and the rest stays exactly as it is. */
export interface TrainSlice {
  param: string;
  axis: number;
  from: number;
  /** Exclusive end (default: the whole axis). */
  to?: number;
}

/**
 * Parameters (by glob pattern) that train with their own settings, e.g. MiniGPT-5's feature mapper at 10×
 * the language model's rate: `{ name: 'mapper', params: ['mapper.*'], lrScale: 10 }`. A parameter
 * belongs to the first group with a matching pattern; the rest train with the run's settings.
 */
export interface ParamGroup {
  name: string;
  params: string[];
  /** Multiplies the scheduled learning rate (default 1). */
  lrScale?: number;
  /** Decoupled weight decay of this group (default: the run's). */
  weightDecay?: number;
}

/** Per-parameter settings a group gives (only for parameters in a group). */
export interface ParamSettings {
  lrScale: number;
  weightDecay?: number;
}

/** `*` = any run of characters; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** The names of parameters that train, given freeze patterns (each pattern must match something). */
export function trainableNames(all: string[], freeze: string[] = []): string[] {
  const res = freeze.map((g) => ({ g, re: globToRegExp(g), hit: false }));
  const out = all.filter((n) => {
    let frozen = false;
    for (const r of res) if (r.re.test(n)) (r.hit = true), (frozen = true);
    return !frozen;
  });
  const miss = res.find((r) => !r.hit);
  if (miss) throw new Error(`freeze pattern '${miss.g}' matches no parameter`);
  if (out.length === 0) throw new Error('every parameter is frozen: nothing to train');
  return out;
}

/** Settings by parameter name for the trainable parameters the groups select (each pattern must match one). */
export function groupSettings(trainable: string[], groups: ParamGroup[] = []): Map<string, ParamSettings> {
  const out = new Map<string, ParamSettings>();
  const names = new Set<string>();
  groups.forEach((g, i) => {
    const where = `groups[${i}] '${String(g?.name)}'`;
    if (typeof g?.name !== 'string' || g.name === '' || names.has(g.name)) throw new Error(`groups[${i}]: needs a name of its own, got ${JSON.stringify(g?.name)}`);
    names.add(g.name);
    const lrScale = g.lrScale ?? 1;
    if (!(Number.isFinite(lrScale) && lrScale >= 0)) throw new Error(`${where}: lrScale must be a finite number ≥ 0, got ${String(g.lrScale)}`);
    if (g.weightDecay !== undefined && !(Number.isFinite(g.weightDecay) && g.weightDecay >= 0)) {
      throw new Error(`${where}: weightDecay must be a finite number ≥ 0, got ${String(g.weightDecay)}`);
    }
    if (!Array.isArray(g.params) || g.params.length === 0) throw new Error(`${where}: params must be a non-empty list of patterns`);
    for (const pattern of g.params) {
      const re = globToRegExp(pattern);
      const hits = trainable.filter((n) => re.test(n));
      if (hits.length === 0) throw new Error(`${where}: pattern '${pattern}' matches no trainable parameter`);
      for (const n of hits) if (!out.has(n)) out.set(n, g.weightDecay === undefined ? { lrScale } : { lrScale, weightDecay: g.weightDecay });
    }
  });
  return out;
}

/** 0/1 masks (1 = trains) for slices, validated against the trainable parameters. Caller disposes them. */
export function sliceMasks(params: Map<string, tf.Variable>, trainable: string[], slices: TrainSlice[]): Map<string, tf.Tensor> {
  const ranges = new Map<string, TrainSlice>();
  for (const [i, sl] of slices.entries()) {
    const where = `trainSlices[${i}]`;
    const p = params.get(sl?.param);
    if (!p) throw new Error(`${where}: no parameter '${String(sl?.param)}'`);
    if (!trainable.includes(sl.param)) throw new Error(`${where}: parameter '${sl.param}' is frozen; a slice of it cannot train`);
    if (ranges.has(sl.param)) throw new Error(`${where}: parameter '${sl.param}' has two slices`);
    if (!Number.isInteger(sl.axis) || sl.axis < 0 || sl.axis >= p.rank) throw new Error(`${where}: axis must be an integer in [0, ${p.rank}) for '${sl.param}' of shape [${p.shape.join(', ')}], got ${String(sl.axis)}`);
    const dim = p.shape[sl.axis];
    const to = sl.to ?? dim;
    if (!Number.isInteger(sl.from) || !Number.isInteger(to) || sl.from < 0 || to > dim || sl.from >= to) {
      throw new Error(`${where}: need integers 0 <= from < to <= ${dim} on axis ${sl.axis} of '${sl.param}', got from ${String(sl.from)}, to ${String(to)}`);
    }
    ranges.set(sl.param, { ...sl, to });
  }
  const out = new Map<string, tf.Tensor>();
  for (const [n, sl] of ranges) {
    const p = params.get(n) as tf.Variable;
    const dim = p.shape[sl.axis];
    const line = new Float32Array(dim);
    line.fill(1, sl.from, sl.to);
    const shape = p.shape.map((d, a) => (a === sl.axis ? d : 1));
    out.set(n, tf.tidy(() => tf.mul(tf.ones(p.shape), tf.tensor(line, shape))));
  }
  return out;
}
