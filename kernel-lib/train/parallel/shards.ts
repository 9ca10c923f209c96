/**
 * Which worker reduces and updates which elements of the flat parameter vector (reduce-scatter): the
 * trainable parameters' elements, taken in layout order, cut into `workers` contiguous runs of nearly
 * equal length. A run may span several parameters and a parameter several runs, so a run is a list of
 * pieces, each within one parameter. Every trainable element lies in exactly one piece; frozen
 * parameters lie in none (they take no update).
 */

/** Elements [from, to) of the flat layout, all of parameter `param` (its index in the pool's specs). */
export interface Piece {
  param: number;
  from: number;
  to: number;
}

/** Run boundaries fall on multiples of this many elements (64 bytes: workers never write one cache line). */
const ALIGN = 16;

/**
 * Each worker's pieces. `segments[i]` is parameter i's place in the flat layout; `trainable[i]` whether it
 * takes updates. Worker r gets trainable elements [⌊r·N/W⌋, ⌊(r+1)·N/W⌋) (N of them in all), boundaries
 * rounded to ALIGN.
 */
export function shardPieces(segments: ReadonlyArray<{ offset: number; size: number }>, trainable: readonly boolean[], workers: number): Piece[][] {
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`shardPieces: workers must be a positive integer, got ${String(workers)}`);
  if (trainable.length !== segments.length) throw new Error(`shardPieces: ${trainable.length} trainable flags for ${segments.length} parameters`);
  const owned = segments.map((s, i) => ({ ...s, param: i })).filter((_, i) => trainable[i]);
  const total = owned.reduce((a, s) => a + s.size, 0);
  const bound = (r: number): number => (r === workers ? total : Math.min(total, Math.round(Math.floor((r * total) / workers) / ALIGN) * ALIGN));
  const out: Piece[][] = [];
  let seg = 0;
  let within = 0; // elements of owned[seg] already handed out
  for (let r = 0; r < workers; r++) {
    let need = bound(r + 1) - bound(r);
    const pieces: Piece[] = [];
    while (need > 0) {
      const s = owned[seg];
      const n = Math.min(need, s.size - within);
      if (n > 0) pieces.push({ param: s.param, from: s.offset + within, to: s.offset + within + n });
      within += n;
      need -= n;
      if (within === s.size) {
        seg++;
        within = 0;
      }
    }
    out.push(pieces);
  }
  return out;
}
