/**
 * Several trained arms on one loaded base: each arm's adapter attached to the same frozen mm-moe-small,
 * at most one enabled at a time, so the notebook compares base / LoRA / MoE-LoRA / MoSS on one model in
 * memory (an adapter switched off leaves the model computing exactly as without it).
 *
 *   const arms = ArmSet.load(session, { lora: dirOf('lora'), 'moe-lora': …, moss: … });
 *   arms.use('moss');   …   arms.use(null);   // the base
 *   arms.detach();                             // before session.dispose()
 */
import * as path from 'node:path';
import type { Session } from '../../session';
import { loadPeftAdapter } from '../../adapters/peft';
import type { LoRAHandle } from '../../adapters/attach';
import { ADAPTER_DIR } from './run-metrics';
import { requireWeights } from './ship-record';

/** What the figures and tables call the model with every adapter off. */
export const BASE_MODEL = 'base';

export class ArmSet {
  private readonly handles = new Map<string, LoRAHandle>();
  private current: string | null = null;

  private constructor(readonly session: Session) {}

  /**
   * Attaches the adapter of each run directory (`<dir>/adapter/`, PEFT) under its label, all switched off.
   * Labels are word characters and dashes, and not `base`. A shipped `full` run (no weights) is refused, saying so.
   */
  static load(session: Session, dirs: Readonly<Record<string, string>>): ArmSet {
    const set = new ArmSet(session);
    try {
      for (const [label, dir] of Object.entries(dirs)) {
        if (!/^[A-Za-z0-9_-]+$/.test(label) || label === BASE_MODEL) throw new Error(`moss.ArmSet: label ${JSON.stringify(label)} must be letters, digits, _ or - and not '${BASE_MODEL}'`);
        requireWeights(dir, 'moss.ArmSet');
        set.handles.set(label, loadPeftAdapter(session, path.join(dir, ADAPTER_DIR), { enabled: false, name: `arm-${label}` }));
      }
    } catch (err) {
      set.detach();
      throw err;
    }
    return set;
  }

  /** The labels, in the order given to load. */
  get labels(): string[] {
    return [...this.handles.keys()];
  }

  /** The models to compare: `base` and every label. */
  get models(): string[] {
    return [BASE_MODEL, ...this.labels];
  }

  /** The enabled label (`base` when none is). */
  get active(): string {
    return this.current ?? BASE_MODEL;
  }

  handle(label: string): LoRAHandle {
    const h = this.handles.get(label);
    if (!h) throw new Error(`moss.ArmSet: no arm '${label}' (arms: ${this.labels.join(', ') || 'none'})`);
    return h;
  }

  /** Enables exactly one arm's adapter (`base` or null: none). */
  use(model: string | null): void {
    const label = model === BASE_MODEL ? null : model;
    if (label !== null) this.handle(label);
    for (const [k, h] of this.handles) h.enabled = k === label;
    this.current = label;
  }

  /** Detaches every adapter (the session is left as loaded). */
  detach(): void {
    for (const h of this.handles.values()) if (h.isAttached) h.detach();
    this.handles.clear();
    this.current = null;
  }
}
