// What every `llm101` subcommand shares: the I/O it writes to, the Command shape, the input,
// tokenizer and model flags with their help, and reading the input text.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_CONFIG, DEFAULT_LAYERS, MAX_LAYERS, TOKENIZER_KINDS } from '../engine/config';
import { resolveCorpusPath } from '../engine/corpus';
import { fsErrorReason } from '../engine/io/fsErrors';
import { BPE_DEFAULT_VOCAB, BPE_MAX_VOCAB, BPE_MIN_VOCAB } from '../engine/tokenizer';
import type { TokenizerKind } from '../engine/types';
import { type TokenizeRequest } from '../engine/pipeline';
import { THREADS_HELP, THREADS_OPTION, UsageError, optionalInteger, type Options, type Values } from './args';
import { show } from './format';

/** Where output goes; process.stdout/stderr/stdin in the binary, buffers in tests. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  /** isTTY: train draws a progress bar in place on a terminal, plain lines otherwise. */
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  /** Read only for the `-` input. */
  stdin?: AsyncIterable<string | Uint8Array>;
  /**
   * Calls `stop` on Ctrl+C while generation or training runs (the binary: SIGINT) and returns the
   * function that stops listening; other commands keep Ctrl+C's default (the process ends at once).
   */
  onInterrupt?: (stop: () => void) => () => void;
}

export interface Command {
  summary: string;
  usage: string;
  /** Lines of option help, shown by `llm101 <cmd> --help`. */
  help: string[];
  options: Options;
  /** The one positional argument besides `-` the command takes (e.g. REPO); without it, none. */
  positional?: string;
  /** `positionals` holds `-` (read standard input), if given, and the positional argument. Resolves to the exit code when not 0. */
  run(values: Values, io: CliIo, positionals: readonly string[]): Promise<void | number>;
}

// ---------------------------------------------------------------------------------------------
// options shared by the subcommands

export const INPUT_OPTIONS: Options = {
  text: { type: 'string' },
  file: { type: 'string' },
};
export const TOKENIZER_OPTIONS: Options = {
  tokenizer: { type: 'string' },
  corpus: { type: 'string' },
  'vocab-size': { type: 'string' },
};
export const COMMON_OPTIONS: Options = { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } };

export const INPUT_HELP = [
  '  --text STR            the text to use',
  '  --file PATH           read the text from a file (UTF-8)',
  '  -                     read the text from standard input',
];
export const TOKENIZER_HELP = [
  `  --tokenizer KIND      ${TOKENIZER_KINDS.join(' | ')} (default ${DEFAULT_CONFIG.tokenizer})`,
  '  --corpus PATH         a .txt file or a folder of .txt files to build the word/bpe vocabulary',
  '                        (default: the bundled poems)',
  `  --vocab-size N        bpe vocabulary size, ${BPE_MIN_VOCAB} to ${BPE_MAX_VOCAB} (default ${BPE_DEFAULT_VOCAB})`,
];

/**
 * The flag that sets each setting an EngineError names (EngineError.setting): the command line
 * words the fix with it, as the panel does with the llm101.* setting.
 */
export const SETTING_FLAGS: Readonly<Record<string, string>> = {
  tokenizer: '--tokenizer', corpusPath: '--corpus', bpeVocabSize: '--vocab-size', dim: '--dim', heads: '--heads',
  layers: '--layers', contextLength: '--context-length', qkvBias: '--qkv-bias', dropout: '--dropout', seed: '--seed',
  weightsPath: '--weights',
};

/** The model's sizes and weights (analyze, generate): the seeded model's, or a checkpoint's. */
export const MODEL_OPTIONS: Options = {
  dim: { type: 'string' },
  heads: { type: 'string' },
  seed: { type: 'string' },
  'context-length': { type: 'string' },
  'qkv-bias': { type: 'boolean' },
  layers: { type: 'string' },
  weights: { type: 'string' },
  ...THREADS_OPTION,
};
export const MODEL_HELP = [
  `  --dim N               the seeded model's width, emb_dim (default ${DEFAULT_CONFIG.dim})`,
  `  --heads N             attention heads of every block, must divide dim (default ${DEFAULT_CONFIG.heads})`,
  `  --seed N              seed for the initial weights and dropout masks (default ${DEFAULT_CONFIG.seed})`,
  `  --context-length N    most tokens the model takes (default ${DEFAULT_CONFIG.contextLength})`,
  '  --qkv-bias            give the query/key/value projections a bias',
  `  --layers N            transformer blocks of the seeded GPT, 1 to ${MAX_LAYERS} (generate: default ${DEFAULT_LAYERS})`,
  "  --weights FILE|DIR    a GPT checkpoint (.safetensors) in the book's layout or Hugging Face",
  "                        GPT-2's (a file or its folder with config.json);",
  '                        sizes (and heads, layers) come from it; GPT-2 brings the gpt2 tokenizer',
  THREADS_HELP,
];

/** The text from --text, --file or `-`; exactly one of them, and not empty. */
export async function readInput(values: Values, io: CliIo, positionals: readonly string[], command: string): Promise<string> {
  const text = await readInputSource(values, io, positionals, command);
  if (text.length === 0) throw new UsageError(`the text is empty; give some words, e.g. llm101 ${command} --text "Hello, world"`);
  return text;
}

async function readInputSource(values: Values, io: CliIo, positionals: readonly string[], command: string): Promise<string> {
  const sources = [
    values.text !== undefined && '--text',
    values.file !== undefined && '--file',
    positionals.includes('-') && '-',
  ].filter((s): s is string => typeof s === 'string');
  if (sources.length === 0) {
    throw new UsageError(`no input; give --text "...", --file PATH or - (standard input), e.g. llm101 ${command} --text "Hello, world"`);
  }
  if (sources.length > 1) throw new UsageError(`give only one input, not ${sources.join(' and ')}`);
  if (typeof values.text === 'string') return values.text;
  if (typeof values.file === 'string') {
    try {
      return fs.readFileSync(values.file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --file ${values.file}: ${fsErrorReason(err)}`);
    }
  }
  if (!io.stdin) throw new UsageError('standard input is not available; use --text or --file');
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The package's root (it holds media/ and dist/): the first folder up from this module with our
 * package.json. The bundle (dist/cli.js) and the sources under tsx (src/cli/) sit at different depths.
 */
export const PACKAGE_ROOT = packageRootFrom(__dirname);

function packageRootFrom(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'llm101-playground') return dir;
    } catch {
      // not here: go up
    }
    if (path.dirname(dir) === dir) return path.resolve(start, '..');
  }
}

/** The tokenizer flags as the pipeline's request, after the checks that only the command line needs. */
export function tokenizerRequest(values: Values): Omit<TokenizeRequest, 'text'> {
  const kind = (values.tokenizer ?? DEFAULT_CONFIG.tokenizer) as string;
  if (!(TOKENIZER_KINDS as readonly string[]).includes(kind)) {
    throw new UsageError(`unknown tokenizer ${show(kind)}; use --tokenizer ${TOKENIZER_KINDS.join(' | ')}`);
  }
  const vocabSize = optionalInteger(values, 'vocab-size');
  if (vocabSize !== undefined && kind !== 'bpe') {
    throw new UsageError(`--vocab-size sets the size of the bpe vocabulary; the ${kind} tokenizer's is fixed, so drop --vocab-size or add --tokenizer bpe`);
  }
  if (kind === 'gpt2' && values.corpus !== undefined) throw new UsageError('the gpt2 tokenizer has its own vocabulary and uses no corpus; drop --corpus');
  return {
    tokenizer: kind as TokenizerKind,
    bpeVocabSize: vocabSize ?? BPE_DEFAULT_VOCAB,
    // Relative paths are taken from the current folder; no --corpus means the bundled poems.
    corpusPath: resolveCorpusPath(PACKAGE_ROOT, typeof values.corpus === 'string' ? values.corpus : undefined),
  };
}

/**
 * Where the CLI keeps trained BPE models, as the extension keeps them in its global storage:
 * $LLM101_BPE_CACHE, else $XDG_CACHE_HOME/llm101/bpe, else ~/.cache/llm101/bpe.
 */
export function cliBpeCacheDir(): string {
  if (process.env.LLM101_BPE_CACHE) return process.env.LLM101_BPE_CACHE;
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'llm101', 'bpe');
}
