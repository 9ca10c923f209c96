/** Contiguous row ranges for `workers` workers, the first ones one row longer when B does not divide. */
export function splitRows(B: number, workers: number): [number, number][] {
  const out: [number, number][] = [];
  let from = 0;
  for (let w = 0; w < workers; w++) {
    const n = Math.floor(B / workers) + (w < B % workers ? 1 : 0);
    out.push([from, from + n]);
    from += n;
  }
  return out;
}
