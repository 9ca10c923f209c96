/**
 * A finite, indexable list of examples with a seeded shuffle per epoch: what every data set and every
 * derived set (instruction data, multimodal prompts, mixture pools) is. Example i is a pure function of
 * (seed, epoch, i), so sets can be read in any order, in parallel, or from the middle after a resume.
 */
import { Split } from './emoji';
import type { RGBImage } from '../image/types';
import { permutation, Rng, rngFor } from '../util/random';

export type DataPart = { text: string } | { image: RGBImage };

export interface Example<M = unknown> {
  id: string;
  parts: DataPart[];
  meta: M;
}

export interface ExampleList<M = unknown> extends Iterable<Example<M>> {
  readonly name: string;
  readonly split: Split;
  readonly size: number;
  /** Example i in stored order (its random choices drawn for `epoch` when the list has a seed). */
  get(i: number, epoch?: number): Example<M>;
  /** All examples for one epoch: a seeded shuffle when there is a seed, else stored order. */
  epoch(e: number): IterableIterator<Example<M>>;
}

/** Builds example i; `rand` is null without a seed (canonical choices), else a stream for (seed, epoch, i). */
export type ExampleBuilder<M> = (i: number, rand: Rng | null) => Example<M>;

export class ListDataset<M, N extends string = string> implements ExampleList<M> {
  constructor(
    readonly name: N,
    readonly split: Split,
    readonly size: number,
    private readonly seed: number | undefined,
    private readonly build: ExampleBuilder<M>,
  ) {}

  get(i: number, epoch = 0): Example<M> {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) {
      throw new Error(`${this.name} ${this.split}: index ${i} is outside [0, ${this.size})`);
    }
    const rand = this.seed === undefined ? null : rngFor(`${this.name}/${this.split}/${epoch}/${i}`, this.seed);
    return this.build(i, rand);
  }

  *epoch(e: number): IterableIterator<Example<M>> {
    const order =
      this.seed === undefined ? null : permutation(this.size, rngFor(`order/${this.name}/${this.split}/${e}`, this.seed));
    for (let k = 0; k < this.size; k++) yield this.get(order === null ? k : order[k], e);
  }

  [Symbol.iterator](): IterableIterator<Example<M>> {
    return this.epoch(0);
  }
}
