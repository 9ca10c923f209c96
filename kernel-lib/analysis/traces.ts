/** What the routing analyses read from a RoutingTrace (Session.trace), and checks shared by them. */
import type { RoutingTrace } from '../session';

/** The fields of a RoutingTrace the analyses use (a trace from Session.trace, or one built by hand). */
export type TraceLike = Pick<RoutingTrace, 'ids' | 'modalities' | 'layers' | 'numExperts' | 'topK'>;

/** One trace or many → a non-empty list with the same experts and top-k, and `layer` present in each. */
export function checkTraces(traces: TraceLike | TraceLike[], layer?: number): { list: TraceLike[]; E: number; k: number; L: number } {
  const list = Array.isArray(traces) ? traces : [traces];
  if (list.length === 0) throw new Error('no traces given');
  const { numExperts: E, topK: k } = list[0];
  const L = list[0].layers.length;
  list.forEach((t, i) => {
    if (t.numExperts !== E || t.topK !== k) throw new Error(`trace ${i} has ${t.numExperts} experts / top-${t.topK}, trace 0 has ${E} / top-${k}`);
    if (t.layers.length !== L) throw new Error(`trace ${i} has ${t.layers.length} layers, trace 0 has ${L}`);
    if (t.modalities.length !== t.ids.length) throw new Error(`trace ${i} has ${t.modalities.length} modalities for ${t.ids.length} tokens`);
  });
  if (layer !== undefined && (!Number.isInteger(layer) || layer < 0 || layer >= L)) throw new Error(`layer ${layer} is outside the model's ${L} layers`);
  return { list, E, k, L };
}
