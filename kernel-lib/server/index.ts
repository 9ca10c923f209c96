/** The widget server: protocol, binary frames, the ws server, and promptWidget. */
export { promptWidget, widgetServer, loadBundle, bundlePath } from './widget';
export type { PromptWidget, PromptWidgetOptions } from './widget';
export { WidgetServer, DEFAULT_MAX_PAYLOAD, LOCALHOST_ORIGIN } from './server';
export type { WidgetServerOptions } from './server';
export * from './protocol';
export { parseClientMessage } from './parse';
export * from './frames';
export type { ImageCoder, NamedImage, WidgetSessionOptions } from './types';
