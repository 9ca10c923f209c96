/**
 * The browser bundle's entry: esbuild wraps it as an IIFE that sets `window.SwitchboardWidget`, which
 * the notebook output (kernel-lib/server/page.ts) calls as `SwitchboardWidget.render({ el, port, token, session })`.
 */
import { PROTOCOL_VERSION } from '../../kernel-lib/server/protocol';

export { render } from './widget';
export type { RenderOptions } from './widget';
export const protocolVersion = PROTOCOL_VERSION;
