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
import { findMatrix } from './csv';
import type { EngineConfig, Matrix, Token, Tokenizer, TokenizerKind, Trace, Weights } from './types';
import { encodeMap, weightScale, type LazyGroup, type MapCodes, type PanelHead, type PanelTrace } from '../shared/protocol';

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

/** Above this many tokens the T×T stages and heads are sent to the panel only when shown. */
export const LAZY_ABOVE = 256;

export function panelHead(head: Trace['multiHead']['heads'][number]): PanelHead {
  const { scores, weights, droppedWeights, context } = head;
  return { scores, weights, droppedWeights, context };
}

/** The panel draws the self-attention maps, not Q, K and V (3 × T × attnDim it would not show). */
function panelSelfAttention(trace: Trace): NonNullable<PanelTrace['selfAttention']> {
  const { scores, weights, context } = trace.selfAttention;
  return { scores, weights, context };
}

const diverging = (m: Matrix): MapCodes => encodeMap(m, { kind: 'diverging' });

/** A causal weight map as codes: lower triangle, the weights' colour scale, dropped cells marked. */
function causalCodes(trace: Trace, weights: Matrix, before?: Matrix): MapCodes {
  return encodeMap(weights, weightScale(trace.tokens.length, trace.config.dropout), { lower: true, before });
}

/** A non-causal stage as codes: scores diverging, weights on the weights' scale (no dropout there). */
function stageCodes(trace: Trace, stage: { scores: Matrix; weights: Matrix; context: Matrix }) {
  return { scores: diverging(stage.scores), weights: encodeMap(stage.weights, weightScale(trace.tokens.length)), context: diverging(stage.context) };
}

/**
 * One lazily sent part of a trace (long texts), or undefined when the trace has no such part. Its
 * maps travel as display codes, a quarter of float32's bytes (causal ones as lower triangles, an
 * eighth); what only the tooltip reads (scores of causal maps, a head's weights before dropout)
 * stays on the host and is fetched per cell with 'requestCells'.
 */
export function panelGroup(trace: Trace, group: LazyGroup): object | undefined {
  if (group === 'simple') return stageCodes(trace, trace.simple);
  if (group === 'selfAttention') return stageCodes(trace, trace.selfAttention);
  if (group === 'causal') {
    const { weights, droppedWeights, context } = trace.causal;
    return { weights: causalCodes(trace, weights), droppedWeights: causalCodes(trace, droppedWeights, weights), context: diverging(context) };
  }
  const head = trace.multiHead.heads[Number(group.slice('head:'.length))];
  if (!head) return undefined;
  return { droppedWeights: causalCodes(trace, head.droppedWeights, head.weights) } satisfies PanelHead;
}

/**
 * What the tooltips of a lazily sent group read beyond the group itself (the scores of causal
 * maps, a head's weights before dropout), by matrix path, as display codes. The extension's host
 * answers those with exact values from the trace it keeps; the standalone report, which has no
 * host, embeds these and answers from them at the colour scale's precision.
 */
export function tooltipCodes(trace: Trace, group: LazyGroup): Record<string, MapCodes> {
  const scoreCodes = (scores: Matrix) => encodeMap(scores, { kind: 'diverging' }, { lower: true });
  if (group === 'causal') return { 'causal.maskedScores': scoreCodes(trace.causal.maskedScores) };
  if (!group.startsWith('head:')) return {}; // simple and selfAttention send every map their tooltips read
  const index = Number(group.slice('head:'.length));
  const head = trace.multiHead.heads[index];
  if (!head) return {};
  return { [`multiHead.heads.${index}.scores`]: scoreCodes(head.scores), [`multiHead.heads.${index}.weights`]: causalCodes(trace, head.weights) };
}

/**
 * What the panel needs of a trace (no Q/K/V of the heads; plus the embedding PCA). Above
 * LAZY_ABOVE tokens the T×T stages are left out (sent by panelGroup when shown) and, with
 * `mapsAsCodes`, the (T, d) maps travel as display codes too (dim 768 makes each 6 MB); the
 * standalone report, which has no host to ask for exact values, keeps them exact.
 */
export function toPanelTrace(result: TraceResult, options: { mapsAsCodes?: boolean } = {}): PanelTrace {
  const lazy = result.trace.tokens.length > LAZY_ABOVE;
  const map = lazy && options.mapsAsCodes ? diverging : (m: Matrix) => m;
  const { trace } = result;
  const { token, position, input } = trace.embeddings;
  return {
    config: trace.config,
    tokens: trace.tokens,
    unknownCount: result.unknownCount,
    embeddings: { token: map(token), position: map(position), input: map(input), pca: result.pca },
    simple: lazy ? null : trace.simple,
    selfAttention: lazy ? null : panelSelfAttention(trace),
    causal: lazy ? null : trace.causal,
    multiHead: {
      heads: trace.multiHead.heads.map((head) => (lazy ? null : panelHead(head))),
      concat: map(trace.multiHead.concat),
      output: map(trace.multiHead.output),
    },
    layerNorm: {
      mean: trace.layerNorm.mean,
      variance: trace.layerNorm.variance,
      output: map(trace.layerNorm.output),
      outputMean: trace.layerNorm.outputMean,
      outputVariance: trace.layerNorm.outputVariance,
    },
  };
}

/**
 * The exact values of a window of the matrices at `paths` (one Float32Array each, row by row),
 * clipped to the matrices; undefined when a path names no matrix of the trace or the window lies
 * outside. Answers the panel's 'requestCells'.
 */
export function cellWindow(trace: Trace, paths: readonly string[], r0: number, c0: number, rows: number, cols: number) {
  const matrices = paths.map((p) => findMatrix(trace, p));
  const first = matrices[0];
  if (!first || matrices.some((m) => !m || m.rows !== first.rows || m.cols !== first.cols)) return undefined;
  const h = Math.min(rows, first.rows - r0);
  const w = Math.min(cols, first.cols - c0);
  if (h < 1 || w < 1) return undefined;
  const values = (matrices as Matrix[]).map((m) => {
    const out = new Float32Array(h * w);
    for (let r = 0; r < h; r++) out.set(m.data.subarray((r0 + r) * m.cols + c0, (r0 + r) * m.cols + c0 + w), r * w);
    return out;
  });
  return { r0, c0, rows: h, cols: w, values };
}
