/** Sampling controls and Run / Stop. Values are read when Run is pressed and sent as generate.params. */
import type { GenerateParams, WelcomeMsg } from '../../kernel-lib/server/protocol';
import { h } from './dom';

interface NumberField {
  key: Exclude<keyof GenerateParams, 'startImage'>;
  label: string;
  title: string;
  min: number;
  max: number;
  step: number;
  /** The box's initial value; null = empty, which leaves the parameter out (the library decides). */
  value: number | null;
  integer: boolean;
}

const FIELDS: NumberField[] = [
  {
    key: 'maxNewTokens', label: 'max tokens', min: 0, max: 4096, step: 1, value: null, integer: true,
    title: 'Stop after this many new tokens. Empty: the library\'s default, one whole image after "start with image", else 32 tokens',
  },
  { key: 'temperature', label: 'temperature', title: '0 = greedy', min: 0, max: 5, step: 0.1, value: 1, integer: false },
  { key: 'topK', label: 'top-k', title: 'Sample among the k most likely tokens (0 = all)', min: 0, max: 100000, step: 1, value: 0, integer: true },
  { key: 'topP', label: 'top-p', title: 'Nucleus: the smallest set reaching this probability (1 = all)', min: 0.01, max: 1, step: 0.05, value: 1, integer: false },
  { key: 'seed', label: 'seed', title: 'Same seed, same tokens', min: 0, max: 4294967295, step: 1, value: 0, integer: true },
  { key: 'cfgScale', label: 'CFG', title: 'Classifier-free guidance scale for image codes (1 = off)', min: 0, max: 20, step: 0.5, value: 1, integer: false },
  { key: 'paceMs', label: 'slow-mo ms', title: 'At least this many ms per token, to watch routing (0 = full speed)', min: 0, max: 2000, step: 10, value: 0, integer: true },
];

export class Controls {
  readonly root: HTMLElement;
  readonly run: HTMLButtonElement;
  readonly stop: HTMLButtonElement;
  private readonly inputs = new Map<string, HTMLInputElement>();
  private readonly startImage: HTMLInputElement;
  private readonly imageToggle: HTMLElement;
  /** The notebook's promptWidget(…, { params: { startImage } }), or the user's click, wins over the model's default. */
  private startImageChosen: boolean;
  private budget: WelcomeMsg['budget'] | null = null;

  constructor(defaults: Record<string, unknown>, onRun: () => void, onStop: () => void) {
    const fields = FIELDS.map((f) => {
      const d = defaults[f.key];
      const value = typeof d === 'number' ? d : f.value;
      const input = h('input', { type: 'number', min: f.min, max: f.max, step: f.step, value: value ?? undefined, 'data-param': f.key });
      this.inputs.set(f.key, input);
      return h('label', { class: 'sbw-field', title: f.title }, h('span', { text: f.label }), input);
    });
    this.startImage = h('input', { type: 'checkbox', 'data-param': 'startImage' });
    this.startImageChosen = typeof defaults.startImage === 'boolean';
    this.startImage.checked = defaults.startImage === true;
    this.startImage.onchange = () => {
      this.startImageChosen = true;
      this.showBudget();
    };
    this.imageToggle = h('label', { class: 'sbw-field sbw-check', title: 'Open an image after the prompt, so generation starts with image codes' }, this.startImage, h('span', { text: 'start with image' }));
    this.run = h('button', { class: 'sbw-btn sbw-run', type: 'button', text: 'Run' });
    this.stop = h('button', { class: 'sbw-btn sbw-stop', type: 'button', text: 'Stop' });
    this.run.onclick = onRun;
    this.stop.onclick = onStop;
    this.root = h('div', { class: 'sbw-controls' }, ...fields, this.imageToggle, h('span', { class: 'sbw-spacer' }), this.run, this.stop);
    this.setRunning(false, false);
  }

  /**
   * Defaults that depend on the model: a multimodal model starts with "start with image" ticked (unless
   * the notebook or the user chose); a text-only one cannot start an image. The empty max-tokens box
   * shows the budget the library will use.
   */
  configure(w: WelcomeMsg): void {
    this.budget = w.budget;
    const images = w.session.imageGrid !== null;
    if (!images) this.startImage.checked = false;
    else if (!this.startImageChosen) this.startImage.checked = true;
    this.startImage.disabled = !images;
    this.imageToggle.title = images
      ? 'Open an image after the prompt, so generation starts with image codes'
      : 'This model has no image vocabulary, so it cannot start an image';
    this.showBudget();
  }

  /** The parameters, or an error text naming the first bad field. */
  params(): GenerateParams | string {
    const p: GenerateParams = {};
    for (const f of FIELDS) {
      const raw = (this.inputs.get(f.key) as HTMLInputElement).value.trim();
      if (raw === '' && f.value === null) continue; // left to the library
      const v = Number(raw);
      if (raw === '' || !Number.isFinite(v) || v < f.min || v > f.max || (f.integer && !Number.isInteger(v))) {
        return `${f.label} must be ${f.integer ? 'an integer' : 'a number'} in [${f.min}, ${f.max}]${f.value === null ? ', or empty' : ''}`;
      }
      p[f.key] = v;
    }
    p.startImage = this.startImage.checked;
    return p;
  }

  setRunning(running: boolean, connected: boolean): void {
    this.run.disabled = running || !connected;
    this.stop.disabled = !running;
  }

  private showBudget(): void {
    const input = this.inputs.get('maxNewTokens') as HTMLInputElement;
    const b = this.budget;
    if (!b) return;
    const n = this.startImage.checked && b.startImage !== null ? b.startImage : b.text;
    input.placeholder = `auto: ${n}`;
  }
}
