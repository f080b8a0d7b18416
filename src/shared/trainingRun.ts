// What is known about one training run, built from the host's messages in order: the training
// panel draws from it, and the host keeps it to replay the run to a panel that (re)loads. It stays
// bounded however long the run: the loss curve and the evaluations as the engine decimates them
// (the `stride` of their events), the first sample and the newest ones, at most MAX_FRAMES
// timelapse frames spread over the run. Pure: no DOM, no VS Code (unit-tested).
import type { TrainEnd, TrainEvent, TrainInfo, TrainingHostMessage } from './trainingProtocol';
import type { MapCodes } from './codes';
import type { FrameRoles } from '../engine/train/session';

type StepsEvent = Extract<TrainEvent, { kind: 'steps' }>;
export type OverfittingEvent = Extract<TrainEvent, { kind: 'overfitting' }>;

/** Samples kept: the first (step 0, the untrained model) and the newest ones. */
export const MAX_SAMPLES = 24;
/** Timelapse frames kept: when more come, every other one goes (the first and the newest stay). */
export const MAX_FRAMES = 48;

export interface EvalPoint {
  step: number;
  trainLoss: number | null;
  valLoss: number | null;
}

export interface RunState {
  runId: number;
  name: string;
  corpus: string;
  preset: string;
  info?: TrainInfo;
  steps?: number;
  /** Where the checkpoint of the last completed step is written. */
  out?: string;
  /** Where the lowest-validation-loss checkpoint goes (absent when the run does not keep it). */
  bestFile?: string;
  /** The loss curve: losses[i] is step lossSteps[i]'s; the steps are multiples of lossStride. */
  lossSteps: number[];
  losses: number[];
  lossStride: number;
  evals: EvalPoint[];
  evalStride: number;
  samples: { step: number; text: string }[];
  frames: { step: number; heads: MapCodes[][]; roles: FrameRoles[][] }[];
  /** The newest step's numbers (its `points` are in the curve). */
  last?: Omit<StepsEvent, 'points' | 'stride'>;
  saved?: { step: number; file: string };
  best?: { step: number; file: string; valLoss: number | null };
  overfitting?: OverfittingEvent;
  paused: boolean;
  /** The latest pause: the step it took effect after, the steps done when it was asked, and where it resumed. */
  pause?: { step: number; askedAt?: number; resumedAt?: number };
  end?: TrainEnd;
}

/** What a message changed, so the page redraws only that. */
export type Change = 'start' | 'prepared' | 'steps' | 'eval' | 'sample' | 'frame' | 'saved' | 'overfitting' | 'paused' | 'end' | 'none';

export function newRun(runId: number, name: string, corpus: string, preset: string): RunState {
  return { runId, name, corpus, preset, lossSteps: [], losses: [], lossStride: 1, evals: [], evalStride: 1, samples: [], frames: [], paused: false };
}

/**
 * Applies one host message: a 'start' begins a new run (the previous one is forgotten); an event
 * or end of another run than the current one is ignored (a late message of a run already replaced).
 */
export function apply(run: RunState | undefined, message: TrainingHostMessage): { run: RunState | undefined; change: Change } {
  if (message.type === 'start') return { run: newRun(message.runId, message.name, message.corpus, message.preset), change: 'start' };
  if (!run || message.runId !== run.runId) return { run, change: 'none' };
  if (message.type === 'end') {
    run.end = message.end;
    run.paused = false;
    return { run, change: 'end' };
  }
  const event = message.event;
  switch (event.kind) {
    case 'prepared':
      run.info = event.info;
      run.steps = event.steps;
      run.out = event.out;
      if (event.best !== undefined) run.bestFile = event.best;
      return { run, change: 'prepared' };
    case 'steps': {
      const { points, stride, ...last } = event;
      if (stride > run.lossStride) {
        const keep = run.lossSteps.map((s) => s % stride === 0);
        run.lossSteps = run.lossSteps.filter((_, i) => keep[i]);
        run.losses = run.losses.filter((_, i) => keep[i]);
        run.lossStride = stride;
      }
      for (const [step, loss] of points) {
        run.lossSteps.push(step);
        run.losses.push(loss);
      }
      run.last = last;
      run.steps = event.steps;
      return { run, change: 'steps' };
    }
    case 'eval': {
      if (event.stride > run.evalStride) {
        run.evals = run.evals.filter((e) => e.step % event.stride === 0);
        run.evalStride = event.stride;
      }
      // One evaluation per step: a repeated step (the final evaluation after a stop) replaces it.
      const point = { step: event.step, trainLoss: event.trainLoss, valLoss: event.valLoss };
      if (run.evals.at(-1)?.step === event.step) run.evals[run.evals.length - 1] = point;
      else run.evals.push(point);
      return { run, change: 'eval' };
    }
    case 'sample':
      run.samples.push({ step: event.step, text: event.text });
      if (run.samples.length > MAX_SAMPLES) run.samples.splice(1, 1);
      return { run, change: 'sample' };
    case 'frame': {
      const frame = { step: event.step, heads: event.heads, roles: event.roles };
      if (run.frames.at(-1)?.step === event.step) run.frames[run.frames.length - 1] = frame;
      else run.frames.push(frame);
      if (run.frames.length > MAX_FRAMES) run.frames = run.frames.filter((_, i, all) => i % 2 === 0 || i === all.length - 1);
      return { run, change: 'frame' };
    }
    case 'saved':
      if (event.best) run.best = { step: event.step, file: event.file, valLoss: event.valLoss };
      else run.saved = { step: event.step, file: event.file };
      return { run, change: 'saved' };
    case 'overfitting':
      run.overfitting = event;
      return { run, change: 'overfitting' };
    case 'paused':
      run.paused = event.paused;
      if (event.paused) run.pause = { step: event.step, ...(event.askedAt !== undefined && { askedAt: event.askedAt }) };
      else if (run.pause) run.pause.resumedAt = event.step;
      return { run, change: 'paused' };
  }
}

/**
 * The messages that rebuild `run` in a panel that (re)loads: as many as it has evaluations,
 * samples and frames (all bounded), not one per step.
 */
export function replayMessages(run: RunState): TrainingHostMessage[] {
  const { runId } = run;
  const event = (e: TrainEvent): TrainingHostMessage => ({ type: 'event', runId, event: e });
  const messages: TrainingHostMessage[] = [{ type: 'start', runId, name: run.name, corpus: run.corpus, preset: run.preset }];
  if (run.info && run.steps !== undefined && run.out !== undefined) {
    messages.push(event({ kind: 'prepared', info: run.info, steps: run.steps, out: run.out, ...(run.bestFile !== undefined && { best: run.bestFile }) }));
  }
  // in step order, as they came: an evaluation, sample or frame after the steps before it
  const timed: { step: number; order: number; message: TrainingHostMessage }[] = [];
  if (run.last) {
    const points = run.lossSteps.map((s, i): [number, number] => [s, run.losses[i]!]);
    timed.push({ step: run.last.step, order: 0, message: event({ ...run.last, points, stride: run.lossStride }) });
  }
  for (const e of run.evals) timed.push({ step: e.step, order: 1, message: event({ kind: 'eval', ...e, stride: run.evalStride }) });
  for (const s of run.samples) timed.push({ step: s.step, order: 2, message: event({ kind: 'sample', ...s }) });
  for (const f of run.frames) timed.push({ step: f.step, order: 3, message: event({ kind: 'frame', ...f }) });
  if (run.best) timed.push({ step: run.best.step, order: 4, message: event({ kind: 'saved', ...run.best, best: true }) });
  if (run.saved) timed.push({ step: run.saved.step, order: 5, message: event({ kind: 'saved', ...run.saved, best: false, valLoss: null }) });
  if (run.overfitting) timed.push({ step: run.overfitting.step, order: 6, message: event(run.overfitting) });
  timed.sort((a, b) => a.step - b.step || a.order - b.order);
  messages.push(...timed.map((t) => t.message));
  if (run.pause) {
    messages.push(event({ kind: 'paused', paused: true, step: run.pause.step, ...(run.pause.askedAt !== undefined && { askedAt: run.pause.askedAt }) }));
    if (!run.paused) messages.push(event({ kind: 'paused', paused: false, step: run.pause.resumedAt ?? run.pause.step }));
  }
  if (run.end) messages.push({ type: 'end', runId, end: run.end });
  return messages;
}
