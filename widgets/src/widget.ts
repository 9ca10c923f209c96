/**
 * The prompt widget, anywidget style: `render({ el, port, token, session }) => cleanup`. It wires the
 * websocket (link.ts) to the views: prompt, controls, token stream, routing heatmap, image canvas and
 * expert-usage bars. Root attributes (data-state, data-steps) let tests and users see where it is.
 */
import { FRAME, decodeHeader, readPatch, readRouting, uploadFrame, HEADER_BYTES } from '../../kernel-lib/server/frames';
import type { ServerMessage, WelcomeMsg } from '../../kernel-lib/server/protocol';
import { Controls } from './controls';
import { h } from './dom';
import { Heatmap, StepRecord } from './heatmap';
import { ImageCanvas } from './image-canvas';
import { Link, LinkStatus } from './link';
import { PromptEditor } from './prompt';
import { injectStyle } from './style';
import { TokenStream } from './tokens';
import { UsageBars } from './usage';

export interface RenderOptions {
  el: HTMLElement;
  port: number;
  token: string;
  session: string;
  /** Initial prompt text (`prompt`) and parameter values. */
  defaults?: Record<string, unknown>;
}

export function render(o: RenderOptions): () => void {
  injectStyle(document);
  const defaults = o.defaults ?? {};
  const url = `ws://127.0.0.1:${o.port}/ws`;
  let welcome: WelcomeMsg | null = null;
  let runCount = 0;
  /** The request in flight: sent (gen unknown yet) or started. */
  let current: { id: string; gen: number | null } | null = null;
  let records = new Map<number, StepRecord>();
  let hovering = false;
  /** The kernel's message when the current generation failed (its 'done' comes after). */
  let failure: string | null = null;

  const info = h('span', { class: 'sbw-info', text: url });
  const pill = h('span', { class: 'sbw-pill', text: 'connecting…' });
  const banner = h('div', { class: 'sbw-banner', hidden: true });
  const status = h('div', { class: 'sbw-status' });
  const heatmap = new Heatmap();
  const canvas = new ImageCanvas();
  const usage = new UsageBars();
  const tokens = new TokenStream((rec) => {
    hovering = rec !== null;
    heatmap.show(rec ?? latest(), rec !== null);
  });
  const prompt = new PromptEditor(typeof defaults.prompt === 'string' ? defaults.prompt : '', upload);
  const controls = new Controls(defaults, run, stop);
  // Hidden until the kernel has said what it serves: empty panels before that only look broken.
  const panels = h('div', { class: 'sbw-panels', hidden: true }, heatmap.root, canvas.root, usage.root);
  const root = h(
    'div',
    { class: 'sbw', 'data-state': 'connecting', 'data-steps': 0 },
    h('div', { class: 'sbw-head' }, h('span', { class: 'sbw-title', text: 'Switchboard · prompt' }), info, pill),
    banner,
    prompt.root,
    controls.root,
    status,
    tokens.root,
    panels,
  );
  o.el.replaceChildren(root);

  const link = new Link(url, o.token, o.session, { status: onStatus, message: onMessage, binary: onBinary });
  link.start();

  function latest(): StepRecord | null {
    let best: StepRecord | null = null;
    for (const r of records.values()) if (r.probs && (!best || r.index > best.index)) best = r;
    return best;
  }

  function say(text: string, error = false): void {
    status.textContent = text;
    if (error) status.dataset.error = '';
    else delete status.dataset.error;
  }

  function setState(state: string): void {
    root.dataset.state = state;
    controls.setRunning(current !== null, link.open && welcome !== null);
    prompt.setEnabled(current === null);
  }

  function onStatus(s: LinkStatus): void {
    pill.dataset.kind = s.kind;
    if (s.kind === 'connected') {
      banner.hidden = true;
      welcome = s.welcome;
      configure(s.welcome);
      pill.textContent = 'connected';
      return setState('idle');
    }
    if (current) {
      current = null; // the server aborts a generation whose connection is gone
      say('Connection lost; the generation was stopped.', true);
    }
    if (s.kind === 'connecting') pill.textContent = s.attempt === 0 ? 'connecting…' : `connecting (try ${s.attempt + 1})…`;
    else if (s.kind === 'reconnecting') {
      pill.textContent = `reconnecting in ${(s.retryInMs / 1000).toFixed(1)} s`;
      // A few failed tries in a row: most likely the kernel restarted, and a new kernel has a new port and token.
      if (s.attempt >= 3) showBanner(['Lost the kernel\'s widget server; still retrying. If the kernel was restarted, re-run the cell that made this widget.'], true);
    }
    else if (s.kind === 'unreachable') {
      pill.textContent = 'cannot reach kernel';
      showBanner(
        [
          h('strong', { text: 'Cannot reach the kernel' }),
          ` at ${url}. This widget talks to the kernel over a websocket on this computer's loopback address, which does not ` +
            `work when Jupyter runs on another machine or behind a proxy (JupyterHub, a remote server, VS Code remote, Colab), ` +
            `or when this page's origin is not allowed. Use `,
          h('code', { text: 'liveDecode(session, prompt)' }),
          ` instead: it shows the same routing through the notebook's own output. Retrying in ${Math.max(1, Math.round(s.retryInMs / 1000))} s.`,
        ],
        true,
      );
    } else if (s.kind === 'refused') {
      pill.textContent = 'refused';
      const why = s.code === 4004 ? 'this session is no longer served (closed, or the kernel restarted)' : s.reason || `close code ${s.code}`;
      showBanner([`The kernel refused this widget: ${why}. Re-run the cell that made it.`], false);
    }
    setState(s.kind);
  }

  function showBanner(content: (Node | string)[], retry: boolean): void {
    banner.replaceChildren(...content);
    if (retry) {
      const b = h('button', { class: 'sbw-btn', type: 'button', text: 'Retry now' });
      b.onclick = () => link.retryNow();
      banner.append(b);
    }
    banner.hidden = false;
  }

  function configure(w: WelcomeMsg): void {
    const s = w.session;
    info.textContent = `${s.source} · ${s.numLayers} layers × ${s.numExperts} experts, top-${s.topK}` + (s.imageGrid ? ` · images ${s.imageGrid.width}×${s.imageGrid.height}` : '');
    prompt.configure(w);
    controls.configure(w);
    heatmap.configure(s.numLayers, s.numExperts);
    tokens.configure(s.numExperts);
    canvas.configure(s.imageGrid);
    usage.configure(s.numLayers, s.numExperts);
    panels.hidden = false;
  }

  function run(): void {
    if (current || !welcome) return;
    const parts = prompt.parts();
    const params = controls.params();
    if (typeof parts === 'string') return say(parts, true);
    if (typeof params === 'string') return say(params, true);
    const id = `run-${++runCount}`;
    if (!link.send({ type: 'generate', id, prompt: parts, params })) return say('Not connected.', true);
    current = { id, gen: null };
    failure = null;
    // The previous run's output goes now, not when this one starts: if the kernel refuses this request,
    // what stays on screen must not look like its result.
    clearOutput('Waiting for the kernel…');
    say('Starting…');
    setState('running');
  }

  function clearOutput(note?: string): void {
    records = new Map();
    tokens.reset(note);
    canvas.reset();
    usage.reset();
    heatmap.show(null);
    delete root.dataset.stopAt;
    root.dataset.steps = '0';
  }

  function stop(): void {
    if (!current) return;
    link.send({ type: 'cancel', id: current.id });
    root.dataset.stopAt = String(tokens.count);
    controls.stop.disabled = true;
    say('Stopping…');
  }

  function upload(file: File, n: number): void {
    const limit = (welcome?.limits.maxPayload ?? 0) - HEADER_BYTES;
    if (file.size > limit) return say(`${file.name} is ${(file.size / 1048576).toFixed(1)} MiB, over the kernel's ${(limit / 1048576).toFixed(1)} MiB limit.`, true);
    say(`Encoding ${file.name}…`);
    file.arrayBuffer().then((buf) => {
      if (!link.sendBinary(uploadFrame(n, new Uint8Array(buf)))) say('Not connected.', true);
    }, () => say(`Could not read ${file.name}.`, true));
  }

  function onMessage(m: ServerMessage): void {
    switch (m.type) {
      case 'started':
        if (!current || current.id !== m.id) return;
        current.gen = m.gen;
        clearOutput();
        return say(`Running · prompt ${tokensText(m.promptTokens)}`);
      case 'step': {
        if (!current || current.gen !== m.gen) return;
        const rec: StepRecord = { index: m.index, piece: m.piece, modality: m.modality, tokenId: m.tokenId, logprob: m.logprob, top: m.top, code: m.code };
        records.set(m.index, rec);
        tokens.add(rec);
        if (m.grid && m.code !== undefined) canvas.paintCode(m.grid, m.code);
        root.dataset.steps = String(tokens.count);
        return say(`Running · ${tokensText(tokens.count)}`);
      }
      case 'done': {
        if (!current || current.id !== m.id) return;
        current = null;
        setState('idle');
        const took = `${tokensText(m.steps)} in ${(m.ms / 1000).toFixed(2)} s`;
        if (m.stopReason === 'error') return say(`Failed after ${took}: ${failure ?? 'the generation failed in the kernel'}`, true);
        if (m.stopReason === 'aborted') return say(`Stopped · ${took}`);
        return say(`Done · ${took} · ${m.stopReason}`);
      }
      case 'image':
        prompt.addUploaded(m.upload, { height: m.height, width: m.width, codes: m.codes });
        return say(`Inserted upload ${m.upload} (${m.width}×${m.height} codes).`);
      case 'error': {
        say(`${m.code}: ${m.message}`, true);
        if (current && m.id === current.id && m.code === 'generate-failed') failure = m.message; // 'done' follows
        if (current && m.id === current.id && (m.code === 'busy' || m.code === 'bad-request')) {
          current = null; // refused before it started
          tokens.reset('Nothing was generated: the kernel refused the request (the reason is above).');
          setState('idle');
        }
        return;
      }
      default:
        return;
    }
  }

  function onBinary(bytes: Uint8Array): void {
    const head = decodeHeader(bytes);
    if (typeof head === 'string' || !current || head.gen !== current.gen) return;
    if (head.kind === FRAME.routing) {
      const r = readRouting(bytes);
      const rec = typeof r === 'string' ? undefined : records.get(r.step);
      if (typeof r === 'string' || !rec) return;
      rec.probs = r.probs;
      rec.gates = r.gates;
      usage.add(rec.modality, r.gates);
      if (!hovering) heatmap.show(rec);
    } else if (head.kind === FRAME.patch) {
      const p = readPatch(bytes);
      if (typeof p !== 'string') canvas.paintPatch(p);
    }
  }

  // A notebook output can be cleared or re-rendered without telling us: close the socket then.
  const watch = setInterval(() => {
    if (!root.isConnected) cleanup();
  }, 2000);
  function cleanup(): void {
    clearInterval(watch);
    link.close();
    if (root.isConnected) root.remove();
  }
  return cleanup;
}

/** "1 token", "24 tokens". */
function tokensText(n: number): string {
  return `${n} ${n === 1 ? 'token' : 'tokens'}`;
}
