/** The widget's CSS, added to the page once and scoped under .sbw so it neither leaks nor inherits surprises. */
const CSS = `
.sbw{position:relative;font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;background:#fff;
  border:1px solid #e5e7eb;border-radius:10px;padding:12px 14px;max-width:980px;box-sizing:border-box}
.sbw *{box-sizing:border-box}
.sbw [hidden]{display:none!important}
.sbw-head{display:flex;align-items:center;gap:10px;margin-bottom:10px}
.sbw-title{font-weight:600;font-size:14px}
.sbw-info{color:#6b7280;font-size:12px;flex:1;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.sbw-pill{font-size:11px;padding:2px 8px;border-radius:999px;background:#f3f4f6;color:#374151;white-space:nowrap}
.sbw-pill[data-kind=connected]{background:#dcfce7;color:#166534}
.sbw-pill[data-kind=unreachable],.sbw-pill[data-kind=refused]{background:#fee2e2;color:#991b1b}
.sbw-pill[data-kind=reconnecting]{background:#fef3c7;color:#92400e}
.sbw-banner{border-radius:8px;padding:8px 10px;margin-bottom:10px;font-size:12.5px;background:#fef2f2;color:#7f1d1d;border:1px solid #fecaca}
.sbw-banner code{background:#fff;padding:0 3px;border-radius:3px}
.sbw-banner button{margin-left:8px}
.sbw-prompt-row{display:flex;gap:8px;align-items:stretch}
.sbw-prompt{flex:1;resize:vertical;min-height:56px;font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;padding:7px 9px;
  border:1px solid #d1d5db;border-radius:8px;outline:none;color:#111827;background:#fff}
.sbw-prompt:focus{border-color:#6366f1;box-shadow:0 0 0 2px #e0e7ff}
.sbw-prompt-tools{display:flex;flex-direction:column;gap:6px;width:150px}
.sbw select,.sbw input[type=number]{font:12px system-ui,sans-serif;border:1px solid #d1d5db;border-radius:6px;padding:4px 6px;background:#fff;color:#111827}
.sbw-parts{display:flex;flex-wrap:wrap;gap:4px;margin:6px 0 8px;min-height:20px;align-items:center}
.sbw-parts-label{color:#9ca3af;font-size:11px;margin-right:2px}
.sbw-part{font-size:11px;background:#eff6ff;color:#1e3a8a;border-radius:4px;padding:1px 6px;display:inline-flex;align-items:center;gap:4px;white-space:pre}
.sbw-part-img{background:#fffbeb;color:#92400e}
.sbw-part-bad{background:#fef2f2;color:#991b1b}
.sbw-thumb{width:14px;height:14px;image-rendering:pixelated;border-radius:2px}
.sbw-controls{display:flex;flex-wrap:wrap;gap:6px 12px;align-items:flex-end;padding:8px 0;border-top:1px solid #f3f4f6;border-bottom:1px solid #f3f4f6}
.sbw-field{display:flex;flex-direction:column;font-size:11px;color:#6b7280;gap:2px}
.sbw-field input[type=number]{width:74px}
.sbw-field input[data-param=maxNewTokens]{width:88px}
.sbw-check{flex-direction:row;align-items:center;gap:5px;padding-bottom:5px}
.sbw-spacer{flex:1}
.sbw-btn{font:600 12.5px system-ui,sans-serif;border-radius:7px;padding:6px 14px;border:1px solid #d1d5db;background:#fff;color:#111827;cursor:pointer}
.sbw-btn:disabled{opacity:.45;cursor:default}
.sbw-run{background:#4f46e5;border-color:#4f46e5;color:#fff}
.sbw-stop{background:#fff;border-color:#ef4444;color:#b91c1c}
.sbw-status{font-size:12px;color:#6b7280;margin:8px 0 4px;min-height:17px}
.sbw-status[data-error]{color:#b91c1c}
.sbw-stream{position:relative}
.sbw-tokens{display:flex;flex-wrap:wrap;gap:3px;max-height:132px;overflow-y:auto;padding:6px;border:1px solid #f3f4f6;border-radius:8px;background:#fafafa;min-height:38px}
.sbw-empty{color:#9ca3af;font-size:12px;padding:2px}
.sbw-tok{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;padding:1px 5px;border-radius:4px;cursor:default;white-space:pre;
  background:#eff6ff;color:#1e3a8a;border:1px solid #dbeafe}
.sbw-tok:hover{outline:2px solid #6366f1}
.sbw-tok-image{background:var(--sbw-code);color:#fff;border-color:transparent;text-shadow:0 0 2px rgba(0,0,0,.6);min-width:22px;text-align:center}
.sbw-tok-special{background:#f3f4f6;color:#6b7280;border-color:#e5e7eb;font-style:italic}
.sbw-tip{position:absolute;z-index:10;width:max-content;min-width:260px;max-width:min(560px,100%);background:#111827;color:#f9fafb;border-radius:8px;padding:8px 10px;font-size:11.5px;
  box-shadow:0 6px 20px rgba(0,0,0,.2);pointer-events:none}
.sbw-tip-head{font-weight:600;margin-bottom:2px;white-space:pre-wrap;word-break:break-all}
.sbw-tip-alts{color:#9ca3af;margin-bottom:6px;white-space:pre}
.sbw-tip-row{display:flex;align-items:flex-end;gap:6px;min-height:22px;padding:2px 0}
.sbw-tip-layer{flex:none;width:24px;color:#9ca3af}
.sbw-tip-bars{flex:none;display:flex;align-items:flex-end;gap:1px;height:18px}
.sbw-tip-experts{flex:1;min-width:0;display:flex;flex-wrap:wrap;gap:0 8px;line-height:16px}
.sbw-tip-expert{white-space:nowrap}
.sbw-bar{display:inline-block;width:var(--sbw-bar-w,4px);background:#4b5563}
.sbw-bar-on{background:#fbbf24}
.sbw-panels[hidden]{display:none}
.sbw-panels{display:flex;flex-wrap:wrap;gap:12px;margin-top:10px}
.sbw-panel{border:1px solid #f3f4f6;border-radius:8px;padding:8px 10px}
.sbw-panel[hidden]{display:none}
.sbw-panel-wide{flex:1;min-width:240px}
.sbw-panel-title{font-size:11.5px;font-weight:600;color:#374151;margin-bottom:6px;display:flex;align-items:center;gap:6px}
.sbw-mini-select{font-size:11px!important;padding:1px 4px!important}
.sbw-caption{font-size:11px;color:#6b7280;margin-top:4px}
.sbw-legend{display:flex;align-items:center;gap:5px;color:#9ca3af}
.sbw-ramp{display:inline-block;width:48px;height:8px;border-radius:2px;background:linear-gradient(90deg,#440154,#3e4a89,#26828e,#35b779,#fde725)}
.sbw-heatmap,.sbw-image{display:block}
.sbw-image{border-radius:4px;image-rendering:pixelated}
.sbw-usage{display:flex;align-items:flex-end;gap:4px;height:84px;overflow-x:auto}
.sbw-ucol{display:flex;flex-direction:column;align-items:center;min-width:12px}
.sbw-ubars{display:flex;align-items:flex-end;gap:1px;height:66px}
.sbw-ubar{display:inline-block;width:6px;border-radius:2px 2px 0 0;min-height:1px}
.sbw-ulabel{font-size:10px;color:#9ca3af}
.sbw-key{display:inline-flex;align-items:center;gap:4px;margin-right:10px}
.sbw-key i{display:inline-block;width:9px;height:9px;border-radius:2px}
`;

export function injectStyle(doc: Document): void {
  if (doc.getElementById('sbw-style')) return;
  const s = doc.createElement('style');
  s.id = 'sbw-style';
  s.textContent = CSS;
  doc.head.append(s);
}
