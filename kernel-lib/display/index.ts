/** Display layer: notebook outputs (tslab) with a plain-text fallback, Plotly figures, images, tables, progress, live decoding. */
export { defaultDisplay, inTslab, TextTarget } from './env';
export type { DisplayTarget, DisplayArea, Output } from './env';
export { initPlotly, showFigure, figureHtml, figureText, normalizeFigure, plotlyInjectionHtml, plotlyJsVersion } from './plotly';
export type { Figure, PlotlyTrace, ShowOptions } from './plotly';
export {
  routingHeatmap, showRoutingHeatmap, tokensByExperts, showTokensByExperts, expertUsage, expertUsageBars, showExpertUsageBars,
  coActivationCounts, coActivationMatrix, showCoActivationMatrix, tokenRouting,
} from './figures';
export type { RoutingHeatmapOptions, TokensByExpertsOptions, ExpertUsageOptions, CoActivationOptions, TokenRouting } from './figures';
export { lossCurves, showLossCurves } from './loss-curves';
export type { LossHistory, LossCurvesOptions } from './loss-curves';
export { toRgb, upscaleNearest, imagePng, imageGridPng, showImage, showImageGrid } from './image';
export type { PixelImage, PixelData, ImageOptions, GridOptions } from './image';
export { htmlTable, textTable, showTable } from './table';
export type { TableInput, TableOptions } from './table';
export { progress, progressCallback, Progress } from './progress';
export type { ProgressOptions, ProgressInfo } from './progress';
export { CodePaletteRenderer } from './patch-renderer';
export type { PatchRenderer } from './patch-renderer';
export { MODALITY_COLORS, codeColor, viridis } from './colors';
export { escapeHtml } from './html';
export { liveDecode } from './live-decode';
export type { LiveDecodeOptions, LiveDecodeResult, LiveDecodeSession } from './live-decode';
export type { LiveImage } from './live-view';
export { liveDiffusion } from './live-diffusion';
export type { LiveDiffusionOptions, LiveDiffusionResult } from './live-diffusion';
