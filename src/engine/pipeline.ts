// From text and settings to a trace: load the corpus, build the tokenizer, take the weights
// (seeded or from a file), tokenize, check the length, run the stages. Used by the worker thread
// behind the extension and by the CLI, so both compute exactly the same thing.
import * as fs from 'node:fs';
import { EngineError } from './config';
import { bpeCacheKey, cacheBpeModel, createTokenizer, getCachedBpeModel, parseBpeModel } from './tokenizer';
import * as path from 'node:path';
import { loadCorpus } from './corpus';
import { initWeights } from './init';
import { readWeightsFile } from './io/weightsFile';
import { runTrace } from './trace';
import { pca2 } from './pca';
import type { EngineConfig, Matrix, Token, Tokenizer, TokenizerKind, Trace, Weights } from './types';

/** The engine's configuration less what the tokenizer decides, plus where its inputs live. */
export interface AnalyzeOptions extends Omit<EngineConfig, 'vocabSize'> {
  /** Vocabulary size the BPE tokenizer trains to. */
  bpeVocabSize: number;
  /** A .txt file or folder of .txt files (word and bpe vocabularies). */
  corpusPath: string;
  /** A safetensors file; when set, dim, attnDim, contextLength and qkvBias come from its shapes. */
  weightsPath?: string;
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
}

/** Wraps a trace for the panel; the PCA is computed here, in the engine's thread, not the host's. */
export function traceResult(trace: Trace, unknownCount: number, started: number): TraceResult {
  return { kind: 'trace', trace, unknownCount, pca: pca2(trace.embeddings.input), elapsedMs: performance.now() - started };
}

/** What the worker thread is asked and what it sends back. */
export type WorkerRequest =
  | { id: number; op: 'analyze'; request: AnalyzeRequest }
  | { id: number; op: 'tokenize'; request: TokenizeRequest };

export type WorkerReply =
  | { id: number; type: 'progress'; stage: string }
  | { id: number; type: 'result'; result: AnalyzeResult | TokenizeResult }
  | { id: number; type: 'error'; message: string; userFacing: boolean };

export interface AnalyzeHooks {
  signal?: AbortSignal;
  onProgress?: (stage: string) => void;
}

/**
 * Keeps the expensive pieces between runs: the corpus text, the trained tokenizer (BPE training
 * takes seconds on a big corpus), and the weights, each keyed by everything it depends on.
 */
export class Analyzer {
  private corpus = new Memo<string>();
  private tokenizers = new Memo<Tokenizer>();
  /**
   * `bpeCacheDir`: a folder where trained BPE models are kept as JSON, so another worker (the
   * status bar's) or the next session loads them instead of training again.
   */
  constructor(private readonly bpeCacheDir?: string) {}

  private weights = new Memo<{ weights: Weights; sizes: Pick<EngineConfig, 'dim' | 'attnDim' | 'contextLength' | 'qkvBias'> }>();

  analyze(request: AnalyzeRequest, hooks: AnalyzeHooks = {}): AnalyzeResult {
    const started = performance.now();
    const { signal, onProgress } = hooks;
    const tokenizer = this.tokenizer(request, hooks);
    onProgress?.('tokenizing');
    const tokens = tokenizer.encode(request.text);
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
    const { weights, sizes } = this.weightsFor(request, tokenizer.vocabSize);
    const config: EngineConfig = {
      tokenizer: request.tokenizer,
      vocabSize: tokenizer.vocabSize,
      dim: sizes.dim,
      attnDim: sizes.attnDim,
      heads: request.heads,
      dropout: request.dropout,
      seed: request.seed,
      contextLength: sizes.contextLength,
      qkvBias: sizes.qkvBias,
    };
    const trace = runTrace(tokens, config, weights, { signal, onProgress: (stage) => onProgress?.(stage) });
    return traceResult(trace, countUnknown(tokens, tokenizer), started);
  }

  tokenize(request: TokenizeRequest, hooks: AnalyzeHooks = {}): TokenizeResult {
    const tokenizer = this.tokenizer(request, hooks);
    const tokens = tokenizer.encode(request.text);
    return { tokens, pieces: tokens.map((t) => tokenizer.idToToken(t.id)), tokenizer: tokenizer.kind, vocabSize: tokenizer.vocabSize };
  }

  /** The buffers of the cached weights: a caller that hands a trace's buffers on must keep these. */
  cachedBuffers(): Set<ArrayBufferLike> {
    const buffers = new Set<ArrayBufferLike>();
    const visit = (v: unknown): void => {
      if (ArrayBuffer.isView(v)) buffers.add(v.buffer);
      else if (v && typeof v === 'object') for (const child of Object.values(v)) visit(child);
    };
    visit(this.weights.current);
    return buffers;
  }

  private tokenizer(request: TokenizeRequest | AnalyzeRequest, hooks: AnalyzeHooks): Tokenizer {
    const kind = request.tokenizer;
    if (kind === 'gpt2') return this.tokenizers.get('gpt2', () => createTokenizer({ kind }));
    const corpus = this.corpusText(request.corpusPath);
    const key = `${kind}\u0000${request.corpusPath}\u0000${corpus.length}\u0000${kind === 'bpe' ? request.bpeVocabSize : ''}`;
    return this.tokenizers.get(key, () => {
      hooks.onProgress?.(kind === 'bpe' ? 'training the BPE vocabulary' : 'building the vocabulary');
      if (kind === 'bpe') return this.bpeThroughDisk(corpus, request.bpeVocabSize, hooks);
      return createTokenizer({
        kind, corpus, vocabSize: request.bpeVocabSize, signal: hooks.signal,
        onProgress: (fraction: number) => hooks.onProgress?.(`training the BPE vocabulary ${(fraction * 100).toFixed(0)}%`),
      });
    });
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
    // Keyed by modification time and size so an edited corpus is read again.
    const key = `${corpusPath}\u0000${fileStamp(corpusPath)}`;
    return this.corpus.get(key, () => loadCorpus(corpusPath));
  }

  private weightsFor(request: AnalyzeRequest, vocabSize: number) {
    if (request.weightsPath) {
      const path = request.weightsPath;
      return this.weights.get(`file\u0000${path}\u0000${fileStamp(path)}\u0000${vocabSize}`, () => {
        const loaded = readWeightsFile(path, { vocabSize }, { vocabSize: `the ${request.tokenizer} tokenizer's vocabulary` });
        return { weights: loaded.weights, sizes: loaded.sizes };
      });
    }
    const sizes = { dim: request.dim, attnDim: request.attnDim, contextLength: request.contextLength, qkvBias: request.qkvBias };
    const config: EngineConfig = { tokenizer: request.tokenizer, vocabSize, ...sizes, heads: 1, dropout: 0, seed: request.seed };
    const key = JSON.stringify(['seeded', vocabSize, sizes, request.seed, request.qkvBias]);
    return this.weights.get(key, () => ({ weights: initWeights(config), sizes }));
  }
}

/** A one-entry cache: a new key replaces the old value (memory stays bounded by one of each). */
class Memo<T> {
  private key: string | undefined;
  private value: T | undefined;
  get current(): T | undefined {
    return this.value;
  }
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
