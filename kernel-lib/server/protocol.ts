/**
 * The prompt widget's wire protocol, version 1: JSON text frames for control, binary frames
 * (frames.ts) for routing heatmap rows and image patches. This file is shared by the kernel-side
 * server and the browser bundle (widgets/), so it uses no Node or DOM APIs.
 *
 *   client                                   server
 *   hello {version, token, session}   ──►    (wrong/missing token → close 4001)
 *                                     ◄──    welcome {session info, images, upload, limits}
 *   generate {id, prompt, params}     ──►
 *                                     ◄──    started {id, gen, promptTokens}
 *                                     ◄──    step {…} + routing frame (+ patch frame), per token
 *   cancel {id}                       ──►
 *                                     ◄──    done {id, gen, stopReason, steps, ms}
 *   binary upload frame (PNG)         ──►
 *                                     ◄──    image {upload, height, width, codes}
 *   anything wrong after hello        ◄──    error {code, message, id?}  (the connection stays open)
 *
 * One generation per session at a time: a second `generate` gets error `busy` (no queue; see server.ts).
 */
import type { GridPos, Modality } from '../tokenizer/prompt';

export const PROTOCOL_VERSION = 1;

/** Close codes. 1007 and 1009 are sent by `ws` itself; 4xxx are ours (the private-use range). */
export const CLOSE = {
  /** The server is shutting down (kernel exit, `WidgetServer.close()`). */
  goingAway: 1001,
  /** A text frame that is not UTF-8. */
  invalidUtf8: 1007,
  /** The client let more than 32 MiB of replies pile up unread. */
  notReading: 1008,
  /** A frame larger than the server's maxPayload. */
  tooBig: 1009,
  /** More simultaneous connections than maxConnections. */
  tryAgainLater: 1013,
  /** First frame was not a hello, the token was missing or wrong, or no hello came in time. */
  unauthorized: 4001,
  /** hello.version is not PROTOCOL_VERSION. */
  badVersion: 4002,
  /** hello.session names no registered session, or the session was unregistered. */
  unknownSession: 4004,
} as const;

/** Bounds on what a client may send; the server refuses anything past them with a named field. */
export const LIMITS = {
  idChars: 64,
  textChars: 20_000,
  promptParts: 64,
  imageCodes: 65_536,
  imageRefChars: 200,
  maxNewTokens: 4096,
  /** Slow motion: at most this many ms between steps. */
  paceMs: 2000,
} as const;

// The tokenizer's vocabulary, re-exported so the browser side (widgets/) reads the same types.
export type { Modality, GridPos };
export interface WireImage {
  height: number;
  width: number;
  codes: number[];
}
/** A prompt part on the wire: text, an inline code grid, or a named image from the widget's list. */
export type WirePromptPart = { text: string } | { image: WireImage } | { imageRef: string };

export interface GenerateParams {
  maxNewTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  cfgScale?: number;
  /** Open an image after the prompt (<boi>), so generation starts with image codes. */
  startImage?: boolean;
  /** Minimum ms per step, to watch routing in slow motion (0 = as fast as the model goes). */
  paceMs?: number;
}

// ---- client → server
export interface HelloMsg {
  type: 'hello';
  version: number;
  token: string;
  session: string;
}
export interface GenerateMsg {
  type: 'generate';
  id: string;
  prompt: WirePromptPart[];
  params: GenerateParams;
}
export interface CancelMsg {
  type: 'cancel';
  id: string;
}
export type ClientMessage = HelloMsg | GenerateMsg | CancelMsg;

// ---- server → client
export interface SessionInfo {
  source: string;
  numLayers: number;
  numExperts: number;
  topK: number;
  vocabSize: number;
  maxPositions: number;
  numImageCodes: number;
  imageGrid: { height: number; width: number } | null;
}
export interface WelcomeMsg {
  type: 'welcome';
  version: number;
  session: SessionInfo;
  images: { name: string; height: number; width: number }[];
  upload: { enabled: boolean; reason?: string };
  /** True when the server sends decoded RGB patch frames; otherwise the widget colours codes itself. */
  patches: boolean;
  limits: { maxPayload: number; maxNewTokens: number; paceMs: number };
  /**
   * The library's token budget when generate.params has no maxNewTokens (Session.generate's
   * resolveMaxNewTokens): `text` without startImage, `startImage` after it (one whole image: its codes
   * and <eoi>; null when the session has no images). The widget shows it in the empty max-tokens box.
   */
  budget: { text: number; startImage: number | null };
}
export interface StartedMsg {
  type: 'started';
  id: string;
  gen: number;
  promptTokens: number;
}
export interface StepMsg {
  type: 'step';
  id: string;
  gen: number;
  index: number;
  position: number;
  tokenId: number;
  piece: string;
  modality: Modality;
  logprob: number;
  top: { piece: string; prob: number }[];
  /** For image codes: the code and where it sits. */
  code?: number;
  grid?: GridPos;
  forced?: boolean;
}
export type WireStopReason = 'eos' | 'stop-token' | 'max-new-tokens' | 'context-full' | 'aborted' | 'error';
export interface DoneMsg {
  type: 'done';
  id: string;
  gen: number;
  stopReason: WireStopReason;
  steps: number;
  ms: number;
}
export interface ImageMsg {
  type: 'image';
  upload: number;
  height: number;
  width: number;
  codes: number[];
}
export type ErrorCode =
  | 'bad-json' | 'bad-message' | 'unknown-type' | 'busy' | 'not-running' | 'bad-request'
  | 'generate-failed' | 'decode-failed' | 'bad-frame' | 'upload-unsupported' | 'upload-failed' | 'internal';
export interface ErrorMsg {
  type: 'error';
  code: ErrorCode;
  message: string;
  id?: string;
  upload?: number;
}
export type ServerMessage = WelcomeMsg | StartedMsg | StepMsg | DoneMsg | ImageMsg | ErrorMsg;

// ---- error texts (part of the protocol; tests pin them). Parsing is in parse.ts.
export type Parsed<T> = { ok: true; msg: T } | { ok: false; code: ErrorCode; message: string };

export const ERR = {
  badJson: 'frame is not valid JSON',
  notObject: 'message must be a JSON object with a string "type"',
  unknownType: (t: string) => `unknown message type ${show(t)}`,
  busy: (id: string) => `this session is already generating (request ${show(id)}); send cancel or wait for done`,
  notRunning: (id: string) => `no generation ${show(id)} is running on this connection`,
  helloTwice: 'hello was already accepted on this connection',
  unknownImage: (name: string) => `unknown image ${show(name)}`,
} as const;

/** A short, printable rendering of any value for error messages. */
export function show(x: unknown): string {
  if (x === undefined) return 'undefined';
  if (typeof x === 'number') return String(x);
  let s: string;
  try {
    s = JSON.stringify(x) ?? String(x);
  } catch {
    s = String(x);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
