/**
 * HTML that starts the browser widget: the notebook output (bundle inlined once per kernel, later
 * outputs reuse `window.SwitchboardWidget`) and the stand-alone page the server itself serves.
 */

export interface WidgetConfig {
  port: number;
  token: string;
  session: string;
  /** Initial prompt text and parameters for the controls. */
  defaults?: Record<string, unknown>;
}

/** JSON that is safe inside a <script> element. */
function scriptJson(x: unknown): string {
  return JSON.stringify(x).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** JavaScript source that is safe inside a <script> element (`</script` would end it early). */
export function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1');
}

/**
 * A notebook output. With `bundle`, the widget code comes inline; without, the output expects it
 * already loaded in the page, and if it is not (the page was reloaded since) it fetches it from the
 * kernel's server — and says plainly what to do when that cannot be reached either.
 */
export function widgetHtml(elementId: string, cfg: WidgetConfig, bundle?: string): string {
  const inline = bundle === undefined ? '' : `<script>${scriptSafe(bundle)}</script>\n`;
  return `<div id="${elementId}" class="sbw-host"></div>
${inline}<script>
(function () {
  var cfg = ${scriptJson(cfg)};
  var el = document.getElementById(${scriptJson(elementId)});
  if (!el) return;
  function go() { cfg.el = el; window.SwitchboardWidget.render(cfg); }
  if (window.SwitchboardWidget) return go();
  var s = document.createElement('script');
  s.src = 'http://127.0.0.1:' + cfg.port + '/widget.js';
  s.onload = go;
  s.onerror = function () {
    el.textContent = 'Switchboard: the widget code is not loaded in this page and the kernel at 127.0.0.1:' + cfg.port +
      ' cannot be reached (a remote Jupyter, a proxy, or a restarted kernel). Re-run the cell, or use liveDecode(session, prompt), ' +
      'which shows routing through the notebook itself.';
  };
  document.head.appendChild(s);
})();
</script>`;
}

/** The page at http://127.0.0.1:PORT/ — session and token come in the URL fragment, which is never sent to a server. */
export function standalonePage(port: number): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Switchboard prompt widget</title></head>
<body style="margin:16px;background:#fff">
<div id="sb"></div>
<script src="/widget.js"></script>
<script>
(function () {
  var el = document.getElementById('sb');
  var p = new URLSearchParams(location.hash.slice(1));
  if (!window.SwitchboardWidget) { el.textContent = 'The widget bundle is missing on the server; run npm run setup.'; return; }
  window.SwitchboardWidget.render({ el: el, port: ${port}, token: p.get('token') || '', session: p.get('session') || '' });
})();
</script>
</body></html>
`;
}
