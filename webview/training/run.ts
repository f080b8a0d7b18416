// What the training panel knows about the run it shows, built from the host's messages in order
// (a reload replays them all). Pure: no DOM, so the bookkeeping and the wording are unit-tested
// (test/unit/webview-training.test.ts); webview/training/main.ts draws from it.
import type { TrainEnd, TrainEvent, TrainInfo, TrainingHostMessage } from '../../src/shared/trainingProtocol';
import type { MapCodes } from '../../src/shared/codes';

type StepEvent = Extract<TrainEvent, { kind: 'step' }>;

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
  /** Where the checkpoint is written. */
  out?: string;
  /** Train loss of every step, in step order: losses[i] is step steps[i]'s. */
  lossSteps: number[];
  losses: number[];
  evals: EvalPoint[];
  samples: { step: number; text: string }[];
  frames: { step: number; heads: MapCodes[][] }[];
  last?: StepEvent;
  saved?: { step: number; file: string };
  paused: boolean;
  end?: TrainEnd;
}

/** What a message changed, so the page redraws only that. */
export type Change = 'start' | 'prepared' | 'step' | 'eval' | 'sample' | 'frame' | 'saved' | 'paused' | 'end' | 'none';

export function newRun(runId: number, name: string, corpus: string, preset: string): RunState {
  return { runId, name, corpus, preset, lossSteps: [], losses: [], evals: [], samples: [], frames: [], paused: false };
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
      return { run, change: 'prepared' };
    case 'step':
      run.lossSteps.push(event.step);
      run.losses.push(event.loss);
      run.last = event;
      run.steps = event.steps;
      return { run, change: 'step' };
    case 'eval': {
      // One evaluation per step: a repeated step (the final evaluation after a stop) replaces it.
      const at = run.evals.findIndex((e) => e.step === event.step);
      const point = { step: event.step, trainLoss: event.trainLoss, valLoss: event.valLoss };
      if (at >= 0) run.evals[at] = point;
      else run.evals.push(point);
      return { run, change: 'eval' };
    }
    case 'sample':
      run.samples.push({ step: event.step, text: event.text });
      return { run, change: 'sample' };
    case 'frame': {
      const at = run.frames.findIndex((f) => f.step === event.step);
      if (at >= 0) run.frames[at] = { step: event.step, heads: event.heads };
      else run.frames.push({ step: event.step, heads: event.heads });
      return { run, change: 'frame' };
    }
    case 'saved':
      run.saved = { step: event.step, file: event.file };
      return { run, change: 'saved' };
    case 'paused':
      run.paused = event.paused;
      return { run, change: 'paused' };
  }
}

/** The loss of a uniform guess over the vocabulary: where an untrained model starts. */
export const uniformLoss = (vocabSize: number) => Math.log(vocabSize);

/**
 * A sample split into the prompt the model was given and what it wrote. The engine decodes prompt
 * and continuation together, so the prompt is matched as a prefix; the word tokenizer may rejoin
 * words with other spacing, so spaces are not compared. No match: all of it is the continuation.
 */
export function splitSample(text: string, prompt: string): { prompt: string; continuation: string } {
  if (!prompt) return { prompt: '', continuation: text };
  if (text.startsWith(prompt)) return { prompt, continuation: text.slice(prompt.length) };
  const want = prompt.replace(/\s+/g, '');
  let seen = 0;
  for (let i = 0; i < text.length && seen <= want.length; i++) {
    const ch = text[i]!;
    if (/\s/.test(ch)) continue;
    if (ch !== want[seen]) break;
    seen++;
    if (seen === want.length) return { prompt: text.slice(0, i + 1), continuation: text.slice(i + 1) };
  }
  return { prompt: '', continuation: text };
}

/** A duration as m:ss (h:mm:ss from an hour). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

export const formatLoss = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(3));

/** 12,345 (English grouping, so tests and screenshots read alike everywhere). */
export const formatCount = (n: number) => Math.round(n).toLocaleString('en-US');

/** Short file name of a path (the checkpoint's), for lines that would wrap at 600 px. */
export const baseName = (file: string) => file.split(/[\\/]/).pop() ?? file;

/** The model's size in one line: what the header shows. */
export function modelLine(info: TrainInfo): string {
  const c = info.config;
  const n = (count: number, one: string) => `${count} ${one}${count === 1 ? '' : 's'}`;
  return `${n(c.layers, 'layer')} · dim ${c.dim} · ${n(c.heads, 'head')} · context ${c.contextLength} · vocabulary ${formatCount(c.vocabSize)} (${info.tokenizer}) · ${formatCount(info.parameters)} parameters`;
}

export function dataLine(info: TrainInfo): string {
  return `${formatCount(info.corpusTokens)} tokens of text (${formatCount(info.corpusChars)} characters): ${formatCount(info.trainTokens)} to train on, ${formatCount(info.validationTokens)} held out for validation`;
}

/** The status line's state: running, paused, or how it ended. */
export function stateText(run: RunState): string {
  if (run.end) return run.end.state === 'done' ? 'done' : run.end.state === 'stopped' ? 'stopped' : 'failed';
  if (!run.info) return 'preparing (tokenizing the corpus)…';
  if (run.paused) return 'paused';
  return run.last ? 'running' : 'starting…';
}

/** The sentence after a run ends: what happened and where the model is. */
export function endText(end: TrainEnd, steps: number | undefined): string {
  const losses = `train loss ${formatLoss(end.trainLoss)}, validation loss ${formatLoss(end.valLoss)}`;
  const where = end.file ? `The checkpoint is saved: ${end.file}` : 'No checkpoint was saved.';
  switch (end.state) {
    case 'done':
      return `Done: ${formatCount(end.step)} steps in ${formatDuration(end.elapsedMs)}; ${losses}. ${where}`;
    case 'stopped':
      return `Stopped at step ${formatCount(end.step)}${steps ? ` of ${formatCount(steps)}` : ''} after ${formatDuration(end.elapsedMs)}; ${losses}. ${end.file ? `What it learned is kept: the checkpoint at step ${formatCount(end.step)}, the last completed step, is saved: ${end.file}` : where}`;
    case 'error':
      return `Training failed at step ${formatCount(end.step)}: ${end.message ?? 'unknown error'}. ${end.file ? `The checkpoint of the last completed step is kept: ${end.file}` : where}`;
  }
}

/**
 * Whether the validation loss has risen above its lowest by more than `margin` (nats): a sign of
 * overfitting on a small corpus, which the loss section then points out.
 */
export function overfitting(evals: readonly EvalPoint[], margin = 0.05): { best: EvalPoint; last: EvalPoint } | undefined {
  const withVal = evals.filter((e): e is EvalPoint & { valLoss: number } => e.valLoss !== null);
  const last = withVal.at(-1);
  if (!last || withVal.length < 3) return undefined;
  const best = withVal.reduce((a, b) => (b.valLoss < a.valLoss ? b : a));
  return last.valLoss - best.valLoss > margin && best.step < last.step ? { best, last } : undefined;
}

/** The frame to show for a slider position (index into the frames, clamped). */
export const frameAt = <T>(frames: readonly T[], index: number): T | undefined => frames[Math.max(0, Math.min(frames.length - 1, index))];
