/** What a session brings to the widget server: the session, named images, and an optional image coder. */
import type { Session } from '../session';
import type { ImageCodes } from '../tokenizer';

/** Pixels, row-major RGB: height × width × 3 bytes. */
export interface DecodedImage {
  height: number;
  width: number;
  rgb: Uint8Array;
}

/**
 * Turns pictures into VQ codes and back. The VQ-VAE does not exist yet, so it is an option: without
 * `encodePng` the widget's upload control is disabled (with a tooltip saying why); without `decode`
 * the widget colours generated codes with a deterministic palette instead of receiving RGB patches.
 */
export interface ImageCoder {
  encodePng(png: Uint8Array): Promise<ImageCodes>;
  /**
   * Pixels of a whole code grid (codes not generated yet are 0). The image's pixel size must be a
   * multiple of the grid so each code owns one patch. Called once per generated code: the server
   * sends that code's patch.
   */
  decode?(image: ImageCodes): Promise<DecodedImage> | DecodedImage;
}

/** An image the widget's picker offers, as a code grid (e.g. from the dataset). */
export interface NamedImage {
  name: string;
  image: ImageCodes;
}

export interface WidgetSessionOptions {
  images?: NamedImage[];
  coder?: ImageCoder;
}

/** A generation in flight on a session (at most one per session). */
export interface Running {
  id: string;
  gen: number;
  /** The registration it was started through. */
  key: string;
  /** The connection that started it; only it may cancel, and its closing aborts it. */
  owner: object;
  abort: AbortController;
}

export interface SessionEntry {
  key: string;
  session: Session;
  images: Map<string, ImageCodes>;
  coder?: ImageCoder;
  /** Shared by every registration of the same Session: one generation per Session, whichever widget asks. */
  lock: { running: Running | null };
}
