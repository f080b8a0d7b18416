// From text and settings to a trace: check the settings, load the corpus, build the tokenizer,
// take the weights (seeded or from a file), tokenize, check the length, run the stages. Used by
// the engine worker behind the extension and by the CLI, so both compute exactly the same thing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  EngineError, TOKENIZER_KINDS, checkTokens, checkTraceSize, divisors, validateConfig, validateSettings,
  type CancelSignal, type EngineSettings,
} from './config';
import { bpeCacheKey, cacheBpeModel, createTokenizer, getCachedBpeModel, parseBpeModel } from './tokenizer';
import { corpusStamp, loadCorpus } from './corpus';
import { initWeights } from './init';
import { readWeightsFile, type ExpectationSources, type ExpectedSizes } from './io/weightsFile';
import { runTrace } from './trace';
import { pca2 } from './pca';
import type { EngineConfig, Matrix, Token, Tokenizer, TokenizerKind, Trace, Weights } from './types';

/** The engine's configuration less what the tokenizer decides, plus where its inputs live. */
export interface AnalyzeOptions extends EngineSettings {
  /** Vocabulary size the BPE tokenizer trains to (bpe only). */
  bpeVocabSize: number;
  /** A .txt file or folder of .txt files (word and bpe vocabularies). */
  corpusPath: string;
  /** A safetensors file; when set, dim, attnDim, contextLength and qkvBias come from its shapes. */
  weightsPath?: string;
  /**
   * Sizes the user gave explicitly (the CLI's --dim, --attn-dim, ...) that a weights file must
   * agree with, and the flag or setting to name when it does not.
   */
  explicit?: { sizes: ExpectedSizes; sources: ExpectationSources };
}

export interface AnalyzeRequest extends AnalyzeOptions {
  text: string;
  /** Longest input, in tokens, analyzed without asking (the extension's llm101.maxTokens). */
  maxTokens?: number;
}

export type AnalyzeResult =
  | TraceResult
  | { kind: 'tooManyTokens'; message: string; count: number; limit: number; cutAt: number; elapsedMs: number };

/** Just the tokenizer: for the status bar count and the token boundaries in the editor. */
export type TokenizeRequest = Pick<AnalyzeOptions, 'tokenizer' | 'bpeVocabSize' | 'corpusPath'> & { text: string };

export interface TokenizeResult {
  tokens: Token[];
  /** The vocabulary entry of each token (e.g. "Ġthe" pieces shown as text). */
  pieces: string[];
  tokenizer: TokenizerKind;
  vocabSize: number;
}

/** A finished trace with what the panel shows beside it. */
export interface TraceResult {
  kind: 'trace';
  trace: Trace;
  unknownCount: number;
  /** The input embeddings on their first two principal components (T, 2), for the scatter plot. */
  pca: Matrix;
  elapsedMs: number;
  /** Where the weights came from: the file's path, or undefined for seeded weights. */
  weightsPath?: string;
}

/** Wraps a trace for the panel; the PCA is computed here, in the engine's thread, not the host's. */
export function traceResult(trace: Trace, unknownCount: number, started: number, weightsPath?: string): TraceResult {
  return {
    kind: 'trace', trace, unknownCount, pca: pca2(trace.embeddings.input), elapsedMs: performance.now() - started,
    ...(weightsPath !== undefined && { weightsPath }),
  };
}

export interface AnalyzeHooks {
  signal?: CancelSignal;
  onProgress?: (stage: string) => void;
}

/**
 * The one pipeline from text and settings to a trace, for the engine worker behind the
 * extension and for the CLI: check the settings before any work, load the corpus, build the
 * tokenizer, take the weights (seeded or from a file), tokenize, check the length, run the stages.
 * Keeps the expensive pieces between runs: the corpus text, the trained tokenizer (BPE training
 * takes seconds on a big corpus), and the weights, each keyed by everything it depends on.
 */
export class Analyzer {
  private corpus = new Memo<string>();
  private tokenizers = new Memo<Tokenizer>();
  private weights = new Memo<{ weights: Weights; sizes: Pick<EngineConfig, 'dim' | 'attnDim' | 'contextLength' | 'qkvBias'> }>();
  /**
   * `bpeCacheDir`: a folder where trained BPE models are kept as JSON, so another worker (the
   * status bar's), the CLI or the next session loads them instead of training again.
   */
  constructor(private readonly bpeCacheDir?: string) {}

  analyze(request: AnalyzeRequest, hooks: AnalyzeHooks = {}): AnalyzeResult {
    const started = performance.now();
    const { signal, onProgress } = hooks;
    validateSettings(request, { sizesFromWeights: request.weightsPath !== undefined });
    const tokenizer = this.tokenizer(request, hooks);
    onProgress?.('tokenizing');
    const tokens = tokenizer.encode(request.text);
    if (tokens.length === 0) {
      throw new EngineError(`the ${tokenizer.kind} tokenizer finds no tokens in ${JSON.stringify(request.text.slice(0, 40))}; give it some words (select text in the editor, or --text on the command line)`);
    }
    const limit = request.maxTokens;
    if (limit !== undefined && tokens.length > limit) {
      const last = tokens[limit - 1];
      return {
        kind: 'tooManyTokens',
        count: tokens.length,
        limit,
        cutAt: last ? last.end : 0,
        message: `The text has ${tokens.length.toLocaleString('en-US')} tokens, more than llm101.maxTokens (${limit.toLocaleString('en-US')}). Analyze the first ${limit.toLocaleString('en-US')} tokens, or select less text, or raise the setting.`,
        elapsedMs: performance.now() - started,
      };
    }
    const config = this.configFor(request, tokenizer.vocabSize);
    validateConfig(config); // before a large initialisation, with the sizes a weights file gave
    checkTokens(tokens, config.contextLength, config.vocabSize);
    checkTraceSize(tokens.length, config.heads);
    const { weights } = this.weightsFor(request, tokenizer.vocabSize);
    const trace = runTrace(tokens, config, weights, { signal, onProgress: (stage) => onProgress?.(stage) });
    return traceResult(trace, countUnknown(tokens, tokenizer), started, request.weightsPath);
  }

  /** The configuration a request runs with: the settings, with the sizes a weights file has. */
  configFor(request: AnalyzeOptions, vocabSize: number): EngineConfig {
    const sizes = request.weightsPath ? this.weightsFor(request, vocabSize).sizes : request;
    const config: EngineConfig = {
      tokenizer: request.tokenizer,
      vocabSize,
      dim: sizes.dim,
      attnDim: sizes.attnDim,
      heads: request.heads,
      dropout: request.dropout,
      seed: request.seed,
      contextLength: sizes.contextLength,
      qkvBias: sizes.qkvBias,
    };
    if (request.weightsPath && config.attnDim % config.heads !== 0) {
      // Say where attnDim came from: the user never typed it.
      throw new EngineError(
        `heads (${config.heads}) must divide attnDim (${config.attnDim}) of weights file ${request.weightsPath}; ` +
          `valid head counts: ${divisors(config.attnDim).join(', ')} (llm101.heads, --heads)`,
      );
    }
    return config;
  }

  tokenize(request: TokenizeRequest, hooks: AnalyzeHooks = {}): TokenizeResult {
    const tokenizer = this.tokenizer(request, hooks);
    const tokens = tokenizer.encode(request.text);
    return { tokens, pieces: tokens.map((t) => tokenizer.idToToken(t.id)), tokenizer: tokenizer.kind, vocabSize: tokenizer.vocabSize };
  }

  /** The tokenizer a request uses, built (or trained) once per corpus and size. */
  tokenizer(request: TokenizeRequest, hooks: AnalyzeHooks = {}): Tokenizer {
    const kind = request.tokenizer;
    if (!(TOKENIZER_KINDS as readonly string[]).includes(kind)) {
      throw new EngineError(`unknown tokenizer ${JSON.stringify(kind)}; use one of ${TOKENIZER_KINDS.join(', ')}`);
    }
    if (kind === 'gpt2') return this.tokenizers.get('gpt2', () => createTokenizer({ kind }));
    const corpus = this.corpusText(request.corpusPath);
    if (kind === 'word') {
      return this.tokenizers.get(`word\u0000${request.corpusPath}\u0000${this.corpus.key ?? ''}`, () => {
        hooks.onProgress?.('building the vocabulary');
        return createTokenizer({ kind, corpus });
      });
    }
    return this.tokenizers.get(`bpe\u0000${request.corpusPath}\u0000${this.corpus.key ?? ''}\u0000${request.bpeVocabSize}`, () => {
      hooks.onProgress?.('training the BPE vocabulary');
      return this.bpeThroughDisk(corpus, request.bpeVocabSize, hooks);
    });
  }

  /** The weights a request runs with (seeded or from its file). */
  weightsFor(request: AnalyzeOptions, vocabSize: number) {
    if (request.weightsPath) {
      const path = request.weightsPath;
      const explicit = request.explicit;
      return this.weights.get(JSON.stringify(['file', path, fileStamp(path), vocabSize, explicit?.sizes ?? {}]), () => {
        const loaded = readWeightsFile(
          path,
          { vocabSize, ...explicit?.sizes },
          { vocabSize: `the ${request.tokenizer} tokenizer's vocabulary`, ...explicit?.sources },
        );
        return { weights: loaded.weights, sizes: loaded.sizes };
      });
    }
    const sizes = { dim: request.dim, attnDim: request.attnDim, contextLength: request.contextLength, qkvBias: request.qkvBias };
    const config: EngineConfig = { tokenizer: request.tokenizer, vocabSize, ...sizes, heads: 1, dropout: 0, seed: request.seed };
    const key = JSON.stringify(['seeded', vocabSize, sizes, request.seed]);
    return this.weights.get(key, () => ({ weights: initWeights(config), sizes }));
  }

  private bpeThroughDisk(corpus: string, vocabSize: number, hooks: AnalyzeHooks): Tokenizer {
    const key = bpeCacheKey(corpus, vocabSize);
    const file = this.bpeCacheDir && path.join(this.bpeCacheDir, `bpe-${key.slice(0, 32)}.json`);
    if (file && !getCachedBpeModel(key)) {
      try {
        cacheBpeModel(key, parseBpeModel(JSON.parse(fs.readFileSync(file, 'utf8'))));
      } catch {
        // no usable cached model: train below
      }
    }
    const tokenizer = createTokenizer({
      kind: 'bpe', corpus, vocabSize, signal: hooks.signal,
      onProgress: (fraction: number) => hooks.onProgress?.(`training the BPE vocabulary ${(fraction * 100).toFixed(0)}%`),
    });
    const model = getCachedBpeModel(key);
    if (file && model && !fs.existsSync(file)) {
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(`${file}.tmp`, JSON.stringify(model));
        fs.renameSync(`${file}.tmp`, file); // whole or not at all, should two workers race
      } catch {
        // a read-only or full disk only costs training again next time
      }
    }
    return tokenizer;
  }

  private corpusText(corpusPath: string): string {
    // Keyed on every file of the corpus, so editing one poem in the folder reads it again.
    return this.corpus.get(`${corpusPath}\u0000${corpusStamp(corpusPath)}`, () => loadCorpus(corpusPath));
  }
}

/** A one-entry cache: a new key replaces the old value (memory stays bounded by one of each). */
class Memo<T> {
  key: string | undefined;
  private value: T | undefined;
  get(key: string, make: () => T): T {
    if (this.key !== key || this.value === undefined) {
      this.value = undefined;
      this.value = make();
      this.key = key;
    }
    return this.value;
  }
}

function fileStamp(path: string): string {
  try {
    const stat = fs.statSync(path);
    return `${stat.mtimeMs}:${stat.size}`;
  } catch {
    return 'missing'; // the loader reports the missing path with its fix
  }
}

export function countUnknown(tokens: readonly Token[], tokenizer: Tokenizer): number {
  if (tokenizer.kind !== 'word') return 0;
  let unknown = 0;
  for (const token of tokens) if (tokenizer.idToToken(token.id) === '<|unk|>') unknown++;
  return unknown;
}

/** Errors whose message is meant for the user as it is (bad input, not a bug). */
export function isUserFacing(err: unknown): boolean {
  return err instanceof EngineError;
}
