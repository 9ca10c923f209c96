/**
 * Binary frames of the widget protocol (shared by server and browser; no Node or DOM APIs).
 * Numbers travel as typed-array bytes, not JSON arrays: a routing row is 2·L·E floats per token.
 *
 * Header, 24 bytes, little-endian:
 *   offset  size  field
 *   0       4     magic  'S' 'W' 'B' PROTOCOL_VERSION (0x53 0x57 0x42 0x01)
 *   4       1     kind   1 routing · 2 image patch · 3 PNG upload (client → server)
 *   5       3     reserved, 0
 *   8       4     gen    u32 generation number (from `started`; 0 for uploads)
 *   12      4     step   u32 step index (the upload number for uploads)
 *   16      2×4   d0 d1 d2 d3  u16 dimensions, meaning per kind (below)
 *   24      …     payload (24 is a multiple of 4 and 8, so Float32Array views need no copy)
 *
 * kind 1 routing:  d0 = L layers, d1 = E experts. Payload Float32 [2][L][E]: router probabilities,
 *                  then gate weights scattered densely (0 for experts not chosen).
 * kind 2 patch:    d0 = grid row, d1 = grid col, d2 = patch height px, d3 = patch width px.
 *                  Payload Uint8 [d2][d3][3] RGB. d2 = d3 = 0 when the decoder is unavailable.
 * kind 3 upload:   d0..d3 = 0. Payload: the PNG file's bytes.
 */
import { PROTOCOL_VERSION } from './protocol';

export const HEADER_BYTES = 24;
export const MAGIC = [0x53, 0x57, 0x42, PROTOCOL_VERSION] as const;
export const FRAME = { routing: 1, patch: 2, upload: 3 } as const;
export type FrameKind = (typeof FRAME)[keyof typeof FRAME];

export interface FrameHeader {
  kind: number;
  gen: number;
  step: number;
  dims: [number, number, number, number];
}

export function encodeFrame(h: FrameHeader, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.byteLength);
  const v = new DataView(out.buffer);
  MAGIC.forEach((b, i) => v.setUint8(i, b));
  v.setUint8(4, h.kind);
  v.setUint32(8, h.gen >>> 0, true);
  v.setUint32(12, h.step >>> 0, true);
  h.dims.forEach((d, i) => v.setUint16(16 + 2 * i, d, true));
  out.set(payload, HEADER_BYTES);
  return out;
}

/** The header of a frame, or the exact reason it is not one. */
export function decodeHeader(bytes: Uint8Array): FrameHeader | string {
  if (bytes.byteLength < HEADER_BYTES) return `binary frame is ${bytes.byteLength} bytes, shorter than the ${HEADER_BYTES}-byte header`;
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== MAGIC[i]) return `binary frame does not start with the magic bytes SWB\\x0${PROTOCOL_VERSION}`;
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  return {
    kind: v.getUint8(4),
    gen: v.getUint32(8, true),
    step: v.getUint32(12, true),
    dims: [v.getUint16(16, true), v.getUint16(18, true), v.getUint16(20, true), v.getUint16(22, true)],
  };
}

export function payloadOf(bytes: Uint8Array): Uint8Array {
  return bytes.subarray(HEADER_BYTES);
}

/** probs and gates are [L·E] row-major (layer-major). */
export function routingFrame(gen: number, step: number, L: number, E: number, probs: Float32Array, gates: Float32Array): Uint8Array {
  const body = new Float32Array(2 * L * E);
  body.set(probs.subarray(0, L * E), 0);
  body.set(gates.subarray(0, L * E), L * E);
  return encodeFrame({ kind: FRAME.routing, gen, step, dims: [L, E, 0, 0] }, new Uint8Array(body.buffer));
}

export interface RoutingRow {
  gen: number;
  step: number;
  layers: number;
  experts: number;
  probs: Float32Array; // [L, E]
  gates: Float32Array; // [L, E]
}

export function readRouting(bytes: Uint8Array): RoutingRow | string {
  const h = decodeHeader(bytes);
  if (typeof h === 'string') return h;
  const [L, E] = h.dims;
  const n = L * E;
  if (h.kind !== FRAME.routing || bytes.byteLength !== HEADER_BYTES + 8 * n) return 'not a routing frame of the stated size';
  // Copy so the views are aligned whatever the receiving buffer's offset is.
  const body = new Float32Array(bytes.slice(HEADER_BYTES).buffer);
  return { gen: h.gen, step: h.step, layers: L, experts: E, probs: body.subarray(0, n), gates: body.subarray(n, 2 * n) };
}

export function patchFrame(gen: number, step: number, row: number, col: number, h: number, w: number, rgb: Uint8Array): Uint8Array {
  return encodeFrame({ kind: FRAME.patch, gen, step, dims: [row, col, h, w] }, rgb.subarray(0, h * w * 3));
}

export interface Patch {
  gen: number;
  step: number;
  row: number;
  col: number;
  height: number;
  width: number;
  rgb: Uint8Array; // [height, width, 3]
}

export function readPatch(bytes: Uint8Array): Patch | string {
  const h = decodeHeader(bytes);
  if (typeof h === 'string') return h;
  const [row, col, height, width] = h.dims;
  if (h.kind !== FRAME.patch || bytes.byteLength !== HEADER_BYTES + height * width * 3) return 'not a patch frame of the stated size';
  return { gen: h.gen, step: h.step, row, col, height, width, rgb: bytes.subarray(HEADER_BYTES) };
}

export function uploadFrame(upload: number, png: Uint8Array): Uint8Array {
  return encodeFrame({ kind: FRAME.upload, gen: 0, step: upload, dims: [0, 0, 0, 0] }, png);
}
