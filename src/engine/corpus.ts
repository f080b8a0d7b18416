// The text the word and bpe tokenizers learn their vocabulary from: the bundled poems in
// media/corpus/, or a user's own .txt file or folder of .txt files (the corpusPath setting).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EngineError } from './config';

/** Largest corpus accepted, in bytes of UTF-8 (also the limit of BPE training). */
export const MAX_CORPUS_BYTES = 64 * 2 ** 20;

/** Where the bundled poems live, relative to the extension's (package's) root folder. */
export const DEFAULT_CORPUS_DIR = path.join('media', 'corpus');

const FIX = 'point the corpus at a UTF-8 .txt file or a folder of .txt files, or leave it empty for the bundled poems';
/** Every corpus error names the corpus setting (the caller words where to set it). */
const CORPUS = { setting: 'corpusPath' } as const;

/** The bundled corpus folder of the extension or package installed at `packageRoot`. */
export function defaultCorpusPath(packageRoot: string): string {
  return path.join(packageRoot, DEFAULT_CORPUS_DIR);
}

/**
 * The corpus to load: the configured path if one is set (a leading `~` is the home folder, a
 * relative path is taken from `baseDir`, e.g. the first workspace folder), else the bundled poems.
 */
export function resolveCorpusPath(packageRoot: string, configured?: string, baseDir: string = process.cwd()): string {
  const wanted = configured?.trim() ?? '';
  if (wanted === '') return defaultCorpusPath(packageRoot);
  return path.resolve(baseDir, expandHome(wanted));
}

/** A leading `~` (alone or before a slash) as the home folder: the one expansion for settings and flags. */
export function expandHome(configured: string): string {
  return configured === '~' || configured.startsWith('~/') ? path.join(os.homedir(), configured.slice(1)) : configured;
}

/**
 * Changes whenever the corpus text may have: the path, and each file's name, size and
 * modification time (a folder's own time does not change when a file inside is edited).
 */
export function corpusStamp(corpusPath: string): string {
  try {
    const stats = fs.statSync(corpusPath);
    const files = stats.isDirectory() ? fs.readdirSync(corpusPath).filter((n) => n.toLowerCase().endsWith('.txt')).sort() : [''];
    return files.map((name) => {
      const file = fs.statSync(path.join(corpusPath, name));
      return `${name}:${file.size}:${file.mtimeMs}`;
    }).join('/');
  } catch {
    return 'unreadable'; // loadCorpus reports what is wrong, with the fix
  }
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function statOrThrow(file: string): fs.Stats {
  try {
    return fs.statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new EngineError(`corpus path ${file} does not exist: ${FIX}`, CORPUS);
    throw new EngineError(`cannot read corpus path ${file} (${code ?? String(error)}): check its permissions or ${FIX}`, CORPUS);
  }
}

/** The .txt files of a folder (not its subfolders), sorted by name. */
function textFilesIn(folder: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new EngineError(`cannot list corpus folder ${folder} (${code ?? String(error)}): check its permissions or ${FIX}`, CORPUS);
  }
  const files = names
    .filter((name) => name.toLowerCase().endsWith('.txt'))
    .sort()
    .map((name) => path.join(folder, name))
    .filter((file) => statOrThrow(file).isFile());
  if (files.length === 0) throw new EngineError(`corpus folder ${folder} has no .txt files: ${FIX}`, CORPUS);
  return files;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readTextFile(file: string): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new EngineError(`cannot read corpus file ${file} (${code ?? String(error)}): check its permissions or ${FIX}`, CORPUS);
  }
  const nul = bytes.indexOf(0);
  if (nul !== -1) {
    throw new EngineError(`corpus file ${file} looks binary (a NUL byte at offset ${nul}), not text: ${FIX}`, CORPUS);
  }
  try {
    return utf8.decode(bytes); // also drops a leading byte order mark
  } catch {
    throw new EngineError(`corpus file ${file} is not valid UTF-8: save it as UTF-8, or ${FIX}`, CORPUS);
  }
}

/**
 * The corpus text at `corpusPath`: one file, or every .txt file of a folder in name order joined
 * with "\n". Throws an EngineError naming the fix for a missing path, a folder without .txt
 * files, a corpus over MAX_CORPUS_BYTES, a binary or non-UTF-8 file, and a corpus with no text.
 */
export function loadCorpus(corpusPath: string): string {
  const stats = statOrThrow(corpusPath);
  const files = stats.isDirectory() ? textFilesIn(corpusPath) : [corpusPath];
  const totalBytes = files.reduce((sum, file) => sum + statOrThrow(file).size, 0) + files.length - 1;
  if (totalBytes > MAX_CORPUS_BYTES) {
    throw new EngineError(
      `corpus ${corpusPath} is ${mib(totalBytes)}, over the ${mib(MAX_CORPUS_BYTES)} limit: use a smaller file or fewer files`,
      CORPUS,
    );
  }
  const text = files.map(readTextFile).join('\n');
  if (text.trim() === '') {
    throw new EngineError(`corpus ${corpusPath} is empty (no text to learn a vocabulary from): ${FIX}`, CORPUS);
  }
  return text;
}
