// From text and settings to a trace: check the settings, load the corpus, build the tokenizer,
// take the model (seeded or a checkpoint), tokenize, check the length, run the stages as the
// model's block 1; and the model's forward pass on the same tokens. Used by the engine worker
// behind the extension and by the CLI, so both compute exactly the same thing.
//
// There is one model: `torch.manual_seed(seed); GPTModel(cfg)` from the settings, or the
// checkpoint `weightsPath` names (the book's layout or Hugging Face GPT-2's, file or folder). The
// seven stages are always its block 1 (runTrace's 'block 1' source), so the stages and the model
// sections tell one story. A GPT-2 checkpoint brings the gpt2 tokenizer unless the user named one
// (tokenizerExplicit); so does one of ours that carries its tokenizer (`llm101.tokenizer` in
// __metadata__: the word vocabulary or the BPE merges it was trained with), which then tokenizes
// by itself, without the corpus.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DEFAULT_LAYERS, EngineError, LAYER_NORM_EPS, TOKENIZER_KINDS, checkTokens, checkTraceSize, validateGptConfig, validateSettings,
  type CancelSignal, type EngineSettings,
} from './config';
import {
  TOKENIZER_METADATA_KEY, bpeCacheKey, cacheBpeModel, createTokenizer, getCachedBpeModel, parseBpeModel, parseSavedTokenizer,
  tokenizerFromSaved, type SavedTokenizer,
} from './tokenizer';
import { corpusStamp, loadCorpus } from './corpus';
import { blockTraceConfig, runTrace } from './trace';
import { pca2 } from './pca';
import { checkTokenizerFits } from './gpt/config';
import { createSeededGpt } from './gpt/init';
import type { GptConfig, GptModel } from './gpt/types';
import { checkpointTraining, readGptCheckpoint, weightsLayoutOf, type CheckpointTraining, type WeightsLayout } from './io/gptCheckpoint';
import { gptForward, type GptForward } from './layers/gptModel';
import { cropToContext, type ContextWindow } from './window';
import type { Matrix, Token, Tokenizer, TokenizerKind, Trace, TraceConfig } from './types';

/** The engine's configuration less what the tokenizer decides, plus where its inputs live. */
export interface AnalyzeOptions extends EngineSettings {
  /** Vocabulary size the BPE tokenizer trains to (bpe only). */
  bpeVocabSize: number;
  /** A .txt file or folder of .txt files (word and bpe vocabularies). */
  corpusPath: string;
  /**
   * A GPT checkpoint (safetensors in the book's or GPT-2's layout) or a Hugging Face model folder;
   * when set, the model is the checkpoint: its sizes, layers and (when it says) heads are its own.
   */
  weightsPath?: string;
  /**
   * The user named the tokenizer (--tokenizer; llm101.tokenizer set away from its default), so a
   * GPT-2 checkpoint keeps it rather than switching to gpt2 (a vocabulary mismatch is then an error).
   */
  tokenizerExplicit?: boolean;
  /**
   * Sizes the user gave explicitly (the CLI's --dim, ...) that a checkpoint must agree with, and
   * the flag or setting to name when it does not.
   */
  explicit?: { sizes: ExplicitSizes; sources: Partial<Record<keyof ExplicitSizes, string>> };
}

/** Sizes of the model a user may give explicitly beside a checkpoint. */
export type ExplicitSizes = Partial<Pick<GptConfig, 'vocabSize' | 'dim' | 'contextLength' | 'qkvBias'>>;

export interface AnalyzeRequest extends AnalyzeOptions {
  text: string;
  /** Longest input, in tokens, analyzed without asking (the extension's maxTokens setting). */
  maxTokens?: number;
  /**
   * Where the context window starts (a token index) when the text has more tokens than the model
   * has positions; default: the last contextLength tokens (window.ts).
   */
  windowFrom?: number;
}

export type AnalyzeResult =
  | TraceResult
  | { kind: 'tooManyTokens'; message: string; count: number; limit: number; cutAt: number; elapsedMs: number };

/**
 * Just the tokenizer: for the status bar count and the token boundaries in the editor. With
 * weightsPath (optional) a GPT-2 checkpoint's gpt2 tokenizer is used, as analyze would.
 */
export type TokenizeRequest = Pick<AnalyzeOptions, 'tokenizer' | 'bpeVocabSize' | 'corpusPath' | 'weightsPath' | 'tokenizerExplicit'> & { text: string };

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
  /** Set when the text is longer than the context: the trace's tokens are these of the text's. */
  window?: ContextWindow;
  /** How the checkpoint was trained, when it says (one written by llm101 train or the training panel). */
  trained?: CheckpointTraining;
}

/** The model's forward pass on the request's tokens: what the model sections and the CLI's `model` show. */
export interface ModelAnalysis {
  tokens: Token[];
  tokenizer: Tokenizer;
  model: GptModel;
  /** gptForward with keepResiduals (traceGptBlock recomputes any block's maps from it). */
  forward: GptForward;
  /** "seeded 123 (untrained)" or the checkpoint's file (or folder) name. */
  weightsSource: string;
  /** Set when the text is longer than the context: `tokens` are these of the text's. */
  window?: ContextWindow;
}

/** Wraps a trace for the panel; the PCA is computed here, in the engine's thread, not the host's. */
export function traceResult(trace: Trace, unknownCount: number, started: number, weightsPath?: string, window?: ContextWindow, trained?: CheckpointTraining): TraceResult {
  return {
    kind: 'trace', trace, unknownCount, pca: pca2(trace.embeddings.input), elapsedMs: performance.now() - started,
    ...(weightsPath !== undefined && { weightsPath }), ...(window && { window }), ...(trained && { trained }),
  };
}

/** The seeded model's sizes: the settings' and the tokenizer's vocabulary, checked before a large initialisation. */
function seededConfig(request: AnalyzeOptions, tokenizer: { vocabSize: number }): GptConfig {
  const config: GptConfig = {
    vocabSize: tokenizer.vocabSize,
    contextLength: request.contextLength,
    dim: request.dim,
    heads: request.heads,
    layers: request.layers ?? DEFAULT_LAYERS,
    qkvBias: request.qkvBias,
    layerNormEps: LAYER_NORM_EPS,
  };
  validateGptConfig(config);
  return config;
}

export interface AnalyzeHooks {
  signal?: CancelSignal;
  onProgress?: (stage: string) => void;
  /** analyze only: the tokens and the trace's config, as soon as the text is tokenized and checked (the stages take seconds on a long text). */
  onStart?: (start: TraceStart) => void;
}

/** What is known of an analysis before its stages run: its tokens and the trace's config. */
export type TraceStart = Pick<TraceResult, 'unknownCount' | 'weightsPath' | 'window' | 'trained'> & { config: TraceConfig; tokens: Token[] };

/**
 * The one pipeline from text and settings to a trace, for the engine worker behind the
 * extension and for the CLI: check the settings before any work, load the corpus, build the
 * tokenizer, take the weights (seeded or from a file), tokenize, check the length, run the stages.
 * Keeps the expensive pieces between runs: the corpus text, the trained tokenizer (BPE training
 * takes seconds on a big corpus), the weights and the GPT model, each keyed by everything it
 * depends on.
 */
export class Analyzer {
  private corpus = new Memo<string>();
  private tokenizers = new Memo<Tokenizer>();
  private layouts = new Memo<CheckpointHeader>();
  private gpt = new Memo<GptModel>();
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
    const all = encodeSome(tokenizer, request.text);
    // The sizes before the weights: seeded weights are drawn only after the tokens have gone out
    // (drawing GPT-2-sized ones takes a second or more; the tokens are ready in milliseconds).
    const loaded = request.weightsPath ? this.modelFor(request, tokenizer, hooks) : undefined;
    const sizes = loaded?.config ?? seededConfig(request, tokenizer);
    // A text longer than the model's positions: the model reads a window of it (window.ts).
    const { tokens, window } = cropToContext(all, sizes.contextLength, request.windowFrom);
    const limit = request.maxTokens;
    if (limit !== undefined && tokens.length > limit) {
      const last = all[limit - 1];
      const what = window ? `The model's window holds ${tokens.length.toLocaleString('en-US')} of the text's ${all.length.toLocaleString('en-US')} tokens` : `The text has ${tokens.length.toLocaleString('en-US')} tokens`;
      return {
        kind: 'tooManyTokens',
        count: tokens.length,
        limit,
        cutAt: last ? last.end : 0,
        message: `${what}, more than the ${limit.toLocaleString('en-US')} analyzed without asking. Analyze the first ${limit.toLocaleString('en-US')} tokens, or select less text, or raise the limit.`,
        elapsedMs: performance.now() - started,
      };
    }
    checkTokens(tokens, sizes.contextLength, sizes.vocabSize);
    checkTraceSize(tokens.length, sizes.heads);
    const run = { tokenizer: tokenizer.kind, dropout: request.dropout, seed: request.seed };
    const trained = request.weightsPath ? checkpointTraining(this.layoutOf(request.weightsPath).metadata) : undefined;
    const unknownCount = countUnknown(tokens, tokenizer);
    hooks.onStart?.({
      config: blockTraceConfig(sizes, run), tokens, unknownCount,
      ...(request.weightsPath !== undefined && { weightsPath: request.weightsPath }), ...(window && { window }), ...(trained && { trained }),
    });
    const model = loaded ?? this.modelFor(request, tokenizer, hooks);
    const trace = runTrace(tokens, { kind: 'block 1', model }, run, { signal, onProgress: (stage) => onProgress?.(stage) });
    return traceResult(trace, unknownCount, started, request.weightsPath, window, trained);
  }

  /**
   * The GPT model a request names: its checkpoint (weightsPath in the book's or GPT-2's layout),
   * else seeded (torch.manual_seed(seed); GPTModel(cfg)) with the settings' dim, heads, layers,
   * contextLength, qkvBias and the tokenizer's vocabulary. Checked before any work; kept between
   * calls until something it depends on changes.
   */
  model(request: AnalyzeOptions, hooks: AnalyzeHooks = {}): GptModel {
    validateSettings(request, { sizesFromWeights: request.weightsPath !== undefined });
    const tokenizer = this.tokenizer(request, hooks);
    return this.modelFor(request, tokenizer, hooks);
  }

  /**
   * The model's forward pass on the request's text (inference, no dropout), keeping every block's
   * residual stream. `logits`: which rows of logits to compute (default 'all'; 'last' for long
   * texts with a large vocabulary: all rows of GPT-2 at 1,024 tokens are 200 MB).
   */
  analyzeModel(request: AnalyzeRequest, hooks: AnalyzeHooks & { logits?: 'all' | 'last' | 'none' } = {}): ModelAnalysis {
    validateSettings(request, { sizesFromWeights: request.weightsPath !== undefined });
    const tokenizer = this.tokenizer(request, hooks);
    const model = this.modelFor(request, tokenizer, hooks);
    // the same window as the stages': the model's positions are theirs
    const { tokens, window } = cropToContext(encodeSome(tokenizer, request.text), model.config.contextLength, request.windowFrom);
    hooks.onProgress?.('running the model');
    const forward = gptForward(model, tokens.map((t) => t.id), { logits: hooks.logits ?? 'all', keepResiduals: true, signal: hooks.signal });
    return { tokens, tokenizer, model, forward, weightsSource: model.source, ...(window && { window }) };
  }

  tokenize(request: TokenizeRequest, hooks: AnalyzeHooks = {}): TokenizeResult {
    const tokenizer = this.tokenizer(request, hooks);
    const tokens = tokenizer.encode(request.text);
    return { tokens, pieces: tokens.map((t) => tokenizer.idToToken(t.id)), tokenizer: tokenizer.kind, vocabSize: tokenizer.vocabSize };
  }

  /**
   * The tokenizer a request uses, built (or trained) once per corpus and size: the one it names,
   * or, when the user named none, a checkpoint's own (the one saved in ours, gpt2 for GPT-2's).
   */
  tokenizer(request: Omit<TokenizeRequest, 'text'>, hooks: AnalyzeHooks = {}): Tokenizer {
    const saved = this.savedTokenizer(request);
    if (saved && saved.tokenizer.kind !== 'gpt2') {
      // the checkpoint's stamp keys it: a retrained file at the same path brings its new vocabulary
      return this.tokenizers.get(JSON.stringify(['checkpoint', saved.file, checkpointStamp(saved.file)]), () => tokenizerFromSaved(saved.tokenizer));
    }
    const kind = this.tokenizerKind(request);
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

  /**
   * The tokenizer kind a request runs with: unless the user named one, a checkpoint's own (gpt2
   * for GPT-2's, the saved one for ours).
   */
  tokenizerKind(request: Pick<TokenizeRequest, 'tokenizer' | 'weightsPath' | 'tokenizerExplicit'>): TokenizerKind {
    if (request.weightsPath && !request.tokenizerExplicit && this.layoutOf(request.weightsPath).layout === 'gpt2') return 'gpt2';
    return this.savedTokenizer(request)?.tokenizer.kind ?? request.tokenizer;
  }

  /**
   * The tokenizer one of our checkpoints carries (`llm101.tokenizer`), when the request's weights
   * are such a checkpoint and the user named no tokenizer; an unusable one says what to set.
   */
  private savedTokenizer(request: Pick<TokenizeRequest, 'weightsPath' | 'tokenizerExplicit'>): { tokenizer: SavedTokenizer; file: string } | undefined {
    if (!request.weightsPath || request.tokenizerExplicit) return undefined;
    const header = this.layoutOf(request.weightsPath);
    const json = header.layout === 'book' ? header.metadata[TOKENIZER_METADATA_KEY] : undefined;
    if (json === undefined) return undefined;
    return { tokenizer: parseSavedTokenizer(json, `checkpoint ${header.file}`), file: header.file };
  }

  /** What a checkpoint path holds, and its __metadata__, from its header (read again when the file changes). */
  layoutOf(weightsPath: string): CheckpointHeader {
    return this.layouts.get(JSON.stringify([weightsPath, checkpointStamp(weightsPath)]), () => weightsLayoutOf(weightsPath));
  }

  /** The checkpoint's model, or a seeded one; throws unless the tokenizer's vocabulary is the model's. */
  private modelFor(request: AnalyzeOptions, tokenizer: { kind: string; vocabSize: number }, hooks: AnalyzeHooks = {}): GptModel {
    const file = request.weightsPath;
    if (file) {
      // heads: the file's metadata or config.json wins; the setting counts only when the file says nothing
      const key = JSON.stringify(['checkpoint', file, checkpointStamp(file), request.heads]);
      const model = this.gpt.get(key, () => {
        hooks.onProgress?.('loading the checkpoint');
        return readGptCheckpoint(file, { heads: request.heads }).model;
      });
      checkExplicitSizes(model.config, file, request.explicit);
      checkTokenizerFits(model.config, tokenizer);
      return model;
    }
    const config = seededConfig(request, tokenizer);
    return this.gpt.get(JSON.stringify(['seeded', config, request.seed]), () => {
      hooks.onProgress?.('drawing the seeded weights');
      return createSeededGpt(config, request.seed);
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
    // Keyed on every file of the corpus, so editing one poem in the folder reads it again.
    return this.corpus.get(`${corpusPath}\u0000${corpusStamp(corpusPath)}`, () => loadCorpus(corpusPath));
  }
}

/** A weights file's layout, the file read (inside a folder), and its __metadata__. */
export interface CheckpointHeader {
  layout: WeightsLayout;
  file: string;
  metadata: Record<string, string>;
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

/** The tokens of a text, or the error that there are none (with where to give some). */
function encodeSome(tokenizer: Tokenizer, text: string): Token[] {
  const tokens = tokenizer.encode(text);
  if (tokens.length === 0) {
    throw new EngineError(`the ${tokenizer.kind} tokenizer finds no tokens in ${JSON.stringify(text.slice(0, 40))}; give it some words (select text in the editor, or --text on the command line)`);
  }
  return tokens;
}

/** Sizes the user gave explicitly (the CLI's --dim, ...) must be the checkpoint's; the message names the flag to drop. */
function checkExplicitSizes(config: GptConfig, file: string, explicit: AnalyzeOptions['explicit']): void {
  if (!explicit) return;
  const { sizes, sources } = explicit;
  const has = { dim: config.dim, contextLength: config.contextLength, qkvBias: config.qkvBias, vocabSize: config.vocabSize };
  for (const field of ['dim', 'contextLength', 'qkvBias', 'vocabSize'] as const) {
    const given = sizes[field];
    if (given === undefined || given === has[field]) continue;
    const source = sources[field] ?? field;
    throw new EngineError(`${source} ${String(given)} disagrees with checkpoint ${file}, whose ${field} is ${String(has[field])}; drop ${source} (a checkpoint's sizes are its own)`);
  }
}

/** The checkpoint's file, and for a folder or a file beside config.json that file too: what a reload depends on. */
function checkpointStamp(p: string): string {
  const file = isFolder(p) ? path.join(p, 'model.safetensors') : p;
  return `${fileStamp(file)}|${fileStamp(path.join(path.dirname(file), 'config.json'))}`;
}

function isFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
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
