/**
 * Colours: the same functions as the notebook displays (kernel-lib/display/colors.ts), bundled into
 * the widget, so a code or a probability looks the same in the widget, in liveDecode and in figures.
 */
import { codeColor, viridis, MODALITY_COLORS } from '../../kernel-lib/display/colors';

export { codeColor, viridis };
export const MODALITY_COLOR = MODALITY_COLORS;
export const css = ([r, g, b]: [number, number, number]): string => `rgb(${r},${g},${b})`;
