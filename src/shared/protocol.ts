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

/**
 * A heatmap's cells as they cross postMessage: exact (up to LAZY_ABOVE tokens) or, for long
 * texts, one display code a cell (MapCodes: a quarter of the bytes, the panel asks the host for
 * the exact values of the cells it hovers or zooms into with 'requestCells').
 */
export type PanelMap = Matrix | MapCodes;

/** What the panel shows: a trace as it crosses postMessage (typed arrays travel as binary). */
export interface PanelTrace {
  config: EngineConfig & { headDim: number };
  tokens: Token[];
  /** How many of the tokens are the tokenizer's unknown token (word tokenizer only). */
  unknownCount: number;
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
}

/** The parts of a trace that are sent on request: a stage, or one head by index. */
export type LazyGroup = 'simple' | 'selfAttention' | 'causal' | `head:${number}`;
export const isLazyGroup = (v: unknown): v is LazyGroup => typeof v === 'string' && /^(simple|selfAttention|causal|head:\d{1,4})$/.test(v);

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
  | { type: 'error'; runId: number; message: string }
  | { type: 'knobs'; values: KnobValues }
  // `data` is the group's part of PanelTrace, its maps as MapCodes (causal ones as lower triangles).
  | { type: 'group'; runId: number; group: LazyGroup; data: object }
  // The exact values of a window of cells, one Float32Array (rows·cols, row by row) per path;
  // with `approximate`, the values their display codes stand for (the standalone report).
  | CellsReply
  | { type: 'reveal'; section: SectionId }
  | { type: 'highlightToken'; index: number | null };

// ---- webview -> host ----
export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'setKnob'; knob: Knob; value: number | string }
  | { type: 'hoverToken'; index: number | null }
  | { type: 'requestGroup'; runId: number; group: LazyGroup }
  // Exact values of a window of the matrices at `paths` (e.g. "causal.weights"), for hover and zoom.
  | CellsRequest
  | { type: 'exportPng'; name: string; dataUrl: string }
  | { type: 'exportJson' }
  | { type: 'exportCsv'; matrix: string }
  | { type: 'rendered'; runId: number; ms: number }
  | { type: 'log'; level: 'info' | 'error'; message: string };

/** A window of cells of one or more matrices of the same shape: rows r0.., columns c0.. */
interface CellsWindow {
  runId: number;
  /** Matrices of the trace by path, as for CSV export: "causal.maskedScores", "multiHead.heads.3.weights". */
  paths: string[];
  r0: number;
  c0: number;
  rows: number;
  cols: number;
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
const isMatrixPath = (v: unknown): v is string => typeof v === 'string' && v.length <= 100 && /^[A-Za-z]+(\.(\d{1,4}|[A-Za-z]+)){1,3}$/.test(v);

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
    case 'requestCells': {
      const { runId, paths, r0, c0, rows, cols } = raw;
      const side = (v: unknown) => isInt(v) && v >= 1 && v <= MAX_CELLS_SIDE;
      if (!isInt(runId) || !isInt(r0) || !isInt(c0) || r0 < 0 || c0 < 0 || !side(rows) || !side(cols)) return undefined;
      if (!Array.isArray(paths) || paths.length < 1 || paths.length > MAX_CELL_PATHS || !paths.every(isMatrixPath)) return undefined;
      return { type: 'requestCells', runId, paths: [...paths] as string[], r0, c0, rows: rows as number, cols: cols as number };
    }
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

// ---- the standalone report's page ----

/**
 * `llm101 analyze --html` writes the 'trace' message and each lazy group into JSON elements of the
 * page; its stand-in host (webview/reportHost.ts) answers the panel from them. Typed arrays are
 * written as { [BINARY_TAGS.float32 | BINARY_TAGS.uint8]: base64 of their little-endian bytes }.
 */
export const REPORT_TRACE_ID = 'llm101-trace';
export const reportGroupId = (group: LazyGroup) => `llm101-group-${group.replace(':', '-')}`;
export const BINARY_TAGS = { float32: '$f32', uint8: '$u8' } as const;

/** A lazy group in the report: what the host would send, and what its tooltips read (tooltipCodes). */
export interface ReportGroup {
  data: object;
  tooltip: Record<string, MapCodes>;
}

// ---- colour scales and display codes ----

/**
 * sequential: linear min..max; log: log10 from min to max (attention weights of long texts,
 * which are about 1/T each, would all look alike on a linear scale); diverging: centred on 0.
 */
export type ScaleKind = 'sequential' | 'log' | 'diverging';

export interface Scale {
  kind: ScaleKind;
  min: number;
  max: number;
}

/**
 * The one rule for colouring attention weights, used by the panel for exact maps and by the host
 * when it encodes codes. Weights lie in [0, 1] (after dropout up to 1/(1−p)). Long texts spread
 * each row over many keys (about 1/T each), so above 32 tokens the scale is logarithmic from
 * 1/(4T) up.
 */
export function weightScale(tokens: number, dropout = 0): { kind: ScaleKind; range: [number, number] } {
  const top = 1 / (1 - dropout);
  return tokens > 32 ? { kind: 'log', range: [1 / (4 * tokens), top] } : { kind: 'sequential', range: [0, top] };
}

/**
 * A heatmap as display codes, one byte a cell: codes 0..MAP_LEVELS-1 are evenly spaced positions
 * on `scale` (in log space for a log scale), CODE_DROPPED a weight that dropout zeroed,
 * CODE_MASKED a cell outside the computation (hatched). With `lower`, only the lower triangle is
 * sent, row by row (T·(T+1)/2 codes), and every cell above the diagonal is masked. Half a level
 * is 1/506 of the colour ramp: below one step of an 8-bit colour channel for our ramps.
 */
export interface MapCodes {
  rows: number;
  cols: number;
  scale: Scale;
  lower: boolean;
  codes: Uint8Array; // (rows·cols) or, with lower, (rows·(rows+1)/2)
}

export const MAP_LEVELS = 254;
export const CODE_DROPPED = 254;
export const CODE_MASKED = 255;

/** The value a level stands for (the exact value within half a level of it). */
export function levelValue(scale: Scale, level: number): number {
  const t = level / (MAP_LEVELS - 1);
  return scale.kind === 'log' ? scale.min * (scale.max / scale.min) ** t : scale.min + (scale.max - scale.min) * t;
}

/**
 * Encodes `m` for display. `range` fixes the scale's ends (attention weights); without it they are
 * the finite min and max of the cells sent. `before`: the weights before dropout, so a cell that
 * was positive there and is 0 in `m` is coded CODE_DROPPED.
 */
export function encodeMap(
  m: Matrix, scale: { kind: ScaleKind; range?: readonly [number, number] }, options: { lower?: boolean; before?: Matrix } = {},
): MapCodes {
  const lower = options.lower ?? false;
  const { rows, cols, data } = m;
  if (lower && rows !== cols) throw new Error(`a lower triangle needs a square matrix, not ${rows}×${cols}`);
  const rowEnd = (r: number) => (lower ? r + 1 : cols);
  let [min, max] = scale.range ?? [Infinity, -Infinity];
  if (!scale.range) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0, end = rowEnd(r); c < end; c++) {
        const v = data[r * cols + c] ?? NaN;
        if (!Number.isFinite(v)) continue; // masked scores (−∞) take no part in the range
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    if (min > max) [min, max] = [0, 1]; // nothing finite: every cell is masked anyway
  }
  const map: MapCodes = { rows, cols, scale: { kind: scale.kind, min, max }, lower, codes: new Uint8Array(lower ? (rows * (rows + 1)) / 2 : rows * cols) };
  const before = options.before?.data;
  // Level = round(position on the scale · (MAP_LEVELS − 1)), the position clamped to [0, 1]; on a
  // log scale it is measured in log space and 0 or less is the bottom.
  const log = scale.kind === 'log';
  const origin = log ? Math.log(min) : min;
  const perLevel = (log ? Math.log(max / min) : max - min) / (MAP_LEVELS - 1) || 1;
  const { codes } = map;
  for (let r = 0, o = 0; r < rows; r++) {
    for (let c = 0, end = rowEnd(r), i = r * cols; c < end; c++, o++, i++) {
      const v = data[i]!;
      if (!Number.isFinite(v)) codes[o] = CODE_MASKED;
      else if (before && v === 0 && before[i]! > 0) codes[o] = CODE_DROPPED;
      else {
        const level = Math.round(((log ? (v > 0 ? Math.log(v) : -Infinity) : v) - origin) / perLevel);
        codes[o] = level < 0 ? 0 : level > MAP_LEVELS - 1 ? MAP_LEVELS - 1 : level;
      }
    }
  }
  return map;
}

/** The code of cell (r, c). */
export function codeAt(map: MapCodes, r: number, c: number): number {
  if (!map.lower) return map.codes[r * map.cols + c] ?? CODE_MASKED;
  return c > r ? CODE_MASKED : map.codes[(r * (r + 1)) / 2 + c] ?? CODE_MASKED;
}

/**
 * The values the codes of a window stand for, row by row (rows·cols): a level its value, a dropped
 * weight 0; a masked cell what the trace holds there: −∞ for scores (diverging scale), 0 for
 * weights (above the diagonal of a causal map). `floor`: values at or below it stand for anything
 * from 0 up to it (the top of a log scale's lowest level, where every smaller weight is coded);
 * −∞ on linear scales, whose range covers every value coded.
 */
export function codeValues(map: MapCodes, r0: number, c0: number, rows: number, cols: number): { values: Float32Array; floor: number } {
  const { scale } = map;
  const values = new Float32Array(rows * cols);
  const masked = scale.kind === 'diverging' ? -Infinity : 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const code = codeAt(map, r0 + r, c0 + c);
      values[r * cols + c] = code < MAP_LEVELS ? levelValue(scale, code) : code === CODE_DROPPED ? 0 : masked;
    }
  }
  return { values, floor: scale.kind === 'log' ? levelValue(scale, 0.5) : -Infinity };
}

export const isMapCodes = (v: unknown): v is MapCodes => {
  if (!isObject(v) || !isInt(v.rows) || !isInt(v.cols) || typeof v.lower !== 'boolean' || !(v.codes instanceof Uint8Array)) return false;
  const s = v.scale;
  if (!isObject(s) || !['sequential', 'log', 'diverging'].includes(s.kind as string) || !Number.isFinite(s.min) || !Number.isFinite(s.max)) return false;
  if (s.kind === 'log' && !((s.min as number) > 0 && (s.max as number) > (s.min as number))) return false;
  if (v.lower) return v.rows === v.cols && v.codes.length === (v.rows * (v.rows + 1)) / 2;
  return v.codes.length === v.rows * v.cols;
};

export const isPanelMap = (v: unknown): v is PanelMap => isMatrix(v) || isMapCodes(v);
