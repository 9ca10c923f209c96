/** Typed arrays of one kind joined end to end, in the order given. */
export function concatTyped<T extends Float32Array | Int32Array>(parts: readonly T[], Ctor: { new (n: number): T }): T {
  const out = new Ctor(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
}
