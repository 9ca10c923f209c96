/** A display target for tests: records every output and every area update, and counts them. */
import type { DisplayArea, DisplayTarget, Output } from '../../kernel-lib/display/env';

export class RecordingTarget implements DisplayTarget {
  readonly kind = 'recording';
  readonly shown: Output[] = [];
  /** One entry per area, holding every update it received, in order. */
  readonly areas: Output[][] = [];
  constructor(readonly rich = true) {}
  show(out: Output): void {
    this.shown.push(out);
  }
  area(): DisplayArea {
    const updates: Output[] = [];
    this.areas.push(updates);
    return { update: (out) => void updates.push(out) };
  }
}
