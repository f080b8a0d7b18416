// The contract between the extension host and the training panel's webview (webview/training/):
// the host relays the engine's training events; the webview draws the loss curves, the samples and
// the timelapse, and sends the learner's Pause, Resume and Stop. Validated on receipt, like the
// playground's protocol.
import type { TrainInfo } from '../engine/train/session';
import { isMapCodes } from './codes';
import type { TrainEvent } from './engineProtocol';

export type { TrainEvent, TrainInfo };

/** How a run ended: it reached its steps, the learner stopped it, or it failed (message). */
export interface TrainEnd {
  state: 'done' | 'stopped' | 'error';
  /** The checkpoint with the last completed step (absent when it failed before the first save). */
  file?: string;
  step: number;
  trainLoss: number | null;
  valLoss: number | null;
  elapsedMs: number;
  message?: string;
  /** The lowest-validation-loss checkpoint, when the run kept one. */
  best?: { file: string; step: number; valLoss: number };
  /** The checkpoint the playground now uses (the best one when it is not the last step's). */
  model?: string;
  /** A stopped run: the steps done when Stop arrived (step − askedAt: the steps it took, at most 1). */
  stopAskedAt?: number;
}

// ---- host -> training webview ----
export type TrainingHostMessage =
  // A run starts: what it trains on, and its name (the checkpoint's file name without extension).
  | { type: 'start'; runId: number; name: string; corpus: string; preset: string }
  // Every event of the run, in order (replayed in full when the webview reloads).
  | { type: 'event'; runId: number; event: TrainEvent }
  | { type: 'end'; runId: number; end: TrainEnd };

// ---- training webview -> host ----
export type TrainingWebviewMessage =
  | { type: 'ready' }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  // Analyze the editor's selection with the model this run wrote.
  | { type: 'analyzeWithModel' }
  | { type: 'log'; level: 'info' | 'error'; message: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);
const isStr = (v: unknown, max = 10_000): v is string => typeof v === 'string' && v.length <= max;
const isLoss = (v: unknown) => v === null || isNum(v);

export function parseTrainingWebviewMessage(raw: unknown): TrainingWebviewMessage | undefined {
  if (!isObject(raw)) return undefined;
  switch (raw.type) {
    case 'ready':
    case 'pause':
    case 'resume':
    case 'stop':
    case 'analyzeWithModel':
      return { type: raw.type };
    case 'log':
      return (raw.level === 'info' || raw.level === 'error') && isStr(raw.message) ? { type: 'log', level: raw.level, message: raw.message } : undefined;
    default:
      return undefined;
  }
}

function isTrainEvent(e: unknown): e is TrainEvent {
  if (!isObject(e)) return false;
  switch (e.kind) {
    case 'prepared':
      return isObject(e.info) && isObject(e.info.config) && isInt(e.steps) && isStr(e.out, 4096) && (e.best === undefined || isStr(e.best, 4096));
    case 'steps':
      return [e.step, e.steps, e.stride].every(isInt) && [e.loss, e.lr, e.tokensPerSecond, e.elapsedMs, e.etaMs].every(isNum)
        && Array.isArray(e.points) && e.points.every((p) => Array.isArray(p) && p.length === 2 && isInt(p[0]) && isNum(p[1]));
    case 'eval':
      return isInt(e.step) && isInt(e.stride) && isLoss(e.trainLoss) && isLoss(e.valLoss);
    case 'sample':
      return isInt(e.step) && isStr(e.text, 100_000);
    case 'frame':
      return isInt(e.step) && Array.isArray(e.heads) && e.heads.every((layer) => Array.isArray(layer) && layer.every(isMapCodes));
    case 'saved':
      return isInt(e.step) && isStr(e.file, 4096) && typeof e.best === 'boolean' && isLoss(e.valLoss);
    case 'overfitting':
      return [e.step, e.bestStep, e.evaluations].every(isInt) && isNum(e.valLoss) && isNum(e.bestValLoss);
    case 'paused':
      return typeof e.paused === 'boolean' && isInt(e.step) && (e.askedAt === undefined || isInt(e.askedAt));
    default:
      return false;
  }
}

export function parseTrainingHostMessage(raw: unknown): TrainingHostMessage | undefined {
  if (!isObject(raw) || !isInt(raw.runId)) return undefined;
  switch (raw.type) {
    case 'start':
      return isStr(raw.name, 200) && isStr(raw.corpus, 2000) && isStr(raw.preset, 200) ? (raw as TrainingHostMessage) : undefined;
    case 'event':
      return isTrainEvent(raw.event) ? (raw as TrainingHostMessage) : undefined;
    case 'end': {
      const end = raw.end;
      if (!isObject(end) || !['done', 'stopped', 'error'].includes(end.state as string) || !isInt(end.step)) return undefined;
      if (!isLoss(end.trainLoss) || !isLoss(end.valLoss) || !isNum(end.elapsedMs)) return undefined;
      if ((end.file !== undefined && !isStr(end.file, 4096)) || (end.message !== undefined && !isStr(end.message))) return undefined;
      if ((end.model !== undefined && !isStr(end.model, 4096)) || (end.stopAskedAt !== undefined && !isInt(end.stopAskedAt))) return undefined;
      const best = end.best;
      if (best !== undefined && !(isObject(best) && isStr(best.file, 4096) && isInt(best.step) && isNum(best.valLoss))) return undefined;
      return raw as TrainingHostMessage;
    }
    default:
      return undefined;
  }
}
