// The contract between the extension host and the engine process (src/worker/), and between the
// engine process and its threads: the host sends requests with an id, the engine answers each id
// once (after any progress messages). Every message is checked on receipt with the schemas below:
// the engine process and its threads check requests, the host checks each reply and then the
// result against the schema of the request it answers. Anything malformed is refused with a
// reply that says so, never trusted.
//
// The engine owns the traces: 'analyze' keeps the trace under a trace id and answers with what
// the panel draws first; 'group', 'cells' and 'export' read that trace later; 'release' drops it.
import * as v from 'valibot';
import type { AnalyzeRequest, TokenizeRequest, TokenizeResult } from '../engine/pipeline';
import type { GptConfig } from '../engine/gpt/types';
import type { TrainInfo, TrainRequest } from '../engine/train/session';
import { TRAIN_TASKS } from '../engine/types';
import { MapCodesSchema } from './codes';
import { ExperimentQuerySchema, ExperimentResultSchema } from './experimentsProtocol';
import { CompareViewSchema } from './compareProtocol';
import {
  CellsQueryEntries, GroupDataSchema, LazyGroupSchema, MatrixPathSchema, MAX_NEW_TOKENS, NextTokenViewSchema, PanelModelSchema, PanelStartSchema, PanelTraceSchema, SamplingSchema,
} from './protocol';
import { TokenSchema, TokenizerKindSchema, float32, index, int, loss, mirrors, num, parse, text, uint8 } from './wire';

export { SamplingSchema, type Sampling } from './protocol';

const path = text(4096);

// ---- the engine's request types, as they cross (their values are checked by the engine's own
// validators, validateSettings and checkTrainRequest, which name the fix; here their types) ----

export const AnalyzeRequestSchema = mirrors<AnalyzeRequest>()(v.object({
  text: text(1 << 28),
  tokenizer: TokenizerKindSchema,
  bpeVocabSize: num,
  corpusPath: path,
  weightsPath: v.optional(path),
  dim: num,
  heads: num,
  dropout: num,
  seed: num,
  contextLength: num,
  qkvBias: v.boolean(),
  layers: v.optional(num),
  tokenizerExplicit: v.optional(v.boolean()),
  maxTokens: v.optional(num),
  /** Where the context window starts (a token index) when the text is longer than the context. */
  windowFrom: v.optional(num),
  // the CLI's explicit sizes (--dim, ...) a weights file must agree with, and the flag to name
  explicit: v.optional(v.object({
    sizes: v.object({ vocabSize: v.optional(num), dim: v.optional(num), contextLength: v.optional(num), qkvBias: v.optional(v.boolean()) }),
    sources: v.object({ vocabSize: v.optional(text(200)), dim: v.optional(text(200)), contextLength: v.optional(text(200)), qkvBias: v.optional(text(200)) }),
  })),
}));

export const TokenizeRequestSchema = mirrors<TokenizeRequest>()(v.object({
  text: text(1 << 28),
  tokenizer: TokenizerKindSchema,
  bpeVocabSize: num,
  corpusPath: path,
  weightsPath: v.optional(path),
  tokenizerExplicit: v.optional(v.boolean()),
}));

const TrainRequestEntries = mirrors<TrainRequest>()(v.object({
  corpusPaths: v.array(path),
  task: v.optional(v.picklist(TRAIN_TASKS)),
  tokenizer: TokenizerKindSchema,
  bpeVocabSize: v.optional(num),
  dim: num,
  heads: num,
  layers: num,
  contextLength: num,
  qkvBias: v.optional(v.boolean()),
  batchSize: num,
  steps: num,
  lr: num,
  weightDecay: v.optional(num),
  seed: v.optional(num),
  dropout: v.optional(num),
  validationFraction: v.optional(num),
  clipGradNorm: v.optional(num),
  warmupSteps: v.optional(num),
  init: v.optional(path),
  batches: v.optional(v.array(v.array(v.array(int)))),
  samplePrompt: v.optional(text(1000)),
  probe: v.optional(text(1000)),
})).entries;

/** A training run as the engine process runs it: the session's request, where to save, how often to report. */
export const TrainJobSchema = v.object({
  ...TrainRequestEntries,
  /** The checkpoint to write (at every evaluation, and when the run ends or is stopped). */
  out: path,
  /** Evaluate train and validation loss (and save) every N steps. */
  evalEvery: num,
  /** Generate a sample from the fixed prompt every N steps. */
  sampleEvery: num,
  /** Keep the probe sentence's attention maps for the timelapse every N steps. */
  frameEvery: num,
  /** Also keep the checkpoint of the lowest validation loss beside `out` (default true). */
  keepBest: v.optional(v.boolean()),
  /** Evaluations in a row without a new lowest validation loss before the overfitting hint (default 3). */
  patience: v.optional(num),
});
export type TrainJob = v.InferOutput<typeof TrainJobSchema>;

const GptConfigSchema = mirrors<GptConfig>()(v.object({
  vocabSize: index, contextLength: index, dim: index, heads: index, layers: index, qkvBias: v.boolean(), layerNormEps: num,
}));

export const TrainInfoSchema = mirrors<TrainInfo>()(v.object({
  config: GptConfigSchema,
  tokenizer: TokenizerKindSchema,
  corpusChars: index,
  corpusTokens: index,
  trainTokens: index,
  validationTokens: index,
  parameters: index,
  samplePrompt: text(100_000),
  probe: v.array(text(1000)),
  init: v.optional(path),
}));

/** What a training run reports as it goes. */
export const TrainEventSchema = v.variant('kind', [
  // best: where the lowest-validation-loss checkpoint goes (absent when it is not kept)
  v.object({ kind: v.literal('prepared'), info: TrainInfoSchema, steps: index, out: path, best: v.optional(path) }),
  // The steps since the last report (at most ten a second): the newest step's numbers, and the
  // loss curve's new [step, loss] points. The run keeps a bounded curve, its points at multiples
  // of `stride`; a receiver drops the points it holds that are not multiples of a larger stride.
  v.object({
    kind: v.literal('steps'), step: index, steps: index, loss: num, lr: num, tokensPerSecond: num, elapsedMs: num, etaMs: num,
    points: v.array(v.tuple([index, num])), stride: index,
  }),
  // stride: as for the steps' points, of the evaluations kept
  v.object({ kind: v.literal('eval'), step: index, trainLoss: loss, valLoss: loss, stride: index }),
  v.object({ kind: v.literal('sample'), step: index, text: text(100_000) }),
  // roles: [layer][head] the head-role scores on the probe (induction null unless it is written twice)
  v.object({
    kind: v.literal('frame'), step: index, heads: v.array(v.array(MapCodesSchema)),
    roles: v.array(v.array(v.object({ previousToken: v.nullable(num), induction: v.nullable(num) }))),
  }),
  // best: the lowest-validation-loss checkpoint; else the last step's
  v.object({ kind: v.literal('saved'), step: index, file: path, best: v.boolean(), valLoss: loss }),
  // The validation loss has stayed above its lowest for `evaluations` evaluations in a row.
  v.object({ kind: v.literal('overfitting'), step: index, valLoss: num, bestStep: index, bestValLoss: num, evaluations: index }),
  // step: where it paused (or resumes); askedAt: the steps done when the pause arrived (step − askedAt: the steps it took, at most 1)
  v.object({ kind: v.literal('paused'), paused: v.boolean(), step: index, askedAt: v.optional(index) }),
]);
export type TrainEvent = v.InferOutput<typeof TrainEventSchema>;

// ---- host -> engine ----
const id = index;
const traceId = index;
export const EngineRequestSchema = v.pipe(v.variant('op', [
  v.object({ id, op: v.literal('analyze'), traceId, request: AnalyzeRequestSchema }),
  v.object({ id, op: v.literal('tokenize'), request: TokenizeRequestSchema }),
  v.object({ id, op: v.literal('group'), traceId, group: LazyGroupSchema }),
  v.object({ id, op: v.literal('cells'), traceId, ...CellsQueryEntries }),
  // JSON of the whole trace, or CSV of one matrix by path; written to `file` when given, else returned.
  v.object({ id, op: v.literal('export'), traceId, format: v.picklist(['json', 'csv']), matrix: v.optional(MatrixPathSchema), file: v.optional(path) }),
  v.object({ id, op: v.literal('release'), traceId }),
  // The next-token distribution of a kept trace's model at a position.
  v.object({ id, op: v.literal('nextToken'), traceId, position: index, ...SamplingSchema.entries }),
  // Generates after request.text with the model the request names; each new token arrives as a
  // 'token' reply before the result. Cancel stops it after the token in progress.
  v.object({
    id, op: v.literal('generate'), request: AnalyzeRequestSchema, maxNewTokens: v.pipe(index, v.minValue(1), v.maxValue(MAX_NEW_TOKENS)), seed: index,
    ...SamplingSchema.entries,
  }),
  // Trains a model (TrainingSession) on the engine's training thread; events arrive as 'train'
  // replies, the result when it ends. Cancel stops it after the step in progress and saves.
  v.object({ id, op: v.literal('train'), request: TrainJobSchema }),
  v.object({ id, op: v.literal('stats') }),
  // An experiment on a kept trace's model (logit lens, head roles, ablation, scan, attribution,
  // patching); the scan and patching send 'progress' replies "done/total" and stop when cancelled.
  v.object({ id, op: v.literal('experiment'), traceId, query: ExperimentQuerySchema }),
  // The same text through two models (A: the playground's request, B: `other`), map by map.
  v.object({ id, op: v.literal('compare'), request: AnalyzeRequestSchema, other: AnalyzeRequestSchema, labels: v.object({ a: text(500), b: text(500) }) }),
  // Not requests (no reply): 'cancel' marks request `requestId` cancelled in the engine process's
  // shared table, so it stops at its next check point if it runs, or at its first if it is still
  // queued; 'pause' pauses (or resumes) the training run `requestId` between two steps, and the run
  // reports { kind: 'paused' } when it has stopped or started stepping; 'shutdown': the window is
  // closing, so the engine stops every run at its current step, saves (only the checkpoint: no last
  // evaluation or sample), answers, and exits.
  v.object({ op: v.literal('cancel'), requestId: index }),
  v.object({ op: v.literal('pause'), requestId: index, paused: v.boolean() }),
  v.object({ op: v.literal('shutdown') }),
]), v.check((r) => r.op !== 'export' || r.format === 'json' || r.matrix !== undefined, 'a CSV export names its matrix'));
type AnyRequest = v.InferOutput<typeof EngineRequestSchema>;
export type CancelMessage = Extract<AnyRequest, { op: 'cancel' }>;
export type PauseMessage = Extract<AnyRequest, { op: 'pause' }>;
export type ShutdownMessage = Extract<AnyRequest, { op: 'shutdown' }>;
export type EngineRequest = Exclude<AnyRequest, CancelMessage | PauseMessage | ShutdownMessage>;

/** The check of a request in the engine process and in each thread it is passed to. */
export const parseEngineRequest = (raw: unknown): AnyRequest | undefined => parse(EngineRequestSchema, raw);

// ---- engine -> host: each request's result ----
export const AnalyzeReplySchema = v.variant('kind', [
  // The stages came before as a 'stages' reply (the panel paints them while the model runs); the
  // result adds the model's part: the model, or why it could not run on this text.
  v.object({
    kind: v.literal('trace'),
    traceId,
    elapsedMs: num,
    /** The weights file, when the weights came from one. */
    weightsPath: v.optional(path),
    model: v.optional(PanelModelSchema),
    modelError: v.optional(text(10_000)),
  }),
  v.object({ kind: v.literal('tooManyTokens'), message: text(10_000), count: index, limit: index, cutAt: index, elapsedMs: num }),
]);
export type AnalyzeReply = v.InferOutput<typeof AnalyzeReplySchema>;

const CellsAnswerSchema = v.pipe(
  v.object({
    r0: index, c0: index, rows: index, cols: index,
    /** One Float32Array (rows·cols, row by row) per path. */
    values: v.array(float32),
  }),
  v.check((a) => a.values.every((x) => x.length === a.rows * a.cols), 'each array holds rows·cols values'),
);
export type CellsAnswer = v.InferOutput<typeof CellsAnswerSchema>;

/** The lowest-validation-loss checkpoint a run kept. */
export const BestSchema = v.object({ file: path, step: index, valLoss: num });

/** Memory of the engine process, for the status line of measurements (scripts/panel-timings.mjs). */
const EngineStatsSchema = v.object({ rss: num, peakRss: num, traces: index, traceBytes: num });
export type EngineStats = v.InferOutput<typeof EngineStatsSchema>;

/** The schema of each request's result, by op: the host checks every result with the one its request names. */
export const EngineResultSchemas = {
  analyze: AnalyzeReplySchema,
  tokenize: mirrors<TokenizeResult>()(v.object({
    tokens: v.array(TokenSchema),
    /** The vocabulary entry of each token (e.g. "Ġthe" pieces shown as text). */
    pieces: v.array(text(1000)),
    tokenizer: TokenizerKindSchema,
    vocabSize: index,
  })),
  /** null: the trace has no such group (e.g. a head beyond its heads). */
  group: v.nullable(GroupDataSchema),
  cells: v.nullable(CellsAnswerSchema),
  /** bytes: the file's content when no file was given; written: bytes written to the file. */
  export: v.object({ bytes: v.optional(uint8), written: index }),
  release: v.object({ released: v.boolean() }),
  nextToken: NextTokenViewSchema,
  /** prompt: the prompt's token ids (cropped to the context); generated: the new ids; text: their decoded text. */
  generate: v.object({
    prompt: v.array(index), generated: v.array(index), text: text(1 << 24), reason: v.picklist(['length', 'eos', 'cancelled']),
  }),
  /**
   * file: the checkpoint at the last completed step; stopped: ended by Stop or Cancel before `steps`;
   * best: the lowest-validation-loss checkpoint (when kept); stop: for a stopped run, the step it
   * stopped after and the steps done when the stop arrived.
   */
  train: v.object({
    file: path, step: index, stopped: v.boolean(), trainLoss: loss, valLoss: loss, elapsedMs: num,
    best: v.optional(BestSchema),
    stop: v.optional(v.object({ step: index, askedAt: index })),
  }),
  stats: EngineStatsSchema,
  experiment: ExperimentResultSchema,
  compare: CompareViewSchema,
} satisfies { [Op in EngineRequest['op']]: v.GenericSchema };

/** The result type of each request. */
export type EngineResults = { [Op in EngineRequest['op']]: v.InferOutput<(typeof EngineResultSchemas)[Op]> };

// ---- engine -> host ----
export const EngineReplySchema = v.variant('type', [
  v.object({ id, type: v.literal('progress'), stage: text(200) }),
  // One generated token: its id, its text, and how many have come so far.
  v.object({ id, type: v.literal('token'), tokenId: index, text: text(1 << 24), count: index }),
  v.object({ id, type: v.literal('train'), event: TrainEventSchema }),
  // An analysis's tokens, as soon as the text is tokenized; then its stages, before the model runs
  // (the result carries the model's part).
  v.object({ id, type: v.literal('start'), start: PanelStartSchema }),
  v.object({ id, type: v.literal('stages'), traceId, elapsedMs: num, weightsPath: v.optional(path), panel: PanelTraceSchema }),
  // The result, checked by the receiver against EngineResultSchemas[op] of the request it answers.
  v.object({ id, type: v.literal('result'), result: v.unknown() }),
  // userFacing: the message is for the user as it is (bad input); cancelled: stopped on request.
  // setting: the llm101 setting whose value caused the error, when one did (EngineError.setting).
  v.object({ id, type: v.literal('error'), message: text(10_000), userFacing: v.boolean(), cancelled: v.boolean(), setting: v.optional(text(40)) }),
]);
export type EngineReply = v.InferOutput<typeof EngineReplySchema>;

/** The host's check of a reply (a result is then checked against its request's schema). */
export const parseEngineReply = (raw: unknown): EngineReply | undefined => parse(EngineReplySchema, raw);

/**
 * A SharedArrayBuffer, checked when a value is parsed: the global is looked up then, not when this
 * module loads, since the webviews that import this module's event schemas run where it is undefined
 * (a page that is not cross-origin isolated).
 */
const sharedBuffer = v.custom<SharedArrayBuffer>((x) => typeof SharedArrayBuffer === 'function' && x instanceof SharedArrayBuffer, 'a SharedArrayBuffer');

/** What the engine process gives each of its threads (node:worker_threads workerData). */
export const EngineThreadDataSchema = v.object({
  bpeCacheDir: v.optional(path),
  /** The cancel table: CANCEL_CELLS Int32 cells (SharedCancel, cancelRequest). */
  cancel: sharedBuffer,
  /**
   * The pause table, laid out as the cancel table: cell id mod CANCEL_CELLS holds id while run `id`
   * is paused; one more cell (SHUTDOWN_CELL) is 1 once the window closes (a stopped run only saves).
   */
  pause: sharedBuffer,
  /** The progress table (src/worker/tables.ts): steps each training run has completed, and when a pause or stop arrived. */
  progress: sharedBuffer,
  /** Bytes of kept traces beyond which older traces are evicted (the newest one is always kept). */
  traceBudgetBytes: v.optional(num),
});
export type EngineThreadData = v.InferOutput<typeof EngineThreadDataSchema>;
