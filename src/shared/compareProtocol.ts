// The contract between the extension host and the compare view's webview (two models on the
// same text), and the view the engine builds for it (src/worker/compareView.ts). Like the
// playground's protocol, each type comes from its valibot schema, every message is checked on
// receipt with it, and anything malformed is ignored.
import * as v from 'valibot';
import { MapCodesSchema } from './codes';
import { ContextWindowSchema, LogSchema, NextTokenViewSchema, PanelModelConfigSchema } from './protocol';
import { index, num, parse, text } from './wire';

/** A map's shape as (rows, cols). */
const ShapeSchema = v.tuple([index, index]);

/** One model of the comparison, as the view names it. */
const CompareSideSchema = v.object({
  /** "A: the playground's model", "B: seeded 7 (untrained)". */
  label: text(500),
  /** The model's source: 'seeded N (untrained)' or the checkpoint's file name. */
  source: text(500),
  tokenizer: text(20),
  config: PanelModelConfigSchema,
  /** The tokens the model read (the window's, when the text is longer than its context). */
  tokens: v.array(text(1000)),
  window: v.optional(ContextWindowSchema),
});
export type CompareSide = v.InferOutput<typeof CompareSideSchema>;

/** One map of both models: A's, B's, A − B where the shapes agree, or a sentence where they do not. */
const CompareMapSchema = v.object({
  /** "causal.weights", "multiHead.heads.2", "block.1.3" (block 2, head 4). */
  id: text(100),
  /** The section it belongs to: "Causal attention", "Transformer block 2". */
  group: text(200),
  title: text(200),
  /** What a colour measures, with units. */
  measures: text(500),
  rowAxis: text(200),
  colAxis: text(200),
  /** The exact maps' shapes (rows, cols); absent for a model without this map. */
  shapes: v.object({ a: v.optional(ShapeSchema), b: v.optional(ShapeSchema) }),
  a: v.optional(MapCodesSchema),
  b: v.optional(MapCodesSchema),
  /** A − B on a scale centred on 0 (−max|A − B| .. +max|A − B|). */
  diff: v.optional(MapCodesSchema),
  maxAbsDiff: v.optional(num),
  /** Why there is no difference map (shapes or tokens differ, or only one model has the map). */
  note: v.optional(text(2000)),
  /** Set when the maps were pooled for drawing: how. */
  pooled: v.optional(text(500)),
});
export type CompareMap = v.InferOutput<typeof CompareMapSchema>;

/** The next token after each model's last token; `both` when the vocabularies are the same. */
const NextTokenComparisonSchema = v.object({
  a: NextTokenViewSchema,
  b: NextTokenViewSchema,
  /** The union of both top lists, with each model's probability (0..1) of each token. */
  both: v.optional(v.array(v.object({ id: index, text: text(1000), a: num, b: num }))),
});
export type NextTokenComparison = v.InferOutput<typeof NextTokenComparisonSchema>;

/** The engine's answer to 'compare' (src/worker/compareView.ts), as the host receives it and the compare view draws it. */
export const CompareViewSchema = v.object({
  a: CompareSideSchema,
  b: CompareSideSchema,
  /** Both models read the same tokens (same tokenizer split and window). */
  sameTokens: v.boolean(),
  maps: v.array(CompareMapSchema),
  nextToken: NextTokenComparisonSchema,
});
export type CompareView = v.InferOutput<typeof CompareViewSchema>;

// ---- host -> compare webview ----
const CompareHostMessageSchema = v.variant('type', [
  v.object({ type: v.literal('compare'), title: text(500), view: CompareViewSchema, elapsedMs: num }),
  v.object({ type: v.literal('busy'), stage: text(200) }),
  v.object({ type: v.literal('error'), message: text(10_000) }),
]);
export type CompareHostMessage = v.InferOutput<typeof CompareHostMessageSchema>;

// ---- compare webview -> host ----
const CompareWebviewMessageSchema = v.variant('type', [
  v.object({ type: v.literal('ready') }),
  // pick another model B (the same quick pick as "Compare with…")
  v.object({ type: v.literal('pickOther') }),
  LogSchema,
]);
export type CompareWebviewMessage = v.InferOutput<typeof CompareWebviewMessageSchema>;

/** The webview's check of what the host sends. */
export const parseCompareHostMessage = (raw: unknown): CompareHostMessage | undefined => parse(CompareHostMessageSchema, raw);

/** The host's check of what the compare webview sends. */
export const parseCompareWebviewMessage = (raw: unknown): CompareWebviewMessage | undefined => parse(CompareWebviewMessageSchema, raw);
