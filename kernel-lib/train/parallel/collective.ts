/**
 * What data-parallel workers share: one SharedArrayBuffer of control words (a barrier and an abort flag)
 * and one of float64 slots for all-reduce. Everything here runs synchronously inside a worker, so a
 * worker can all-reduce in the middle of a forward pass (the MoE load-balancing loss needs the whole
 * batch's expert counts before the backward pass).
 *
 * Sums run in worker order, so results are the same bits for a given worker count.
 */

const GENERATION = 0;
const ARRIVED = 1;
const ABORT = 2;
const CONTROL_WORDS = 4;
/** How long one Atomics.wait lasts before the abort flag is checked again. */
const WAIT_SLICE_MS = 50;

export interface CollectiveBuffers {
  control: SharedArrayBuffer;
  /** workers × capacity float64 slots. */
  reduce: SharedArrayBuffer;
  capacity: number;
}

export function collectiveBuffers(workers: number, capacity: number): CollectiveBuffers {
  return {
    control: new SharedArrayBuffer(CONTROL_WORDS * 4),
    reduce: new SharedArrayBuffer(workers * capacity * 8),
    capacity,
  };
}

export class AbortedByPeer extends Error {}

export class Collective {
  private readonly control: Int32Array;
  private readonly slots: Float64Array;

  constructor(
    readonly rank: number,
    readonly workers: number,
    private readonly b: CollectiveBuffers,
  ) {
    this.control = new Int32Array(b.control);
    this.slots = new Float64Array(b.reduce);
  }

  /** Wait until every worker has arrived (a generation-counting barrier). */
  barrier(): void {
    const c = this.control;
    const gen = Atomics.load(c, GENERATION);
    if (Atomics.add(c, ARRIVED, 1) === this.workers - 1) {
      Atomics.store(c, ARRIVED, 0);
      Atomics.add(c, GENERATION, 1);
      Atomics.notify(c, GENERATION);
      return;
    }
    while (Atomics.load(c, GENERATION) === gen) {
      if (Atomics.load(c, ABORT) !== 0) throw new AbortedByPeer('data-parallel step aborted: another worker failed');
      Atomics.wait(c, GENERATION, gen, WAIT_SLICE_MS);
    }
  }

  /** Element-wise sum of `x` over all workers (every worker must call it with the same length). */
  allReduceSum(x: Float64Array): Float64Array {
    if (x.length > this.b.capacity) throw new Error(`allReduceSum: ${x.length} values exceed the reduce capacity ${this.b.capacity}`);
    this.slots.set(x, this.rank * this.b.capacity);
    this.barrier();
    const out = new Float64Array(x.length);
    for (let w = 0; w < this.workers; w++) {
      const base = w * this.b.capacity;
      for (let i = 0; i < x.length; i++) out[i] += this.slots[base + i];
    }
    this.barrier(); // nobody overwrites its slot for the next reduce before everyone has read this one
    return out;
  }

  /** Wake every waiting worker with an error (called by a worker that failed, or by the pool). */
  static abort(b: CollectiveBuffers): void {
    const c = new Int32Array(b.control);
    Atomics.store(c, ABORT, 1);
    Atomics.notify(c, GENERATION);
  }

  /** Clear the abort flag and the barrier before the next step. */
  static reset(b: CollectiveBuffers): void {
    const c = new Int32Array(b.control);
    Atomics.store(c, ABORT, 0);
    Atomics.store(c, ARRIVED, 0);
  }
}
