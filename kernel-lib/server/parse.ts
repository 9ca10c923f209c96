/**
 * Runtime validation of client frames (server side). Never throws: a bad frame becomes an error code
 * and an exact message naming the field, which the server sends back as `error`.
 */
import { seedProblem } from '../decode/seed';
import { ClientMessage, ERR, GenerateParams, LIMITS, Parsed, show, WireImage, WirePromptPart } from './protocol';

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

class Bad extends Error {}
const bad = (message: string): never => {
  throw new Bad(message);
};

function str(o: Record<string, unknown>, key: string, where: string, max: number, nonEmpty = true): string {
  const v = o[key];
  if (typeof v !== 'string' || (nonEmpty && v.length === 0) || v.length > max) {
    bad(`${where}.${key} must be a ${nonEmpty ? 'non-empty ' : ''}string of at most ${max} characters, got ${show(v)}`);
  }
  return v as string;
}

function num(o: Record<string, unknown>, key: string, where: string, lo: number, hi: number, integer: boolean): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  const okType = typeof v === 'number' && Number.isFinite(v) && (!integer || Number.isInteger(v));
  if (!okType || (v as number) < lo || (v as number) > hi) {
    bad(`${where}.${key} must be ${integer ? 'an integer' : 'a finite number'} in [${lo}, ${hi}], got ${show(v)}`);
  }
  return v as number;
}

function parseImage(x: unknown, where: string): WireImage {
  if (!isObj(x)) return bad(`${where} must be {height, width, codes}, got ${show(x)}`);
  const height = num(x, 'height', where, 1, 4096, true);
  const width = num(x, 'width', where, 1, 4096, true);
  if (height === undefined || width === undefined) return bad(`${where} must be {height, width, codes}, got ${show(x)}`);
  const codes = x.codes;
  if (!Array.isArray(codes) || codes.length > LIMITS.imageCodes || codes.length !== height * width) {
    return bad(`${where}.codes must be an array of height×width = ${height * width} integers (at most ${LIMITS.imageCodes})`);
  }
  for (let i = 0; i < codes.length; i++) {
    if (!Number.isInteger(codes[i]) || codes[i] < 0) bad(`${where}.codes[${i}] must be an integer ≥ 0, got ${show(codes[i])}`);
  }
  return { height, width, codes: codes as number[] };
}

function parsePart(x: unknown, i: number): WirePromptPart {
  const where = `generate.prompt[${i}]`;
  if (!isObj(x)) return bad(`${where} must be {text}, {image} or {imageRef}, got ${show(x)}`);
  const keys = Object.keys(x);
  if (keys.length === 1 && keys[0] === 'text') return { text: str(x, 'text', where, LIMITS.textChars, false) };
  if (keys.length === 1 && keys[0] === 'image') return { image: parseImage(x.image, `${where}.image`) };
  if (keys.length === 1 && keys[0] === 'imageRef') return { imageRef: str(x, 'imageRef', where, LIMITS.imageRefChars) };
  return bad(`${where} must be {text}, {image} or {imageRef}, got ${show(x)}`);
}

function parseParams(x: unknown): GenerateParams {
  if (x === undefined) return {};
  if (!isObj(x)) return bad(`generate.params must be an object, got ${show(x)}`);
  const w = 'generate.params';
  const known = ['maxNewTokens', 'temperature', 'topK', 'topP', 'seed', 'cfgScale', 'startImage', 'paceMs'];
  for (const k of Object.keys(x)) if (!known.includes(k)) bad(`${w}.${k} is not a known parameter`);
  const p: GenerateParams = {};
  const set = <K extends keyof GenerateParams>(k: K, v: GenerateParams[K] | undefined): void => {
    if (v !== undefined) p[k] = v;
  };
  set('maxNewTokens', num(x, 'maxNewTokens', w, 0, LIMITS.maxNewTokens, true));
  set('temperature', num(x, 'temperature', w, 0, 100, false));
  set('topK', num(x, 'topK', w, 0, 1_000_000, true));
  set('topP', num(x, 'topP', w, 1e-6, 1, false));
  const seedBad = x.seed === undefined ? null : seedProblem(x.seed, `${w}.seed`, show(x.seed));
  if (seedBad) bad(seedBad);
  set('seed', x.seed as number | undefined);
  set('cfgScale', num(x, 'cfgScale', w, 0, 100, false));
  set('paceMs', num(x, 'paceMs', w, 0, LIMITS.paceMs, true));
  if (x.startImage !== undefined) {
    if (typeof x.startImage !== 'boolean') bad(`${w}.startImage must be a boolean, got ${show(x.startImage)}`);
    p.startImage = x.startImage as boolean;
  }
  return p;
}

/** Parses one text frame. Never throws: every failure is an error code and its exact message. */
export function parseClientMessage(text: string): Parsed<ClientMessage> {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch {
    return { ok: false, code: 'bad-json', message: ERR.badJson };
  }
  if (!isObj(x) || typeof x.type !== 'string') return { ok: false, code: 'bad-message', message: ERR.notObject };
  try {
    switch (x.type) {
      case 'hello': {
        if (typeof x.version !== 'number') bad(`hello.version must be a number, got ${show(x.version)}`);
        const token = typeof x.token === 'string' ? x.token : '';
        const session = typeof x.session === 'string' ? x.session : '';
        return { ok: true, msg: { type: 'hello', version: x.version as number, token, session } };
      }
      case 'generate': {
        const id = str(x, 'id', 'generate', LIMITS.idChars);
        if (!Array.isArray(x.prompt) || x.prompt.length > LIMITS.promptParts) {
          bad(`generate.prompt must be an array of at most ${LIMITS.promptParts} parts, got ${show(x.prompt)}`);
        }
        const prompt = (x.prompt as unknown[]).map(parsePart);
        return { ok: true, msg: { type: 'generate', id, prompt, params: parseParams(x.params) } };
      }
      case 'cancel':
        return { ok: true, msg: { type: 'cancel', id: str(x, 'id', 'cancel', LIMITS.idChars) } };
      default:
        return { ok: false, code: 'unknown-type', message: ERR.unknownType(x.type) };
    }
  } catch (e) {
    if (e instanceof Bad) return { ok: false, code: 'bad-message', message: e.message };
    throw e;
  }
}
