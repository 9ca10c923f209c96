/**
 * The prompt area: a textarea where images sit as ⟦name⟧ markers at the cursor, so text and images
 * interleave in the order they are written. Images come from the session's list (sent by reference)
 * or from a PNG upload that the kernel turns into codes (sent inline). A strip under the textarea
 * shows the parts as they will be sent.
 */
import type { WelcomeMsg, WireImage, WirePromptPart } from '../../kernel-lib/server/protocol';
import { codeColor, css } from './colors';
import { h } from './dom';

const MARKER = /⟦([^⟦⟧]+)⟧/g;

export class PromptEditor {
  readonly root: HTMLElement;
  readonly textarea: HTMLTextAreaElement;
  private readonly picker: HTMLSelectElement;
  private readonly uploadButton: HTMLButtonElement;
  private readonly fileInput: HTMLInputElement;
  private readonly strip: HTMLElement;
  private refs = new Set<string>();
  /** Uploaded images, by the name their marker uses. */
  private readonly inline = new Map<string, WireImage>();
  private nextUpload = 1;

  constructor(initial: string, private readonly onUpload: (file: File, upload: number) => void) {
    this.textarea = h('textarea', { class: 'sbw-prompt', rows: 3, placeholder: 'Type a prompt… insert images with the menu on the right', spellcheck: false });
    this.textarea.value = initial;
    this.picker = h('select', { class: 'sbw-picker', title: 'Insert an image from the session’s list at the cursor' }, h('option', { value: '', text: 'Insert image…' }));
    this.picker.disabled = true;
    this.fileInput = h('input', { type: 'file', accept: 'image/png', hidden: true });
    this.uploadButton = h('button', { class: 'sbw-btn', type: 'button', text: 'Upload PNG' });
    this.uploadButton.disabled = true;
    this.strip = h('div', { class: 'sbw-parts' });
    this.picker.onchange = () => {
      if (this.picker.value) this.insertMarker(this.picker.value);
      this.picker.value = '';
    };
    this.uploadButton.onclick = () => this.fileInput.click();
    this.fileInput.onchange = () => {
      const f = this.fileInput.files?.[0];
      if (f) this.onUpload(f, this.nextUpload++);
      this.fileInput.value = '';
    };
    this.textarea.oninput = () => this.renderStrip();
    const tools = h('div', { class: 'sbw-prompt-tools' }, this.picker, this.uploadButton, this.fileInput);
    this.root = h('div', { class: 'sbw-prompt-box' }, h('div', { class: 'sbw-prompt-row' }, this.textarea, tools), this.strip);
    this.renderStrip();
  }

  /** Fills the picker and the upload control from the server's welcome. */
  configure(w: WelcomeMsg): void {
    this.refs = new Set(w.images.map((i) => i.name));
    this.picker.replaceChildren(h('option', { value: '', text: w.images.length ? 'Insert image…' : 'No images listed' }));
    for (const im of w.images) this.picker.append(h('option', { value: im.name, text: `${im.name} (${im.width}×${im.height})` }));
    this.picker.disabled = w.images.length === 0;
    this.picker.title = w.images.length
      ? 'Insert an image from the session’s list at the cursor'
      : 'No images were given: promptWidget(session, { images: [{ name, image: { height, width, codes } }] })';
    this.uploadButton.disabled = !w.upload.enabled;
    this.uploadButton.title = w.upload.enabled ? 'Encode a PNG into image codes and insert it' : (w.upload.reason ?? 'Uploads are not available');
    this.renderStrip();
  }

  /** An uploaded PNG came back as codes. */
  addUploaded(upload: number, image: WireImage): void {
    const name = `upload ${upload}`;
    this.inline.set(name, image);
    this.insertMarker(name);
  }

  /** The prompt as wire parts; an error text when a marker names an unknown image. */
  parts(): WirePromptPart[] | string {
    const text = this.textarea.value;
    const parts: WirePromptPart[] = [];
    let last = 0;
    for (const m of text.matchAll(MARKER)) {
      const at = m.index ?? 0;
      if (at > last) parts.push({ text: text.slice(last, at) });
      const name = m[1];
      const img = this.inline.get(name);
      if (img) parts.push({ image: img });
      else if (this.refs.has(name)) parts.push({ imageRef: name });
      else return `unknown image ⟦${name}⟧ in the prompt`;
      last = at + m[0].length;
    }
    if (last < text.length || parts.length === 0) parts.push({ text: text.slice(last) });
    return parts;
  }

  setEnabled(on: boolean): void {
    this.textarea.readOnly = !on;
  }

  private insertMarker(name: string): void {
    const t = this.textarea;
    const at = t.selectionStart ?? t.value.length;
    const marker = `⟦${name}⟧`;
    t.value = t.value.slice(0, at) + marker + t.value.slice(t.selectionEnd ?? at);
    t.selectionStart = t.selectionEnd = at + marker.length;
    t.focus();
    this.renderStrip();
  }

  private renderStrip(): void {
    const parts = this.parts();
    if (typeof parts === 'string') {
      this.strip.replaceChildren(h('span', { class: 'sbw-part sbw-part-bad', text: parts }));
      return;
    }
    const chips = parts
      .filter((p) => !('text' in p) || p.text.trim() !== '')
      .map((p) => {
        if ('text' in p) return h('span', { class: 'sbw-part', title: p.text, text: p.text.length > 40 ? `${p.text.slice(0, 39)}…` : p.text });
        if ('imageRef' in p) return h('span', { class: 'sbw-part sbw-part-img', text: `▣ ${p.imageRef}` });
        return h('span', { class: 'sbw-part sbw-part-img' }, thumbnail(p.image), `${p.image.width}×${p.image.height}`);
      });
    this.strip.replaceChildren(h('span', { class: 'sbw-parts-label', text: 'sends' }), ...chips);
  }
}

/** A small palette rendering of a code grid. */
function thumbnail(img: WireImage): HTMLCanvasElement {
  const c = h('canvas', { class: 'sbw-thumb', width: img.width, height: img.height });
  const ctx = c.getContext('2d');
  if (ctx) {
    const data = ctx.createImageData(img.width, img.height);
    img.codes.forEach((code, i) => {
      const [r, g, b] = codeColor(code);
      data.data.set([r, g, b, 255], i * 4);
    });
    ctx.putImageData(data, 0, 0);
  }
  c.style.background = css(codeColor(0));
  return c;
}
