// The contract between the extension host and the compare view's webview (two models on the
// same text), and the view the engine builds for it (src/worker/compareView.ts). Like the
// playground's protocol, every message is checked on receipt and anything malformed is ignored.
import { isMapCodes, type MapCodes } from './codes';
import type { NextTokenView, PanelModelConfig } from './protocol';
import type { ContextWindow } from './windowText';

/** One model of the comparison, as the view names it. */
export interface CompareSide {
  /** "A: the playground's model", "B: seeded 7 (untrained)". */
  label: string;
  /** The model's source: 'seeded N (untrained)' or the checkpoint's file name. */
  source: string;
  tokenizer: string;
  config: PanelModelConfig;
  /** The tokens the model read (the window's, when the text is longer than its context). */
  tokens: string[];
  window?: ContextWindow;
}

/** One map of both models: A's, B's, A − B where the shapes agree, or a sentence where they do not. */
export interface CompareMap {
  /** "causal.weights", "multiHead.heads.2", "block.1.3" (block 2, head 4). */
  id: string;
  /** The section it belongs to: "Causal attention", "Transformer block 2". */
  group: string;
  title: string;
  /** What a colour measures, with units. */
  measures: string;
  rowAxis: string;
  colAxis: string;
  /** The exact maps' shapes (rows, cols); absent for a model without this map. */
  shapes: { a?: [number, number]; b?: [number, number] };
  a?: MapCodes;
  b?: MapCodes;
  /** A − B on a scale centred on 0 (−max|A − B| .. +max|A − B|). */
  diff?: MapCodes;
  maxAbsDiff?: number;
  /** Why there is no difference map (shapes or tokens differ, or only one model has the map). */
  note?: string;
  /** Set when the maps were pooled for drawing: how. */
  pooled?: string;
}

/** The next token after each model's last token; `both` when the vocabularies are the same. */
export interface NextTokenComparison {
  a: NextTokenView;
  b: NextTokenView;
  /** The union of both top lists, with each model's probability (0..1) of each token. */
  both?: { id: number; text: string; a: number; b: number }[];
}

export interface CompareView {
  a: CompareSide;
  b: CompareSide;
  /** Both models read the same tokens (same tokenizer split and window). */
  sameTokens: boolean;
  maps: CompareMap[];
  nextToken: NextTokenComparison;
}

// ---- host -> compare webview ----
export type CompareHostMessage =
  | { type: 'compare'; title: string; view: CompareView; elapsedMs: number }
  | { type: 'busy'; stage: string }
  | { type: 'error'; message: string };

// ---- compare webview -> host ----
export type CompareWebviewMessage =
  | { type: 'ready' }
  // pick another model B (the same quick pick as "Compare with…")
  | { type: 'pickOther' }
  | { type: 'log'; level: 'info' | 'error'; message: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isStr = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isShape = (v: unknown): v is [number, number] => Array.isArray(v) && v.length === 2 && v.every((n) => isInt(n) && n >= 0);

function isSide(v: unknown): v is CompareSide {
  return isObject(v) && isStr(v.label, 500) && isStr(v.source, 500) && isStr(v.tokenizer, 20) && isObject(v.config)
    && Array.isArray(v.tokens) && v.tokens.every((t) => isStr(t, 1000));
}

function isCompareMap(v: unknown): v is CompareMap {
  if (!isObject(v) || !isStr(v.id, 100) || !isStr(v.group, 200) || !isStr(v.title, 200) || !isStr(v.measures, 500)) return false;
  if (!isObject(v.shapes) || !(v.shapes.a === undefined || isShape(v.shapes.a)) || !(v.shapes.b === undefined || isShape(v.shapes.b))) return false;
  return [v.a, v.b, v.diff].every((m) => m === undefined || isMapCodes(m)) && (v.note === undefined || isStr(v.note, 2000));
}

function isProbabilities(v: unknown): boolean {
  return isObject(v) && Array.isArray(v.tokens) && v.tokens.every((t) => isObject(t) && isStr(t.text, 1000) && typeof t.probability === 'number');
}

export function isCompareView(v: unknown): v is CompareView {
  if (!isObject(v) || !isSide(v.a) || !isSide(v.b) || typeof v.sameTokens !== 'boolean') return false;
  if (!Array.isArray(v.maps) || !v.maps.every(isCompareMap)) return false;
  const next = v.nextToken;
  return isObject(next) && isProbabilities(next.a) && isProbabilities(next.b)
    && (next.both === undefined || (Array.isArray(next.both) && next.both.every((t) => isObject(t) && isStr(t.text, 1000) && typeof t.a === 'number' && typeof t.b === 'number')));
}

/** The webview's check of what the host sends. */
export function parseCompareHostMessage(raw: unknown): CompareHostMessage | undefined {
  if (!isObject(raw)) return undefined;
  switch (raw.type) {
    case 'compare':
      return isStr(raw.title, 500) && typeof raw.elapsedMs === 'number' && isCompareView(raw.view) ? (raw as CompareHostMessage) : undefined;
    case 'busy':
      return isStr(raw.stage, 200) ? { type: 'busy', stage: raw.stage } : undefined;
    case 'error':
      return isStr(raw.message, 10_000) ? { type: 'error', message: raw.message } : undefined;
    default:
      return undefined;
  }
}

/** The host's check of what the compare webview sends. */
export function parseCompareWebviewMessage(raw: unknown): CompareWebviewMessage | undefined {
  if (!isObject(raw)) return undefined;
  switch (raw.type) {
    case 'ready':
    case 'pickOther':
      return { type: raw.type };
    case 'log':
      return (raw.level === 'info' || raw.level === 'error') && isStr(raw.message, 10_000) ? { type: 'log', level: raw.level, message: raw.message } : undefined;
    default:
      return undefined;
  }
}
