/** What a session brings to the widget server: the session, named images, and an optional image coder. */
import type { Session } from '../session';
import type { ImageCodes } from '../tokenizer';
import type { ImageCoder } from '../image/types';

export type { ImageCoder };

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
