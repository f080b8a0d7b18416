// The only contract between the extension host and the panel's webview. Each message's type comes
// from its valibot schema below, and each side checks what it receives with the same schema
// (parseWebviewMessage, parseHostMessage): anything malformed is ignored (and logged), never trusted.
import * as v from 'valibot';
import { MapCodesSchema } from './codes';
import { ExperimentQuerySchema, ExperimentResultSchema } from './experimentsProtocol';
import type { ContextWindow } from './windowText';
import { MatrixSchema, TraceConfigSchema, TokenSchema, finite, float32, index, int, mirrors, num, parse, text } from './wire';

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

/**
 * The model's sections (book chapter 4), after the seven stages, shown when the trace has a model;
 * then the experiments on it (logit lens, attribution, patching), which the standalone report leaves out.
 */
export const MODEL_SECTIONS = ['feed-forward', 'blocks', 'next-token', 'logit-lens', 'attribution', 'patching'] as const;
export type ModelSectionId = (typeof MODEL_SECTIONS)[number];

/** The knobs the panel can change; each maps to the `llm101.<key>` setting. */
export const KNOBS = ['heads', 'dropout', 'seed', 'dim', 'tokenizer'] as const;
export type Knob = (typeof KNOBS)[number];

/**
 * A heatmap's cells as they cross postMessage: exact (up to LAZY_ABOVE tokens) or, for long
 * texts, one display code a cell (MapCodes: a quarter of the bytes, the panel asks the host for
 * the exact values of the cells it hovers or zooms into with 'requestCells').
 */
export const PanelMapSchema = v.union([MatrixSchema, MapCodesSchema]);
export type PanelMap = v.InferOutput<typeof PanelMapSchema>;

/** Scores, weights and context of simple or self-attention: (T, T), (T, T), (T, d). */
const StageMapsSchema = v.object({ scores: PanelMapSchema, weights: PanelMapSchema, context: PanelMapSchema });
export type StageMaps = v.InferOutput<typeof StageMapsSchema>;

/** maskedScores: absent when the maps are codes (only the tooltip reads it: asked per cell). */
const CausalMapsSchema = v.object({
  maskedScores: v.optional(MatrixSchema), weights: PanelMapSchema, droppedWeights: PanelMapSchema, context: PanelMapSchema,
});
export type CausalMaps = v.InferOutput<typeof CausalMapsSchema>;

/** A head as the panel draws it: its weights after dropout; the rest only for the tooltip (absent with codes). */
const PanelHeadSchema = v.object({
  scores: v.optional(MatrixSchema),
  weights: v.optional(MatrixSchema),
  droppedWeights: PanelMapSchema,
  context: v.optional(MatrixSchema),
});
export type PanelHead = v.InferOutput<typeof PanelHeadSchema>;

/** Simple attention on the book's example, exact (6 tokens): what stage 3 shows beside the user's text. */
const JourneySchema = v.pipe(
  v.object({
    tokens: v.array(text(100)),
    inputs: MatrixSchema, // (6, 3)
    scores: MatrixSchema, // (6, 6)
    weights: MatrixSchema, // (6, 6)
    context: MatrixSchema, // (6, 3)
  }),
  v.check(({ tokens, inputs, scores, weights, context }) => {
    const n = tokens.length;
    return inputs.rows === n && [scores, weights].every((m) => m.rows === n && m.cols === n) && context.rows === n && context.cols === inputs.cols;
  }, 'the example\'s maps are (tokens, tokens) and its vectors (tokens, 3)'),
);
export type JourneyAttention = v.InferOutput<typeof JourneySchema>;

/** The parts of a trace that are sent on request: the token and position embeddings, a stage, or one head by index. */
// 'blocks': every layer × head attention map as a thumbnail (PanelBlockThumbs); `block:L`: block
// L's maps in full (PanelBlock), recomputed by the engine from the residual stream it keeps.
// 'multiHeadOut': the concatenated heads and the output projection of a long text, (T, attnDim) each.
export type LazyGroup = 'embeddings' | 'simple' | 'selfAttention' | 'causal' | `head:${number}` | 'multiHeadOut' | 'blocks' | `block:${number}`;
const pattern = <T extends string>(re: RegExp) => v.custom<T>((x) => typeof x === 'string' && re.test(x), `a string like ${re.source}`);
const HeadGroupSchema = pattern<`head:${number}`>(/^head:\d{1,4}$/);
const BlockGroupSchema = pattern<`block:${number}`>(/^block:\d{1,3}$/);
export const LazyGroupSchema = v.union([v.picklist(['embeddings', 'simple', 'selfAttention', 'causal', 'multiHeadOut', 'blocks']), HeadGroupSchema, BlockGroupSchema]);
export const isLazyGroup = (x: unknown): x is LazyGroup => v.is(LazyGroupSchema, x);

/** A context window of a text's tokens: from .. to−1 of `of` (src/engine/window.ts). */
export const ContextWindowSchema = mirrors<ContextWindow>()(v.object({ from: index, to: index, of: index }));

/** The model's sizes as the panel names them. */
export const PanelModelConfigSchema = v.object({
  vocabSize: index, dim: index, heads: index, layers: index, contextLength: index, qkvBias: v.boolean(),
});
export type PanelModelConfig = v.InferOutput<typeof PanelModelConfigSchema>;

/** Sampling for next-token views and generation: temperature 0 (greedy) to 10; topK a whole number from 1, or null for no cut. */
export const SamplingSchema = v.object({
  temperature: v.pipe(v.number(), v.minValue(0), v.maxValue(10)),
  topK: v.nullable(v.pipe(int, v.minValue(1))),
});
export type Sampling = v.InferOutput<typeof SamplingSchema>;

/** One next-token distribution: the top tokens at `position` (0-based), probabilities in [0, 1]. */
export const NextTokenViewSchema = v.object({
  position: index,
  temperature: num,
  /** null: the whole vocabulary (no top-k cut). */
  topK: v.nullable(int),
  tokens: v.array(v.object({ id: index, text: text(1000), probability: v.pipe(v.number(), v.minValue(0), v.maxValue(1)) })),
});
export type NextTokenView = v.InferOutput<typeof NextTokenViewSchema>;

/**
 * The model part of a trace (book chapter 4: feed-forward, shortcuts, blocks, logits): what the
 * model sections draw at once. Attention maps of the blocks come on request ('blocks', `block:L`).
 */
export const PanelModelSchema = v.pipe(
  v.object({
    config: PanelModelConfigSchema,
    /** 'seeded' (untrained) or the checkpoint's file name; the same rule as PanelTrace.weightsSource. */
    source: text(500),
    /** Parameters of the model, counting a tied output head once. */
    parameters: num,
    /** Per block, the L2 norm of each token's residual vector entering it, after attention's shortcut and after the feed-forward's. (T) each */
    residualNorms: v.array(v.object({ input: float32, afterAttention: float32, output: float32 })),
    /** Block 0's feed-forward: up to GELU_SAMPLE of its pre-activations (for the GELU curve) and the hidden activations (T, 4·dim). */
    feedForward: v.object({
      layer: index, preActivations: float32, hidden: PanelMapSchema, hiddenShare: v.object({ negative: num, nearZero: num }),
    }),
    /** The next token after the last position, temperature 1, the top 10. */
    nextToken: NextTokenViewSchema,
  }),
  v.check((m) => m.residualNorms.length === m.config.layers, 'one residualNorms entry per block'),
);
export type PanelModel = v.InferOutput<typeof PanelModelSchema>;

/**
 * What the panel shows first, as soon as the text is tokenized (before any stage is computed): the
 * tokens section paints from it while the rest of the trace is on its way (a long text's stages
 * take seconds). The trace that follows carries the same fields.
 */
export const PanelStartSchema = v.object({
  config: TraceConfigSchema,
  tokens: v.array(TokenSchema),
  /** How many of the tokens are the tokenizer's unknown token (word tokenizer only). */
  unknownCount: index,
  /**
   * Set when the text has more tokens than the model has positions: `tokens` are the text's
   * tokens from .. to−1 (their offsets still the whole text's), every map is the window's.
   */
  window: v.optional(ContextWindowSchema),
  /**
   * Where the weights come from: 'seeded' (initialised from config.seed, untrained) or the file
   * name of the weights file (llm101.weightsPath). Absent: treated as 'seeded'. The panel's
   * "seeded, untrained" notes are driven by this one field (a trained checkpoint names itself).
   */
  weightsSource: v.optional(text(500)),
  /** How the checkpoint was trained, when its metadata says: steps, the last evaluation's losses (nats per token), the corpus. */
  trained: v.optional(v.object({ step: index, trainLoss: v.optional(finite), valLoss: v.optional(finite), corpus: v.optional(text(500)) })),
});
export type PanelStart = v.InferOutput<typeof PanelStartSchema>;

/** What the panel shows: a trace as it crosses postMessage (typed arrays travel as binary). */
export const PanelTraceSchema = v.pipe(
  v.object({
    ...PanelStartSchema.entries,
    /** pca: the input embeddings projected on their first two principal components (T, 2). */
    // For long texts token and position are null (only their toggle shows them: group 'embeddings').
    embeddings: v.object({ token: v.nullable(PanelMapSchema), position: v.nullable(PanelMapSchema), input: PanelMapSchema, pca: MatrixSchema }),
    // For long texts the T×T stages are null here and sent on request ('requestGroup') when their
    // section is shown: a 2,048-token trace has hundreds of MB of them.
    simple: v.nullable(StageMapsSchema),
    selfAttention: v.nullable(StageMapsSchema),
    causal: v.nullable(CausalMapsSchema),
    multiHead: v.object({
      /** One entry per head; null until requested as group `head:<index>` (long texts). */
      heads: v.array(v.nullable(PanelHeadSchema)),
      /** Null for a long text in the panel until requested as group 'multiHeadOut'. */
      concat: v.nullable(PanelMapSchema),
      output: v.nullable(PanelMapSchema),
    }),
    layerNorm: v.object({
      mean: float32,
      variance: float32,
      output: PanelMapSchema,
      outputMean: float32,
      outputVariance: float32,
    }),
    /** The model (feed-forward, blocks, next token): seeded with llm101.layers blocks, or a GPT checkpoint's. */
    model: v.optional(PanelModelSchema),
    /** Why the model could not run on this text (shown in the model sections); the stages are unaffected. */
    modelError: v.optional(text(10_000)),
    /**
     * The book's 3-d "Your journey starts with one step" example through simple attention
     * (journeyExample() of src/engine/examples.ts: inputs (6, 3), scores = x·xᵀ, weights =
     * softmax(scores) row by row, context = weights·x), shown beside the user's text in stage 3.
     */
    journey: v.optional(JourneySchema),
  }),
  v.check((t) => t.layerNorm.output.rows === t.tokens.length, 'one layer-norm row per token'),
  v.check((t) => !t.window || (t.window.to - t.window.from === t.tokens.length && t.window.to <= t.window.of), 'a window of the trace\'s tokens inside the text\'s'),
  v.check((t) => !t.model || t.model.residualNorms.every((n) => [n.input, n.afterAttention, n.output].every((a) => a.length === t.tokens.length)),
    'one residual norm per token'),
);
export type PanelTrace = v.InferOutput<typeof PanelTraceSchema>;

/** 'seeded', or the name of the weights file the trace ran with. */
export type WeightsSource = 'seeded' | (string & {});

/** The 'blocks' group: per layer, per head, the attention weights downsampled to at most THUMB_SIDE a side. */
const PanelBlockThumbsSchema = v.object({ thumbs: v.array(v.array(MapCodesSchema)) }); // [layer][head]
export type PanelBlockThumbs = v.InferOutput<typeof PanelBlockThumbsSchema>;

/** A `block:L` group: the block's attention weights per head (T, T) and its feed-forward activations. */
const PanelBlockSchema = v.object({
  layer: index,
  heads: v.array(PanelMapSchema), // each (T, T), 0 above the diagonal
  hidden: PanelMapSchema, // (T, 4·dim) after GELU
  preActivations: float32,
});
export type PanelBlock = v.InferOutput<typeof PanelBlockSchema>;

/**
 * A lazily sent group and its data: the token and position embeddings, a stage's maps as PanelTrace
 * holds them (causal ones as lower triangles), one head, the blocks' thumbnails or one block. `group` says which the data is.
 */
const groupEntries = [
  v.object({ group: v.literal('embeddings'), data: v.object({ token: PanelMapSchema, position: PanelMapSchema }) }),
  v.object({ group: v.picklist(['simple', 'selfAttention']), data: StageMapsSchema }),
  v.object({ group: v.literal('causal'), data: CausalMapsSchema }),
  v.object({ group: HeadGroupSchema, data: PanelHeadSchema }),
  v.object({ group: v.literal('multiHeadOut'), data: v.object({ concat: PanelMapSchema, output: PanelMapSchema }) }),
  v.object({ group: v.literal('blocks'), data: PanelBlockThumbsSchema }),
  v.object({ group: BlockGroupSchema, data: PanelBlockSchema }),
] as const;
export const GroupDataSchema = v.variant('group', groupEntries);
// A 'group' host message per kind of group, so that `group` and `data` stay paired.
const groupMessage = <E extends v.ObjectEntries>(entry: v.ObjectSchema<E, undefined>) => v.object({ type: v.literal('group'), runId: int, ...entry.entries });
export type GroupData = v.InferOutput<typeof GroupDataSchema>;
export type HeadGroupData = Extract<GroupData, { group: `head:${number}` }>;
export type BlockGroupData = Extract<GroupData, { group: `block:${number}` }>;
export const isHeadGroup = (g: GroupData): g is HeadGroupData => g.group.startsWith('head:');
export const isBlockGroup = (g: GroupData): g is BlockGroupData => g.group.startsWith('block:');

export const KnobValuesSchema = v.object({ heads: index, dropout: num, seed: index, dim: index, tokenizer: text(100) });
export type KnobValues = v.InferOutput<typeof KnobValuesSchema>;

/** The largest window a 'requestCells' may ask for, per side: a tooltip's block or a zoomed view. */
export const MAX_CELLS_SIDE = 64;
export const MAX_CELL_PATHS = 4;

/** Matrix paths as the trace names them: "causal.weights", "multiHead.heads.3.scores". */
export const MatrixPathSchema = v.pipe(v.string(), v.maxLength(100), v.regex(/^[A-Za-z]+(\.(\d{1,4}|[A-Za-z]+)){1,3}$/));

/** A window of cells of one or more matrices of the same shape: rows r0.., columns c0.. (at most MAX_CELLS_SIDE a side). */
export const CellsQueryEntries = {
  paths: v.pipe(v.array(MatrixPathSchema), v.minLength(1), v.maxLength(MAX_CELL_PATHS)),
  r0: index,
  c0: index,
  rows: v.pipe(int, v.minValue(1), v.maxValue(MAX_CELLS_SIDE)),
  cols: v.pipe(int, v.minValue(1), v.maxValue(MAX_CELLS_SIDE)),
};
export type CellsQuery = v.InferOutput<v.ObjectSchema<typeof CellsQueryEntries, undefined>>;

const CellsRequestSchema = v.object({ type: v.literal('requestCells'), runId: int, ...CellsQueryEntries });
export type CellsRequest = v.InferOutput<typeof CellsRequestSchema>;

const CellsReplySchema = v.object({
  type: v.literal('cells'),
  runId: int,
  paths: v.array(MatrixPathSchema),
  r0: index,
  c0: index,
  rows: v.pipe(int, v.minValue(1)),
  cols: v.pipe(int, v.minValue(1)),
  /** One Float32Array (rows·cols, row by row) per path. */
  values: v.array(float32),
  /**
   * Set by the standalone report, which has no host to compute exact values: each value is its
   * cell's display code decoded (codeValues), within half a colour level of the exact one; a value
   * at or below `floors[i]` (the top of a log scale's lowest level) means "below floors[i]".
   */
  approximate: v.optional(v.object({ floors: v.array(num) })),
});
export type CellsReply = v.InferOutput<typeof CellsReplySchema>;
const cellsReplyFits = (m: CellsReply) => m.values.length === m.paths.length && m.values.every((a) => a.length === m.rows * m.cols)
  && (!m.approximate || m.approximate.floors.length === m.paths.length);

/** The experiment kinds (lens, headRoles, ablate, scan, attribute, patch): each has its own slot in the panel. */
const ExperimentKindSchema = v.picklist(['lens', 'headRoles', 'ablate', 'scan', 'attribute', 'patch']);
export type ExperimentKind = v.InferOutput<typeof ExperimentKindSchema>;

/** The most tokens one Continue Text adds. */
export const MAX_NEW_TOKENS = 1000;

const KnobSchema = v.picklist(KNOBS);
const KnobValueSchema = v.union([finite, text(100)]);
/** A webview's log line for the host's output (its errors, and what it measured). */
export const LogSchema = v.object({ type: v.literal('log'), level: v.picklist(['info', 'error']), message: text(10_000) });

// ---- host -> webview ----
export const HostMessageSchema = v.pipe(
  v.variant('type', [
    // modelPending: the model's sections follow in a 'model' message of the same run (the stages are painted first)
    v.object({
      type: v.literal('trace'), runId: int, title: text(1 << 20), source: text(1 << 24), trace: PanelTraceSchema, elapsedMs: num,
      modelPending: v.optional(v.boolean()),
    }),
    // The model's part of run `runId`'s trace, after its stages: the model, or why it could not run.
    v.object({ type: v.literal('model'), runId: int, model: v.optional(PanelModelSchema), modelError: v.optional(text(10_000)) }),
    // The tokens of run `runId`, before its trace: the tokens section paints, the others say what is being computed.
    v.object({ type: v.literal('traceStart'), runId: int, title: text(1 << 20), source: text(1 << 24), start: PanelStartSchema }),
    v.object({ type: v.literal('busy'), runId: int, stage: text(200) }),
    // section: the stage a setting made invalid elsewhere breaks (e.g. heads → 'attention-heads'):
    // the panel shows the message at the top of that section as well as in the bar.
    v.object({ type: v.literal('error'), runId: int, message: text(10_000), section: v.optional(v.picklist(SECTIONS)) }),
    v.object({ type: v.literal('knobs'), values: KnobValuesSchema }),
    // A lazily sent part of the trace (GroupData), its maps as MapCodes (causal ones as lower triangles).
    groupMessage(groupEntries[0]), groupMessage(groupEntries[1]), groupMessage(groupEntries[2]), groupMessage(groupEntries[3]), groupMessage(groupEntries[4]), groupMessage(groupEntries[5]), groupMessage(groupEntries[6]),
    // The exact values of a window of cells, one Float32Array (rows·cols, row by row) per path;
    // with `approximate`, the values their display codes stand for (the standalone report).
    CellsReplySchema,
    v.object({ type: v.literal('reveal'), section: v.picklist(SECTIONS) }),
    v.object({ type: v.literal('highlightToken'), index: v.nullable(int) }),
    v.object({ type: v.literal('nextToken'), runId: int, view: NextTokenViewSchema }),
    // Generation into the editor (LLM 101: Continue Text) started, grew or ended; the panel follows.
    v.object({
      type: v.literal('generation'), state: v.picklist(['running', 'done', 'cancelled', 'error']), text: text(1 << 20), tokens: int,
      message: v.optional(text(10_000)),
    }),
    // A knob value the host would not write (e.g. heads that do not divide the dimension): shown
    // next to that knob; the setting keeps its old value.
    v.object({ type: v.literal('knobRefused'), knob: KnobSchema, value: KnobValueSchema, message: text(1000) }),
    // An experiment on the run on show, by the webview's request number: progress "done of total"
    // (scan, patching), its result, or why it did not run (cancelled: the learner's Cancel).
    v.object({ type: v.literal('experimentProgress'), runId: int, request: index, kind: ExperimentKindSchema, done: index, total: index }),
    v.object({ type: v.literal('experimentResult'), runId: int, request: index, result: ExperimentResultSchema }),
    v.object({ type: v.literal('experimentError'), runId: int, request: index, kind: ExperimentKindSchema, message: text(10_000), cancelled: v.boolean() }),
  ]),
  v.check((m) => m.type !== 'cells' || cellsReplyFits(m), 'one array of rows·cols values (and one floor) per path'),
);
export type HostMessage = v.InferOutput<typeof HostMessageSchema>;

// ---- webview -> host ----
export const WebviewMessageSchema = v.variant('type', [
  v.object({ type: v.literal('ready') }),
  v.object({ type: v.literal('setKnob'), knob: KnobSchema, value: KnobValueSchema }),
  // index: the hovered token (a map's query row); key: the key column of a hovered cell, if any.
  v.object({ type: v.literal('hoverToken'), index: v.nullable(index), key: v.optional(v.nullable(index)) }),
  v.object({ type: v.literal('requestGroup'), runId: int, group: LazyGroupSchema }),
  // Exact values of a window of the matrices at `paths` (e.g. "causal.weights"), for hover and zoom.
  CellsRequestSchema,
  v.object({ type: v.literal('exportPng'), name: text(200), dataUrl: v.pipe(text(64 << 20), v.startsWith('data:image/png;base64,')) }),
  v.object({ type: v.literal('exportJson') }),
  v.object({ type: v.literal('exportCsv'), matrix: text(200) }),
  // The next-token distribution at a position, with the sampling knobs of the next-token section.
  v.object({ type: v.literal('requestNextToken'), runId: int, position: index, ...SamplingSchema.entries }),
  // Continue Text from the panel's button: generate after the analyzed text in its editor.
  v.object({ type: v.literal('generate'), maxNewTokens: v.pipe(int, v.minValue(1), v.maxValue(MAX_NEW_TOKENS)), ...SamplingSchema.entries }),
  v.object({ type: v.literal('cancelGeneration') }),
  // Move the context window to start at token `from` (null: back to the last tokens).
  v.object({ type: v.literal('moveWindow'), from: v.nullable(index) }),
  v.object({ type: v.literal('rendered'), runId: int, ms: num }),
  // An experiment on the run's model (heads and layers from 0); `request` pairs it with its answer.
  v.object({ type: v.literal('experiment'), runId: int, request: index, query: ExperimentQuerySchema }),
  // Stops the scan or patching in flight (its answer is an experimentError with cancelled: true).
  v.object({ type: v.literal('cancelExperiment') }),
  LogSchema,
]);
export type WebviewMessage = v.InferOutput<typeof WebviewMessageSchema>;

/** The host's check of what the webview sends: the message typed when it is well formed, else undefined. */
export const parseWebviewMessage = (raw: unknown): WebviewMessage | undefined => parse(WebviewMessageSchema, raw);

/** The webview's check of what the host sends (the envelope and every map's shape). */
export const parseHostMessage = (raw: unknown): HostMessage | undefined => parse(HostMessageSchema, raw);
