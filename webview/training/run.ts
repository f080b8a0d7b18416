// The training panel's wording of the run it shows (src/shared/trainingRun.ts keeps the run).
// Pure: no DOM, so the wording is unit-tested (test/unit/webview-training.test.ts);
// webview/training/main.ts draws with it.
import type { TrainEnd, TrainInfo } from '../../src/shared/trainingProtocol';
import type { OverfittingEvent, RunState } from '../../src/shared/trainingRun';
import { ROLE_THRESHOLD } from '../../src/shared/experimentsProtocol';
import type { FrameRoles } from '../../src/engine/train/session';
import { counted } from '../../src/shared/counted';

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
  return `${counted(c.layers, 'layer')} · dim ${c.dim} · ${counted(c.heads, 'head')} · context ${c.contextLength} · vocabulary ${formatCount(c.vocabSize)} (${info.tokenizer}) · ${formatCount(info.parameters)} parameters`;
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
  const best = end.best && end.best.step !== end.step
    ? ` The lowest validation loss, ${formatLoss(end.best.valLoss)}, was at step ${formatCount(end.best.step)}: that checkpoint is kept too (${end.best.file})` +
      `${end.model === end.best.file ? ' and the playground now uses it' : ''}.`
    : '';
  switch (end.state) {
    case 'done':
      return `Done: ${formatCount(end.step)} steps in ${formatDuration(end.elapsedMs)}; ${losses}. ${where}${best}`;
    case 'stopped':
      return `Stopped at step ${formatCount(end.step)}${steps ? ` of ${formatCount(steps)}` : ''} after ${formatDuration(end.elapsedMs)}; ${losses}. ${end.file ? `What it learned is kept: the checkpoint at step ${formatCount(end.step)}, the last completed step, is saved: ${end.file}` : where}${best}`;
    case 'error':
      return `Training failed at step ${formatCount(end.step)}: ${end.message ?? 'unknown error'}. ${end.file ? `The checkpoint of the last completed step is kept: ${end.file}` : where}${best}`;
  }
}

/** The early-stopping hint: the validation loss has stayed above its lowest for some evaluations. */
export function overfittingText(hint: OverfittingEvent, keepsBest: boolean, ended = false): string {
  const best = `the checkpoint of step ${formatCount(hint.bestStep)}`;
  return `The validation loss has stayed above its lowest (${formatLoss(hint.bestValLoss)} at step ${formatCount(hint.bestStep)}) for ${hint.evaluations} evaluations ` +
    `and is ${formatLoss(hint.valLoss)} at step ${formatCount(hint.step)}: the model is learning its training text by heart instead of what carries over to new text (overfitting). ` +
    (keepsBest
      ? ended ? `Early stopping would have stopped there; ${best}, the best one, is kept.` : `Stopping now loses nothing: ${best} is kept and becomes the playground’s model when the run ends.`
      : 'Early stopping would stop here; the run keeps only its last step’s checkpoint.');
}

/** The frame to show for a slider position (index into the frames, clamped). */
export const frameAt = <T>(frames: readonly T[], index: number): T | undefined => frames[Math.max(0, Math.min(frames.length - 1, index))];

/**
 * What the head does on the probe at a step, in the playground's head-role scores, and the role it
 * has once a score reaches the threshold (the blocks grid's badges use the same scores and threshold).
 */
export function rolesText(scores: FrameRoles, half: number, step: number): string {
  const parts = [];
  if (scores.previousToken !== null) parts.push(`previous-token ${scores.previousToken.toFixed(2)} (its mean weight on the word just before)`);
  if (scores.induction !== null) {
    parts.push(`induction ${scores.induction.toFixed(2)} (in the probe's second copy, its mean weight on the word after the current word's first occurrence, ${half - 1} back)`);
  }
  const named = [
    scores.previousToken !== null && scores.previousToken >= ROLE_THRESHOLD ? 'a previous-token head' : '',
    scores.induction !== null && scores.induction >= ROLE_THRESHOLD ? 'an induction head' : '',
  ].filter(Boolean);
  const verdict = named.length > 0 ? `At step ${step} this is ${named.join(' and ')}.` : `At step ${step} no score reaches ${ROLE_THRESHOLD}, where the playground names a role.`;
  return `Scores on the probe: ${parts.join('; ')}. ${verdict}`;
}
