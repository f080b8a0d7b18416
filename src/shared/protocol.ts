// The only contract between the extension host and the panel's webview. Both sides import
// these types; every message that crosses is checked with the validators below on receipt,
// and anything unknown is ignored (and logged) rather than trusted.
import type { Matrix, Token, TraceConfig } from '../engine/types';
import { isMapCodes, type MapCodes } from './codes';
import type { ContextWindow } from '../engine/window';

/** Section ids of the panel, in the order the product teaches the stages. */
export const SECTIONS = [
  'tokens',
  'embeddings',
  'attention-simple',
  'attention-self',
  'attention-causal',
  'attention-heads',
  'layernorm',
] as const;
export type SectionId = (typeof SECTIONS)[number];

/** The model's sections (book chapter 4), after the seven stages, shown when the trace has a model. */
export const MODEL_SECTIONS = ['feed-forward', 'blocks', 'next-token'] as const;
export type ModelSectionId = (typeof MODEL_SECTIONS)[number];

/** The knobs the panel can change; each maps to the `llm101.<key>` setting. */
export const KNOBS = ['heads', 'dropout', 'seed', 'dim', 'tokenizer'] as const;
export type Knob = (typeof KNOBS)[number];

/**
 * A heatmap's cells as they cross postMessage: exact (up to LAZY_ABOVE tokens) or, for long
 * texts, one display code a cell (MapCodes: a quarter of the bytes, the panel asks the host for
 * the exact values of the cells it hovers or zooms into with 'requestCells').
 */
export type PanelMap = Matrix | MapCodes;

/** What the panel shows: a trace as it crosses postMessage (typed arrays travel as binary). */
export interface PanelTrace {
  config: TraceConfig;
  tokens: Token[];
  /** How many of the tokens are the tokenizer's unknown token (word tokenizer only). */
  unknownCount: number;
  /**
   * Set when the text has more tokens than the model has positions: `tokens` are the text's
   * tokens from .. to−1 (their offsets still the whole text's), every map is the window's.
   */
  window?: ContextWindow;
  /** pca: the input embeddings projected on their first two principal components (T, 2). */
  embeddings: { token: PanelMap; position: PanelMap; input: PanelMap; pca: Matrix };
  // For long texts the T×T stages are null here and sent on request ('requestGroup') when their
  // section is shown: a 2,048-token trace has hundreds of MB of them.
  simple: { scores: PanelMap; weights: PanelMap; context: PanelMap } | null;
  selfAttention: { scores: PanelMap; weights: PanelMap; context: PanelMap } | null;
  /** maskedScores: absent when the maps are codes (only the tooltip reads it: asked per cell). */
  causal: { maskedScores?: Matrix; weights: PanelMap; droppedWeights: PanelMap; context: PanelMap } | null;
  multiHead: {
    /** One entry per head; null until requested as group `head:<index>` (long texts). */
    heads: (PanelHead | null)[];
    concat: PanelMap;
    output: PanelMap;
  };
  layerNorm: {
    mean: Float32Array;
    variance: Float32Array;
    output: PanelMap;
    outputMean: Float32Array;
    outputVariance: Float32Array;
  };
  /**
   * Where the weights come from: 'seeded' (initialised from config.seed, untrained) or the file
   * name of the weights file (llm101.weightsPath). Absent: treated as 'seeded'. The panel's
   * "seeded, untrained" notes are driven by this one field (a trained checkpoint names itself).
   */
  weightsSource?: WeightsSource;
  /** The model (feed-forward, blocks, next token): seeded with llm101.layers blocks, or a GPT checkpoint's. */
  model?: PanelModel;
  /** Why the model could not run on this text (shown in the model sections); the stages are unaffected. */
  modelError?: string;
  /**
   * The book's 3-d "Your journey starts with one step" example through simple attention
   * (journeyExample() of src/engine/examples.ts: inputs (6, 3), scores = x·xᵀ, weights =
   * softmax(scores) row by row, context = weights·x), shown beside the user's text in stage 3.
   */
  journey?: JourneyAttention;
}

/** 'seeded', or the name of the weights file the trace ran with. */
export type WeightsSource = 'seeded' | (string & {});

/** Simple attention on the book's example, exact (6 tokens): what stage 3 shows beside the user's text. */
export interface JourneyAttention {
  tokens: string[];
  inputs: Matrix; // (6, 3)
  scores: Matrix; // (6, 6)
  weights: Matrix; // (6, 6)
  context: Matrix; // (6, 3)
}

/** The parts of a trace that are sent on request: a stage, or one head by index. */
// 'blocks': every layer × head attention map as a thumbnail (PanelBlockThumbs); `block:L`: block
// L's maps in full (PanelBlock), recomputed by the engine from the residual stream it keeps.
export type LazyGroup = 'simple' | 'selfAttention' | 'causal' | `head:${number}` | 'blocks' | `block:${number}`;
export const isLazyGroup = (v: unknown): v is LazyGroup =>
  typeof v === 'string' && /^(simple|selfAttention|causal|blocks|head:\d{1,4}|block:\d{1,3})$/.test(v);

/** The model's sizes as the panel names them. */
export interface PanelModelConfig {
  vocabSize: number;
  dim: number;
  heads: number;
  layers: number;
  contextLength: number;
  qkvBias: boolean;
}

/** One next-token distribution: the top tokens at `position` (0-based), probabilities in [0, 1]. */
export interface NextTokenView {
  position: number;
  temperature: number;
  /** null: the whole vocabulary (no top-k cut). */
  topK: number | null;
  tokens: { id: number; text: string; probability: number }[];
}

/**
 * The model part of a trace (book chapter 4: feed-forward, shortcuts, blocks, logits): what the
 * model sections draw at once. Attention maps of the blocks come on request ('blocks', `block:L`).
 */
export interface PanelModel {
  config: PanelModelConfig;
  /** 'seeded' (untrained) or the checkpoint's file name; the same rule as PanelTrace.weightsSource. */
  source: string;
  /** Parameters of the model, counting a tied output head once. */
  parameters: number;
  /** Per block, the L2 norm of each token's residual vector entering it, after attention's shortcut and after the feed-forward's. (T) each */
  residualNorms: { input: Float32Array; afterAttention: Float32Array; output: Float32Array }[];
  /** Block 0's feed-forward: up to GELU_SAMPLE of its pre-activations (for the GELU curve) and the hidden activations (T, 4·dim). */
  feedForward: { layer: number; preActivations: Float32Array; hidden: PanelMap; hiddenShare: { negative: number; nearZero: number } };
  /** The next token after the last position, temperature 1, the top 10. */
  nextToken: NextTokenView;
}

/** The 'blocks' group: per layer, per head, the attention weights downsampled to at most THUMB_SIDE a side. */
export interface PanelBlockThumbs {
  thumbs: MapCodes[][]; // [layer][head]
}

/** A `block:L` group: the block's attention weights per head (T, T) and its feed-forward activations. */
export interface PanelBlock {
  layer: number;
  heads: PanelMap[]; // each (T, T), 0 above the diagonal
  hidden: PanelMap; // (T, 4·dim) after GELU
  preActivations: Float32Array;
}

/** A head as the panel draws it: its weights after dropout; the rest only for the tooltip (absent with codes). */
export interface PanelHead {
  scores?: Matrix;
  weights?: Matrix;
  droppedWeights: PanelMap;
  context?: Matrix;
}

export interface KnobValues {
  heads: number;
  dropout: number;
  seed: number;
  dim: number;
  tokenizer: string;
}

// ---- host -> webview ----
export type HostMessage =
  | { type: 'trace'; runId: number; title: string; source: string; trace: PanelTrace; elapsedMs: number }
  | { type: 'busy'; runId: number; stage: string }
  // section: the stage a setting made invalid elsewhere breaks (e.g. heads → 'attention-heads'):
  // the panel shows the message at the top of that section as well as in the bar.
  | { type: 'error'; runId: number; message: string; section?: SectionId }
  | { type: 'knobs'; values: KnobValues }
  // `data` is the group's part of PanelTrace, its maps as MapCodes (causal ones as lower triangles).
  | { type: 'group'; runId: number; group: LazyGroup; data: object }
  // The exact values of a window of cells, one Float32Array (rows·cols, row by row) per path;
  // with `approximate`, the values their display codes stand for (the standalone report).
  | CellsReply
  | { type: 'reveal'; section: SectionId }
  | { type: 'highlightToken'; index: number | null }
  | { type: 'nextToken'; runId: number; view: NextTokenView }
  // Generation into the editor (LLM 101: Continue Text) started, grew or ended; the panel follows.
  | { type: 'generation'; state: 'running' | 'done' | 'cancelled' | 'error'; text: string; tokens: number; message?: string }
  // A knob value the host would not write (e.g. heads that do not divide the dimension): shown
  // next to that knob; the setting keeps its old value.
  | { type: 'knobRefused'; knob: Knob; value: number | string; message: string };

// ---- webview -> host ----
export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'setKnob'; knob: Knob; value: number | string }
  // index: the hovered token (a map's query row); key: the key column of a hovered cell, if any.
  | { type: 'hoverToken'; index: number | null; key?: number | null }
  | { type: 'requestGroup'; runId: number; group: LazyGroup }
  // Exact values of a window of the matrices at `paths` (e.g. "causal.weights"), for hover and zoom.
  | CellsRequest
  | { type: 'exportPng'; name: string; dataUrl: string }
  | { type: 'exportJson' }
  | { type: 'exportCsv'; matrix: string }
  // The next-token distribution at a position, with the sampling knobs of the next-token section.
  | { type: 'requestNextToken'; runId: number; position: number; temperature: number; topK: number | null }
  // Continue Text from the panel's button: generate after the analyzed text in its editor.
  | { type: 'generate'; maxNewTokens: number; temperature: number; topK: number | null }
  | { type: 'cancelGeneration' }
  // Move the context window to start at token `from` (null: back to the last tokens).
  | { type: 'moveWindow'; from: number | null }
  | { type: 'rendered'; runId: number; ms: number }
  | { type: 'log'; level: 'info' | 'error'; message: string };

/** A window of cells of one or more matrices of the same shape: rows r0.., columns c0.. */
interface CellsWindow extends CellsQuery {
  runId: number;
}

export interface CellsRequest extends CellsWindow {
  type: 'requestCells';
}

export interface CellsReply extends CellsWindow {
  type: 'cells';
  /** One Float32Array (rows·cols, row by row) per path. */
  values: Float32Array[];
  /**
   * Set by the standalone report, which has no host to compute exact values: each value is its
   * cell's display code decoded (codeValues), within half a colour level of the exact one; a value
   * at or below `floors[i]` (the top of a log scale's lowest level) means "below floors[i]".
   */
  approximate?: { floors: number[] };
}

/** The largest window a 'requestCells' may ask for, per side: a tooltip's block or a zoomed view. */
export const MAX_CELLS_SIDE = 64;
export const MAX_CELL_PATHS = 4;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isStr = (v: unknown, max = 1 << 20): v is string => typeof v === 'string' && v.length <= max;

/** A window of cells of one or more matrices (the webview's requestCells, the engine's cells). */
export interface CellsQuery {
  paths: string[];
  r0: number;
  c0: number;
  rows: number;
  cols: number;
}

/** Matrix paths as the trace names them: "causal.weights", "multiHead.heads.3.scores". */
export const isMatrixPath = (v: unknown): v is string =>
  typeof v === 'string' && v.length <= 100 && /^[A-Za-z]+(\.(\d{1,4}|[A-Za-z]+)){1,3}$/.test(v);

/** A cells window as the webview may ask for it: at most MAX_CELLS_SIDE a side, MAX_CELL_PATHS paths. */
export function parseCellsQuery(raw: Record<string, unknown>): CellsQuery | undefined {
  const { paths, r0, c0, rows, cols } = raw;
  const index = (v: unknown): v is number => isInt(v) && v >= 0;
  const side = (v: unknown): v is number => isInt(v) && v >= 1 && v <= MAX_CELLS_SIDE;
  if (!index(r0) || !index(c0) || !side(rows) || !side(cols)) return undefined;
  if (!Array.isArray(paths) || paths.length < 1 || paths.length > MAX_CELL_PATHS || !paths.every(isMatrixPath)) return undefined;
  return { paths: [...paths] as string[], r0, c0, rows, cols };
}


/** Returns the message typed when it is well formed, else undefined. */
export function parseWebviewMessage(raw: unknown): WebviewMessage | undefined {
  if (!isObject(raw) || typeof raw.type !== 'string') return undefined;
  switch (raw.type) {
    case 'ready':
    case 'exportJson':
      return { type: raw.type };
    case 'setKnob':
      if (!(KNOBS as readonly unknown[]).includes(raw.knob)) return undefined;
      if (!(typeof raw.value === 'number' ? Number.isFinite(raw.value) : isStr(raw.value, 100))) return undefined;
      return { type: 'setKnob', knob: raw.knob as Knob, value: raw.value as number | string };
    case 'hoverToken': {
      const index = (v: unknown): v is number | null => v === null || (isInt(v) && v >= 0);
      if (!index(raw.index) || !(raw.key === undefined || index(raw.key))) return undefined;
      return raw.key === undefined ? { type: 'hoverToken', index: raw.index } : { type: 'hoverToken', index: raw.index, key: raw.key };
    }
    case 'exportPng':
      return isStr(raw.name, 200) && isStr(raw.dataUrl, 64 << 20) && raw.dataUrl.startsWith('data:image/png;base64,')
        ? { type: 'exportPng', name: raw.name, dataUrl: raw.dataUrl }
        : undefined;
    case 'requestGroup':
      return isInt(raw.runId) && isLazyGroup(raw.group) ? { type: 'requestGroup', runId: raw.runId, group: raw.group } : undefined;
    case 'requestCells': {
      const query = parseCellsQuery(raw);
      return isInt(raw.runId) && query ? { type: 'requestCells', runId: raw.runId, ...query } : undefined;
    }
    case 'exportCsv':
      return isStr(raw.matrix, 200) ? { type: 'exportCsv', matrix: raw.matrix } : undefined;
    case 'requestNextToken': {
      const { runId, position, temperature, topK } = raw;
      if (!isInt(runId) || !isInt(position) || position < 0 || !isSampling(temperature, topK)) return undefined;
      return { type: 'requestNextToken', runId, position, temperature, topK: topK as number | null };
    }
    case 'generate': {
      const { maxNewTokens, temperature, topK } = raw;
      if (!isInt(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > MAX_NEW_TOKENS || !isSampling(temperature, topK)) return undefined;
      return { type: 'generate', maxNewTokens, temperature, topK: topK as number | null };
    }
    case 'cancelGeneration':
      return { type: 'cancelGeneration' };
    case 'moveWindow':
      return raw.from === null || (isInt(raw.from) && raw.from >= 0) ? { type: 'moveWindow', from: raw.from } : undefined;
    case 'rendered':
      return isInt(raw.runId) && typeof raw.ms === 'number' ? { type: 'rendered', runId: raw.runId, ms: raw.ms } : undefined;
    case 'log':
      return (raw.level === 'info' || raw.level === 'error') && isStr(raw.message, 10_000)
        ? { type: 'log', level: raw.level, message: raw.message }
        : undefined;
    default:
      return undefined;
  }
}

/** The most tokens one Continue Text adds. */
export const MAX_NEW_TOKENS = 1000;

/** Temperature 0 (greedy) to 10; top-k a whole number from 1, or null for no cut. */
export function isSampling(temperature: unknown, topK: unknown): temperature is number {
  return typeof temperature === 'number' && temperature >= 0 && temperature <= 10 && (topK === null || (isInt(topK) && topK >= 1));
}

const isMatrix = (v: unknown): v is Matrix =>
  isObject(v) && isInt(v.rows) && isInt(v.cols) && v.data instanceof Float32Array && v.data.length === v.rows * v.cols;

/** The webview's check of what the host sends (shape of the envelope and of every matrix). */
export function parseHostMessage(raw: unknown): HostMessage | undefined {
  if (!isObject(raw) || typeof raw.type !== 'string') return undefined;
  switch (raw.type) {
    case 'trace': {
      const t = raw.trace;
      if (!isInt(raw.runId) || !isStr(raw.title) || !isStr(raw.source, 1 << 24) || !isObject(t)) return undefined;
      if (!Array.isArray(t.tokens) || !isObject(t.config)) return undefined;
      const rows = t.tokens.length;
      const matrices = collectMatrices(t);
      if (!matrices.every(isPanelMap)) return undefined;
      if (!isObject(t.layerNorm) || !isPanelMap(t.layerNorm.output) || t.layerNorm.output.rows !== rows) return undefined;
      if (t.weightsSource !== undefined && !isStr(t.weightsSource, 500)) return undefined;
      if (t.journey !== undefined && !isJourney(t.journey)) return undefined;
      if (t.model !== undefined && !isPanelModel(t.model, rows)) return undefined;
      if (t.window !== undefined && !isWindow(t.window, rows)) return undefined;
      return raw as HostMessage;
    }
    case 'group': {
      if (!isInt(raw.runId) || !isLazyGroup(raw.group) || !isObject(raw.data)) return undefined;
      const matrices = collectMatrices(raw.data);
      return matrices.length > 0 && matrices.every(isPanelMap) ? (raw as HostMessage) : undefined;
    }
    case 'cells': {
      const { runId, paths, r0, c0, rows, cols, values } = raw;
      if (!isInt(runId) || !isInt(r0) || !isInt(c0) || !isInt(rows) || !isInt(cols) || rows < 1 || cols < 1) return undefined;
      if (!Array.isArray(paths) || !paths.every(isMatrixPath) || !Array.isArray(values) || values.length !== paths.length) return undefined;
      if (!values.every((v) => v instanceof Float32Array && v.length === rows * cols)) return undefined;
      const approx = raw.approximate;
      if (approx !== undefined) {
        const floors = isObject(approx) ? approx.floors : undefined;
        if (!Array.isArray(floors) || floors.length !== paths.length || !floors.every((f) => typeof f === 'number' && !Number.isNaN(f))) return undefined;
      }
      return raw as HostMessage;
    }
    case 'busy':
      return isInt(raw.runId) && isStr(raw.stage, 200) ? (raw as HostMessage) : undefined;
    case 'nextToken':
      return isInt(raw.runId) && isNextToken(raw.view) ? (raw as HostMessage) : undefined;
    case 'generation':
      return ['running', 'done', 'cancelled', 'error'].includes(raw.state as string) && isStr(raw.text, 1 << 20) && isInt(raw.tokens)
        && (raw.message === undefined || isStr(raw.message, 10_000))
        ? (raw as HostMessage)
        : undefined;
    case 'error':
      return isInt(raw.runId) && isStr(raw.message, 10_000) && (raw.section === undefined || (SECTIONS as readonly unknown[]).includes(raw.section))
        ? (raw as HostMessage)
        : undefined;
    case 'knobs':
      return isObject(raw.values) ? (raw as HostMessage) : undefined;
    case 'reveal':
      return (SECTIONS as readonly unknown[]).includes(raw.section) ? (raw as HostMessage) : undefined;
    case 'highlightToken':
      return raw.index === null || isInt(raw.index) ? (raw as HostMessage) : undefined;
    case 'knobRefused':
      return (KNOBS as readonly unknown[]).includes(raw.knob) && isStr(raw.message, 1000) && (typeof raw.value === 'number' || isStr(raw.value, 100))
        ? (raw as HostMessage)
        : undefined;
    default:
      return undefined;
  }
}

/** A window of `rows` tokens inside the text's: 0 <= from < to <= of. */
function isWindow(v: unknown, rows: number): v is ContextWindow {
  return isObject(v) && isInt(v.from) && isInt(v.to) && isInt(v.of) && v.from >= 0 && v.to - v.from === rows && v.to <= v.of;
}

function isJourney(v: unknown): v is JourneyAttention {
  if (!isObject(v) || !Array.isArray(v.tokens) || !v.tokens.every((t) => isStr(t, 100))) return false;
  const n = v.tokens.length;
  const { inputs, scores, weights, context } = v;
  return isMatrix(inputs) && isMatrix(scores) && isMatrix(weights) && isMatrix(context) && inputs.rows === n
    && scores.rows === n && scores.cols === n && weights.rows === n && weights.cols === n && context.rows === n && context.cols === inputs.cols;
}

/** Every object under `value` that looks like a matrix (has rows/cols/data), for validation. */
function collectMatrices(value: unknown, out: unknown[] = [], depth = 0): unknown[] {
  if (!isObject(value) || depth > 6) return out;
  if ('rows' in value && 'cols' in value && ('data' in value || 'codes' in value)) {
    out.push(value);
    return out;
  }
  for (const child of Object.values(value)) {
    if (Array.isArray(child)) for (const item of child) collectMatrices(item, out, depth + 1);
    else if (!ArrayBuffer.isView(child)) collectMatrices(child, out, depth + 1);
  }
  return out;
}

export const isPanelMap = (v: unknown): v is PanelMap => isMatrix(v) || isMapCodes(v);

function isNextToken(v: unknown): v is NextTokenView {
  if (!isObject(v) || !isInt(v.position) || typeof v.temperature !== 'number' || !(v.topK === null || isInt(v.topK))) return false;
  return Array.isArray(v.tokens) && v.tokens.every((t) =>
    isObject(t) && isInt(t.id) && isStr(t.text, 1000) && typeof t.probability === 'number' && t.probability >= 0 && t.probability <= 1);
}

function isPanelModel(v: unknown, tokens: number): v is PanelModel {
  if (!isObject(v) || !isObject(v.config) || !isStr(v.source, 500) || typeof v.parameters !== 'number') return false;
  const layers = v.config.layers;
  if (!isInt(layers) || !Array.isArray(v.residualNorms) || v.residualNorms.length !== layers) return false;
  const norms = v.residualNorms.every((n) => isObject(n) && [n.input, n.afterAttention, n.output].every((a) => a instanceof Float32Array && a.length === tokens));
  const ff = v.feedForward;
  return norms && isObject(ff) && ff.preActivations instanceof Float32Array && isPanelMap(ff.hidden) && isNextToken(v.nextToken);
}
