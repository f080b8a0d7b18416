// The contract between the extension host and the training panel's webview (webview/training/):
// the host relays the engine's training events; the webview draws the loss curves, the samples and
// the timelapse, and sends the learner's Pause, Resume and Stop. Types and checks come from the
// schemas below, as in the playground's protocol; the events are the engine's (TrainEventSchema).
import * as v from 'valibot';
import { BestSchema, TrainEventSchema, type TrainEvent } from './engineProtocol';
import { LogSchema } from './protocol';
import { index, int, loss, num, parse, text } from './wire';

export type { TrainEvent };
export type { TrainInfo } from '../engine/train/session';

/** How a run ended: it reached its steps, the learner stopped it, or it failed (message). */
const TrainEndSchema = v.object({
  state: v.picklist(['done', 'stopped', 'error']),
  /** The checkpoint with the last completed step (absent when it failed before the first save). */
  file: v.optional(text(4096)),
  step: index,
  trainLoss: loss,
  valLoss: loss,
  elapsedMs: num,
  message: v.optional(text(10_000)),
  /** The lowest-validation-loss checkpoint, when the run kept one. */
  best: v.optional(BestSchema),
  /** The checkpoint the playground now uses (the best one when it is not the last step's). */
  model: v.optional(text(4096)),
  /** A stopped run: the steps done when Stop arrived (step − askedAt: the steps it took, at most 1). */
  stopAskedAt: v.optional(index),
});
export type TrainEnd = v.InferOutput<typeof TrainEndSchema>;

// ---- host -> training webview ----
const TrainingHostMessageSchema = v.variant('type', [
  // A run starts: what it trains on, and its name (the checkpoint's file name without extension).
  v.object({ type: v.literal('start'), runId: int, name: text(200), corpus: text(2000), preset: text(200) }),
  // Every event of the run, in order (replayed in full when the webview reloads).
  v.object({ type: v.literal('event'), runId: int, event: TrainEventSchema }),
  v.object({ type: v.literal('end'), runId: int, end: TrainEndSchema }),
]);
export type TrainingHostMessage = v.InferOutput<typeof TrainingHostMessageSchema>;

// ---- training webview -> host ----
const TrainingWebviewMessageSchema = v.variant('type', [
  v.object({ type: v.literal('ready') }),
  v.object({ type: v.literal('pause') }),
  v.object({ type: v.literal('resume') }),
  v.object({ type: v.literal('stop') }),
  // Analyze the editor's selection with the model this run wrote.
  v.object({ type: v.literal('analyzeWithModel') }),
  LogSchema,
]);
export type TrainingWebviewMessage = v.InferOutput<typeof TrainingWebviewMessageSchema>;

export const parseTrainingWebviewMessage = (raw: unknown): TrainingWebviewMessage | undefined => parse(TrainingWebviewMessageSchema, raw);
export const parseTrainingHostMessage = (raw: unknown): TrainingHostMessage | undefined => parse(TrainingHostMessageSchema, raw);
