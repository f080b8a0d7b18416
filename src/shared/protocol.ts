// The only contract between the extension host and the panel's webview. Both sides import
// these types; every message that crosses is checked with the validators below on receipt,
// and anything unknown is ignored (and logged) rather than trusted.
import type { Matrix, Token, EngineConfig } from '../engine/types';

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

/** The knobs the panel can change; each maps to the `llm101.<key>` setting. */
export const KNOBS = ['heads', 'dropout', 'seed', 'dim', 'tokenizer'] as const;
export type Knob = (typeof KNOBS)[number];

/** What the panel shows: a trace as it crosses postMessage (Float32Arrays travel as binary). */
export interface PanelTrace {
  config: EngineConfig & { headDim: number };
  tokens: Token[];
  /** How many of the tokens are the tokenizer's unknown token (word tokenizer only). */
  unknownCount: number;
  /** pca: the input embeddings projected on their first two principal components (T, 2). */
  embeddings: { token: Matrix; position: Matrix; input: Matrix; pca: Matrix };
  // For long texts the T×T stages are null here and sent on request ('requestGroup') when their
  // section is shown: a 2,048-token trace has hundreds of MB of them.
  simple: { scores: Matrix; weights: Matrix; context: Matrix } | null;
  selfAttention: { scores: Matrix; weights: Matrix; context: Matrix } | null;
  causal: { maskedScores: Matrix; weights: Matrix; droppedWeights: Matrix; context: Matrix } | null;
  multiHead: {
    /** One entry per head; null until requested as group `head:<index>` (long texts). */
    heads: (PanelHead | null)[];
    concat: Matrix;
    output: Matrix;
  };
  layerNorm: {
    mean: Float32Array;
    variance: Float32Array;
    output: Matrix;
    outputMean: Float32Array;
    outputVariance: Float32Array;
  };
}

/** The parts of a trace that are sent on request: a stage, or one head by index. */
export type LazyGroup = 'simple' | 'selfAttention' | 'causal' | `head:${number}`;
export const isLazyGroup = (v: unknown): v is LazyGroup => typeof v === 'string' && /^(simple|selfAttention|causal|head:\d{1,4})$/.test(v);

export interface PanelHead {
  scores: Matrix;
  weights: Matrix;
  droppedWeights: Matrix;
  context: Matrix;
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
  | { type: 'error'; runId: number; message: string }
  | { type: 'knobs'; values: KnobValues }
  // `data` is the group's part of PanelTrace, its causal T×T matrices packed as LowerTriangle.
  | { type: 'group'; runId: number; group: LazyGroup; data: object }
  | { type: 'reveal'; section: SectionId }
  | { type: 'highlightToken'; index: number | null };

// ---- webview -> host ----
export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'setKnob'; knob: Knob; value: number | string }
  | { type: 'hoverToken'; index: number | null }
  | { type: 'requestGroup'; runId: number; group: LazyGroup }
  | { type: 'exportPng'; name: string; dataUrl: string }
  | { type: 'exportJson' }
  | { type: 'exportCsv'; matrix: string }
  | { type: 'rendered'; runId: number; ms: number }
  | { type: 'log'; level: 'info' | 'error'; message: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isStr = (v: unknown, max = 1 << 20): v is string => typeof v === 'string' && v.length <= max;

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
    case 'hoverToken':
      return raw.index === null || (isInt(raw.index) && raw.index >= 0) ? { type: 'hoverToken', index: raw.index } : undefined;
    case 'exportPng':
      return isStr(raw.name, 200) && isStr(raw.dataUrl, 64 << 20) && raw.dataUrl.startsWith('data:image/png;base64,')
        ? { type: 'exportPng', name: raw.name, dataUrl: raw.dataUrl }
        : undefined;
    case 'requestGroup':
      return isInt(raw.runId) && isLazyGroup(raw.group) ? { type: 'requestGroup', runId: raw.runId, group: raw.group } : undefined;
    case 'exportCsv':
      return isStr(raw.matrix, 200) ? { type: 'exportCsv', matrix: raw.matrix } : undefined;
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

/**
 * A causal (lower-triangular) T×T matrix sent as its lower triangle only, row by row: half the
 * bytes over the panel's channel. `above` says what the upper triangle holds: masked scores
 * (-Infinity) or zero weights.
 */
export interface LowerTriangle {
  rows: number;
  cols: number;
  lower: Float32Array; // (T·(T+1)/2)
  above: 'masked' | 'zero';
}

export function packLower(m: Matrix, above: LowerTriangle['above']): LowerTriangle {
  const lower = new Float32Array((m.rows * (m.rows + 1)) / 2);
  for (let r = 0, o = 0; r < m.rows; o += r + 1, r++) lower.set(m.data.subarray(r * m.cols, r * m.cols + r + 1), o);
  return { rows: m.rows, cols: m.cols, lower, above };
}

export function unpackLower(p: LowerTriangle): Matrix {
  const data = new Float32Array(p.rows * p.cols).fill(p.above === 'masked' ? -Infinity : 0);
  for (let r = 0, o = 0; r < p.rows; o += r + 1, r++) data.set(p.lower.subarray(o, o + r + 1), r * p.cols);
  return { rows: p.rows, cols: p.cols, data };
}

export const isLowerTriangle = (v: unknown): v is LowerTriangle =>
  isObject(v) && isInt(v.rows) && v.rows === v.cols && v.lower instanceof Float32Array &&
  v.lower.length === (v.rows * (v.rows + 1)) / 2 && (v.above === 'masked' || v.above === 'zero');

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
      if (matrices.some((m) => !isMatrix(m))) return undefined;
      if (!isObject(t.layerNorm) || !isMatrix(t.layerNorm.output) || t.layerNorm.output.rows !== rows) return undefined;
      return raw as HostMessage;
    }
    case 'group': {
      if (!isInt(raw.runId) || !isLazyGroup(raw.group) || !isObject(raw.data)) return undefined;
      const matrices = collectMatrices(raw.data);
      return matrices.length > 0 && matrices.every((m) => isMatrix(m) || isLowerTriangle(m)) ? (raw as HostMessage) : undefined;
    }
    case 'busy':
      return isInt(raw.runId) && isStr(raw.stage, 200) ? (raw as HostMessage) : undefined;
    case 'error':
      return isInt(raw.runId) && isStr(raw.message, 10_000) ? (raw as HostMessage) : undefined;
    case 'knobs':
      return isObject(raw.values) ? (raw as HostMessage) : undefined;
    case 'reveal':
      return (SECTIONS as readonly unknown[]).includes(raw.section) ? (raw as HostMessage) : undefined;
    case 'highlightToken':
      return raw.index === null || isInt(raw.index) ? (raw as HostMessage) : undefined;
    default:
      return undefined;
  }
}

/** Every object under `value` that looks like a matrix (has rows/cols/data), for validation. */
function collectMatrices(value: unknown, out: unknown[] = [], depth = 0): unknown[] {
  if (!isObject(value) || depth > 6) return out;
  if ('rows' in value && 'cols' in value && ('data' in value || 'lower' in value)) {
    out.push(value);
    return out;
  }
  for (const child of Object.values(value)) {
    if (Array.isArray(child)) for (const item of child) collectMatrices(item, out, depth + 1);
    else if (!(child instanceof Float32Array)) collectMatrices(child, out, depth + 1);
  }
  return out;
}
