// The contract between the extension host and the engine process (src/worker/): the host sends
// requests with an id, the engine answers each id once (after any progress messages). Like the
// webview protocol beside it, every message is checked on receipt by the validators below and
// anything malformed is refused with a reply that says so, never trusted.
//
// The engine owns the traces: 'analyze' keeps the trace under a trace id and answers with what
// the panel draws first; 'group', 'cells' and 'export' read that trace later; 'release' drops it.
import type { AnalyzeRequest, TokenizeRequest, TokenizeResult } from '../engine/pipeline';
import type { TrainInfo, TrainRequest } from '../engine/train/session';
import type { MapCodes } from './codes';
import { ExperimentQuerySchema, parse, type ExperimentQuery, type ExperimentResult } from './experimentsProtocol';
import type { CompareView } from './compareProtocol';
import {
  isLazyGroup, isMatrixPath, isSampling, MAX_NEW_TOKENS, parseCellsQuery, type CellsQuery, type LazyGroup, type NextTokenView, type PanelTrace,
} from './protocol';

/** Sampling for next-token views and generation: temperature 0 is greedy; topK null, no cut. */
export interface Sampling {
  temperature: number;
  topK: number | null;
}

// ---- host -> engine ----
export type EngineRequest =
  | { id: number; op: 'analyze'; traceId: number; request: AnalyzeRequest }
  | { id: number; op: 'tokenize'; request: TokenizeRequest }
  | { id: number; op: 'group'; traceId: number; group: LazyGroup }
  | ({ id: number; op: 'cells'; traceId: number } & CellsQuery)
  // JSON of the whole trace, or CSV of one matrix by path; written to `file` when given, else returned.
  | { id: number; op: 'export'; traceId: number; format: 'json' | 'csv'; matrix?: string; file?: string }
  | { id: number; op: 'release'; traceId: number }
  // The next-token distribution of a kept trace's model at a position.
  | ({ id: number; op: 'nextToken'; traceId: number; position: number } & Sampling)
  // Generates after request.text with the model the request names; each new token arrives as a
  // 'token' reply before the result. Cancel stops it after the token in progress.
  | ({ id: number; op: 'generate'; request: AnalyzeRequest; maxNewTokens: number; seed: number } & Sampling)
  // Trains a model (TrainingSession) on the engine's training thread; events arrive as 'train'
  // replies, the result when it ends. Cancel stops it after the step in progress and saves.
  | { id: number; op: 'train'; request: TrainJob }
  | { id: number; op: 'stats' }
  // An experiment on a kept trace's model (logit lens, head roles, ablation, scan, attribution,
  // patching); the scan and patching send 'progress' replies "done/total" and stop when cancelled.
  | { id: number; op: 'experiment'; traceId: number; query: ExperimentQuery }
  // The same text through two models (A: the playground's request, B: `other`), map by map.
  | { id: number; op: 'compare'; request: AnalyzeRequest; other: AnalyzeRequest; labels: { a: string; b: string } };

/** A training run as the engine process runs it: the session's request, where to save, how often to report. */
export interface TrainJob extends TrainRequest {
  /** The checkpoint to write (at every evaluation, and when the run ends or is stopped). */
  out: string;
  /** Evaluate train and validation loss (and save) every N steps. */
  evalEvery: number;
  /** Generate a sample from the fixed prompt every N steps. */
  sampleEvery: number;
  /** Keep the probe sentence's attention maps for the timelapse every N steps. */
  frameEvery: number;
  /** Also keep the checkpoint of the lowest validation loss beside `out` (default true). */
  keepBest?: boolean;
  /** Evaluations in a row without a new lowest validation loss before the overfitting hint (default 3). */
  patience?: number;
}

/** What a training run reports as it goes. */
export type TrainEvent =
  // best: where the lowest-validation-loss checkpoint goes (absent when it is not kept)
  | { kind: 'prepared'; info: TrainInfo; steps: number; out: string; best?: string }
  // The steps since the last report (at most ten a second): the newest step's numbers, and the
  // loss curve's new [step, loss] points. The run keeps a bounded curve, its points at multiples
  // of `stride`; a receiver drops the points it holds that are not multiples of a larger stride.
  | {
      kind: 'steps'; step: number; steps: number; loss: number; lr: number; tokensPerSecond: number; elapsedMs: number; etaMs: number;
      points: [number, number][]; stride: number;
    }
  // stride: as for the steps' points, of the evaluations kept
  | { kind: 'eval'; step: number; trainLoss: number | null; valLoss: number | null; stride: number }
  | { kind: 'sample'; step: number; text: string }
  | { kind: 'frame'; step: number; heads: MapCodes[][] }
  // best: the lowest-validation-loss checkpoint; else the last step's
  | { kind: 'saved'; step: number; file: string; best: boolean; valLoss: number | null }
  // The validation loss has stayed above its lowest for `evaluations` evaluations in a row.
  | { kind: 'overfitting'; step: number; valLoss: number; bestStep: number; bestValLoss: number; evaluations: number }
  // step: where it paused (or resumes); askedAt: the steps done when the pause arrived (step − askedAt: the steps it took, at most 1)
  | { kind: 'paused'; paused: boolean; step: number; askedAt?: number };

/**
 * Not a request: pauses (or resumes) the training run `requestId` between two steps. Needs no reply;
 * the run reports { kind: 'paused' } when it has stopped or started stepping.
 */
export interface PauseMessage {
  op: 'pause';
  requestId: number;
  paused: boolean;
}

/**
 * Not a request: the window is closing. The engine stops every run at its current step, saves
 * (only the checkpoint: no last evaluation or sample), answers, and exits.
 */
export interface ShutdownMessage {
  op: 'shutdown';
}

/**
 * Not a request: marks request `requestId` cancelled in the engine process's shared table, so it
 * stops at its next check point if it runs, or at its first if it is still queued. Needs no reply.
 */
export interface CancelMessage {
  op: 'cancel';
  requestId: number;
}

/** What 'analyze' answers: the panel's first message for the trace, kept under traceId. */
export type AnalyzeReply =
  | {
      kind: 'trace';
      traceId: number;
      panel: PanelTrace;
      elapsedMs: number;
      /** The weights file, when the weights came from one. */
      weightsPath?: string;
    }
  | { kind: 'tooManyTokens'; message: string; count: number; limit: number; cutAt: number; elapsedMs: number };

export interface CellsAnswer {
  r0: number;
  c0: number;
  rows: number;
  cols: number;
  /** One Float32Array (rows·cols, row by row) per path. */
  values: Float32Array[];
}

/** Memory of the engine process, for the status line of measurements (scripts/panel-timings.mjs). */
export interface EngineStats {
  rss: number;
  peakRss: number;
  traces: number;
  traceBytes: number;
}

/** The result type of each request. */
export interface EngineResults {
  analyze: AnalyzeReply;
  tokenize: TokenizeResult;
  group: { data: object } | null;
  cells: CellsAnswer | null;
  /** bytes: the file's content when no file was given; written: bytes written to the file. */
  export: { bytes?: Uint8Array; written: number };
  release: { released: boolean };
  nextToken: NextTokenView;
  /** prompt: the prompt's token ids (cropped to the context); generated: the new ids; text: their decoded text. */
  generate: { prompt: number[]; generated: number[]; text: string; reason: 'length' | 'eos' | 'cancelled' };
  /**
   * file: the checkpoint at the last completed step; stopped: ended by Stop or Cancel before `steps`;
   * best: the lowest-validation-loss checkpoint (when kept).
   */
  train: {
    file: string; step: number; stopped: boolean; trainLoss: number | null; valLoss: number | null; elapsedMs: number;
    best?: { file: string; step: number; valLoss: number };
    /** A stopped run: the step it stopped after, and the steps done when the stop arrived. */
    stop?: { step: number; askedAt: number };
  };
  stats: EngineStats;
  experiment: ExperimentResult;
  compare: CompareView;
}

// ---- engine -> host ----
export type EngineReply =
  | { id: number; type: 'progress'; stage: string }
  // One generated token: its id, its text, and how many have come so far.
  | { id: number; type: 'token'; tokenId: number; text: string; count: number }
  | { id: number; type: 'train'; event: TrainEvent }
  | { id: number; type: 'result'; result: unknown }
  // userFacing: the message is for the user as it is (bad input); cancelled: stopped on request.
  // setting: the llm101 setting whose value caused the error, when one did (EngineError.setting).
  | { id: number; type: 'error'; message: string; userFacing: boolean; cancelled: boolean; setting?: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isStr = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;

/**
 * The engine's check of a request: the envelope and every field it reads. The analyze and
 * tokenize settings themselves are checked by the engine's own validator (validateSettings),
 * which names the fix; here only their types.
 */
export function parseEngineRequest(raw: unknown): EngineRequest | CancelMessage | PauseMessage | ShutdownMessage | undefined {
  if (!isObject(raw) || typeof raw.op !== 'string') return undefined;
  if (raw.op === 'shutdown') return { op: 'shutdown' };
  if (raw.op === 'cancel') return isId(raw.requestId) ? { op: 'cancel', requestId: raw.requestId } : undefined;
  if (raw.op === 'pause') return isId(raw.requestId) && typeof raw.paused === 'boolean' ? { op: 'pause', requestId: raw.requestId, paused: raw.paused } : undefined;
  const { id } = raw;
  if (!isId(id)) return undefined;
  switch (raw.op) {
    case 'analyze':
      return isId(raw.traceId) && isRequest(raw.request) ? (raw as EngineRequest) : undefined;
    case 'tokenize':
      return isObject(raw.request) && isStr(raw.request.text, 1 << 28) && isStr(raw.request.tokenizer, 20) ? (raw as EngineRequest) : undefined;
    case 'group':
      return isId(raw.traceId) && isLazyGroup(raw.group) ? { id, op: 'group', traceId: raw.traceId, group: raw.group } : undefined;
    case 'cells': {
      const query = parseCellsQuery(raw);
      return isId(raw.traceId) && query ? { id, op: 'cells', traceId: raw.traceId, ...query } : undefined;
    }
    case 'export': {
      const { traceId, format, matrix, file } = raw;
      if (!isId(traceId) || (format !== 'json' && format !== 'csv')) return undefined;
      if (format === 'csv' && !isMatrixPath(matrix)) return undefined;
      if (file !== undefined && !isStr(file, 4096)) return undefined;
      return {
        id, op: 'export', traceId, format,
        ...(typeof matrix === 'string' && { matrix }), ...(typeof file === 'string' && { file }),
      };
    }
    case 'release':
      return isId(raw.traceId) ? { id, op: 'release', traceId: raw.traceId } : undefined;
    case 'stats':
      return { id, op: 'stats' };
    case 'nextToken': {
      const { traceId, position, temperature, topK } = raw;
      if (!isId(traceId) || !isId(position) || !isSampling(temperature, topK)) return undefined;
      return { id, op: 'nextToken', traceId, position, temperature, topK: topK as number | null };
    }
    case 'train':
      return isTrainJob(raw.request) ? { id, op: 'train', request: raw.request } : undefined;
    case 'experiment': {
      const query = parse(ExperimentQuerySchema, raw.query);
      return isId(raw.traceId) && query ? { id, op: 'experiment', traceId: raw.traceId, query } : undefined;
    }
    case 'compare': {
      const { request, other, labels } = raw;
      if (!isRequest(request) || !isRequest(other) || !isObject(labels) || !isStr(labels.a, 500) || !isStr(labels.b, 500)) return undefined;
      return { id, op: 'compare', request, other, labels: { a: labels.a, b: labels.b } };
    }
    case 'generate': {
      const { request, maxNewTokens, seed, temperature, topK } = raw;
      if (!isRequest(request) || !isId(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > MAX_NEW_TOKENS || !isId(seed)) return undefined;
      if (!isSampling(temperature, topK)) return undefined;
      return { id, op: 'generate', request, maxNewTokens, seed, temperature, topK: topK as number | null };
    }
    default:
      return undefined;
  }
}

/** Types only: the values are checked by checkTrainRequest, which names the fix. */
function isTrainJob(v: unknown): v is TrainJob {
  if (!isObject(v) || !Array.isArray(v.corpusPaths) || !v.corpusPaths.every((p) => isStr(p, 4096)) || !isStr(v.tokenizer, 20) || !isStr(v.out, 4096)) return false;
  const numbers = ['dim', 'heads', 'layers', 'contextLength', 'batchSize', 'steps', 'lr', 'evalEvery', 'sampleEvery', 'frameEvery'] as const;
  const optional = ['bpeVocabSize', 'weightDecay', 'seed', 'dropout', 'validationFraction', 'clipGradNorm', 'warmupSteps', 'patience'] as const;
  return numbers.every((k) => typeof v[k] === 'number') && optional.every((k) => v[k] === undefined || typeof v[k] === 'number')
    && (v.keepBest === undefined || typeof v.keepBest === 'boolean')
    && (v.init === undefined || isStr(v.init, 4096)) && (v.samplePrompt === undefined || isStr(v.samplePrompt, 1000))
    && (v.probe === undefined || isStr(v.probe, 1000)) && v.batches === undefined;
}

function isRequest(v: unknown): v is AnalyzeRequest {
  if (!isObject(v) || !isStr(v.text, 1 << 28) || !isStr(v.tokenizer, 20) || !isStr(v.corpusPath, 4096)) return false;
  const numbers = ['dim', 'heads', 'dropout', 'seed', 'contextLength', 'bpeVocabSize'] as const;
  return numbers.every((k) => typeof v[k] === 'number') && typeof v.qkvBias === 'boolean'
    && (v.weightsPath === undefined || isStr(v.weightsPath, 4096)) && (v.maxTokens === undefined || typeof v.maxTokens === 'number');
}

/** The host's check of a reply: the envelope (results are checked by the caller that knows their type). */
export function parseEngineReply(raw: unknown): EngineReply | undefined {
  if (!isObject(raw) || !isId(raw.id)) return undefined;
  switch (raw.type) {
    case 'progress':
      return isStr(raw.stage, 200) ? (raw as EngineReply) : undefined;
    case 'token':
      return isId(raw.tokenId) && isStr(raw.text, 10_000) && isId(raw.count) ? (raw as EngineReply) : undefined;
    case 'train':
      return isObject(raw.event) && typeof raw.event.kind === 'string' ? (raw as EngineReply) : undefined;
    case 'result':
      return 'result' in raw ? (raw as EngineReply) : undefined;
    case 'error':
      return isStr(raw.message, 10_000) && typeof raw.userFacing === 'boolean' && typeof raw.cancelled === 'boolean'
        && (raw.setting === undefined || isStr(raw.setting, 40))
        ? (raw as EngineReply)
        : undefined;
    default:
      return undefined;
  }
}
