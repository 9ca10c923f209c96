/**
 * Beyond the paper (issue #13, item 6): how each adapter changes the MoE routing of the frozen base. Every
 * model (the base, then each arm's adapter alone) routes the same held-out items, teacher-forced (each
 * item's whole row: prompt and target), and per layer we measure, with notebook 01's analyses:
 *
 *   exclusivity   Jensen–Shannon divergence (bits) between the experts text tokens and image tokens pick
 *                 (0: the same experts in the same proportions, 1: disjoint);
 *   coActivation  the strongest-partner co-activation of the image tokens, mean over used experts of
 *                 max_j N(i, j)/N(i) (the all-pairs mean cannot move: analysis/co-activation.ts).
 *
 * The adapters act on attention only; the routers and experts are the base's, so any change in routing is
 * the adapters moving the router's input.
 */
import type { RoutingTrace } from '../../session';
import { coActivationByLayer } from '../../analysis/co-activation';
import { exclusivityByDepth } from '../../analysis/routing-by-modality';
import type { ArmSet } from './arm-set';
import { itemRow } from './items';
import type { CodedItem } from './items';
import type { Results } from './results';

export interface RoutingOptions {
  /** Models to route, `base` or arm labels (default: all of the set's models). */
  models?: readonly string[];
  /** Called after each item with the model, items done and the total. */
  onProgress?: (model: string, done: number, total: number) => void;
}

const r4 = (x: number) => Number(x.toFixed(4));

/** Per model, per layer: routing exclusivity (text vs image) and the image tokens' strongest-partner co-activation. */
export function routingByModel(arms: ArmSet, items: readonly CodedItem[], o: RoutingOptions = {}): NonNullable<Results['routing']> {
  if (items.length === 0) throw new Error('moss.routingByModel: no items to route');
  const s = arms.session;
  const before = arms.active;
  const out: NonNullable<Results['routing']> = [];
  try {
    for (const model of o.models ?? arms.models) {
      arms.use(model);
      const traces: RoutingTrace[] = [];
      for (const it of items) {
        traces.push(s.trace({ ids: itemRow(s.tokenizer, it).ids }));
        o.onProgress?.(model, traces.length, items.length);
      }
      const exclusivity = exclusivityByDepth(traces);
      const bad = exclusivity.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new Error(`moss.routingByModel: the items have no ${traces.some((t) => t.modalities.includes('text')) ? 'image' : 'text'} tokens to compare at layer ${bad}`);
      out.push({ model, exclusivity: exclusivity.map(r4), coActivation: coActivationByLayer(traces, { modality: 'image' }).map((c) => r4(c.topPartnerAverage)) });
    }
  } finally {
    arms.use(before);
  }
  return out;
}
