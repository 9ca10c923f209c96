/** Small HTML helpers shared by the display modules: escaping, ids, embedding data. */

/** Escapes text for HTML element content and attribute values (quotes included). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}
const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** An attribute value that keeps line breaks (tooltips): escaped, with newlines as `&#10;`. */
export function escapeAttr(s: string): string {
  return escapeHtml(s).replace(/\r?\n/g, '&#10;');
}

/**
 * JSON that is safe inside an inline `<script>`: `<`, `>` and `&` (which only occur inside JSON strings)
 * become \u escapes, so no `</script>` or `<!--` can end or confuse the script element.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A unique-enough DOM id: outputs of a whole notebook share one page in nbconvert's HTML. */
export function domId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export function pngDataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64')}`;
}

/** Control characters (other than newline) as their visible Unicode "control pictures" (U+2400…). */
export function controlPictures(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, (c) => (c === '\u007f' ? '\u2421' : String.fromCharCode(0x2400 + c.charCodeAt(0))));
}
