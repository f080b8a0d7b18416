// What the model sections (book chapter 4) say about their numbers, and the few display-only
// computations they draw: the GELU curve under the block's pre-activations, the stations of the
// residual stream, the share of probability the bars hold, the sampling knobs' checks. No DOM
// here, so the unit tests read it directly.
import type { NextTokenView, PanelModel, PanelTrace } from '../src/shared/protocol';
import { isSeeded, trainedNote } from './notes';


/** Where a model section's numbers come from, said where the learner reads. */
export function modelWeightsNote(source: string, trained?: PanelTrace['trained'], vocabSize?: number): string {
  if (isSeeded(source)) {
    const seed = /\d+/.exec(source)?.[0];
    return `Seeded${seed ? ` ${seed}` : ''}, untrained: random: the shapes are real, the numbers mean nothing yet.`;
  }
  return `Weights from ${source}: the checkpoint's numbers, as saved (not drawn from the seed).${trained ? ` ${trainedNote(trained, vocabSize)}` : ''}`;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
/** GELU's tanh approximation, for drawing its curve: 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))). */
export const geluCurveAt = (x: number) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));

/** Points of the GELU curve over [lo, hi] (n + 1 of them), for a chart's line. */
export function geluCurve(lo: number, hi: number, n = 120): { x: number; y: number }[] {
  return Array.from({ length: n + 1 }, (_, i) => {
    const x = lo + ((hi - lo) * i) / n;
    return { x, y: geluCurveAt(x) };
  });
}

/** The x range a GELU chart shows: the pre-activations' spread, at least −3..3, with a margin. */
export function geluRange(pre: Float32Array): [number, number] {
  let lo = -3;
  let hi = 3;
  for (const v of pre) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const pad = (hi - lo) * 0.03;
  return [lo - pad, hi + pad];
}

/** What the hidden activations' shares say: GELU keeps small negatives, unlike ReLU. */
/** `layer`: 0-based (the protocol's); the panel counts layers from 1. */
export function hiddenShareNote(share: { negative: number; nearZero: number }, layer: number): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  return `In layer ${layer + 1}, ${pct(share.negative)} of the hidden values are negative (GELU lets small negative values through, down to about −0.17; ReLU would make them 0) ` +
    `and ${pct(share.nearZero)} are within 0.001 of 0.`;
}

/**
 * The residual stream's stations, in order: the block's input, after attention's shortcut, after
 * the feed-forward's (the next layer's input); per station the mean over tokens and the value at
 * one token. Labels count layers from 1.
 */
export function residualStations(norms: PanelModel['residualNorms'], token: number): { label: string; mean: number; token: number }[] {
  const mean = (a: Float32Array) => (a.length ? a.reduce((s, v) => s + v, 0) / a.length : 0);
  const out: { label: string; mean: number; token: number }[] = [];
  norms.forEach((n, layer) => {
    if (layer === 0) out.push({ label: 'embeddings', mean: mean(n.input), token: n.input[token] ?? 0 });
    out.push({ label: `L${layer + 1} + attention`, mean: mean(n.afterAttention), token: n.afterAttention[token] ?? 0 });
    out.push({ label: `L${layer + 1} + feed-fwd`, mean: mean(n.output), token: n.output[token] ?? 0 });
  });
  return out;
}

/** Probability shown by the bars, and what the sentence under the chart says about it. */
export function nextTokenSummary(view: NextTokenView, vocabSize: number): { shown: number; text: string } {
  const shown = view.tokens.reduce((s, t) => s + t.probability, 0);
  const k = view.tokens.length;
  const pct = `${(shown * 100).toFixed(1)}%`;
  const rest = vocabSize - k;
  const sampling = view.temperature === 0
    ? 'Temperature 0 is greedy: the most likely token gets all the probability.'
    : view.topK !== null
      ? `Top-k ${view.topK}: only the ${view.topK} most likely tokens keep probability, renormalised to sum to 1; the others get 0.`
      : `No top-k cut: all ${vocabSize.toLocaleString('en-US')} tokens keep some probability.`;
  // A top-k cut (or greedy) leaves nothing outside the bars; otherwise the rest is spread thin.
  const cut = view.temperature === 0 || (view.topK !== null && k >= view.topK);
  const others = cut ? `the other ${rest.toLocaleString('en-US')} tokens get 0` : `the other ${rest.toLocaleString('en-US')} tokens of the vocabulary share the rest`;
  return { shown, text: `These ${k} bars hold ${pct} of the probability; ${others}. ${sampling}` };
}

/** The next-token section's sampling knobs as typed, checked: the values, or what is wrong with the fix. */
export function samplingProblem(temperature: string, topK: string): string | undefined {
  const t = Number(temperature);
  if (temperature.trim() === '' || !Number.isFinite(t) || t < 0 || t > 10) return `temperature (${temperature}) must be a number from 0 to 10, e.g. 1`;
  const k = topK.trim();
  if (k !== '' && k !== '0' && !(Number.isInteger(Number(k)) && Number(k) >= 1)) return `top-k (${topK}) must be a whole number from 1, or empty (0) for no cut`;
  return undefined;
}

/** top-k as the protocol says it: empty or 0 is no cut (null). */
export const topKOf = (text: string): number | null => (text.trim() === '' || Number(text) === 0 ? null : Number(text));

/** Max new tokens as typed: a whole number from 1 to `max`, or the fix. */
export function maxNewTokensProblem(text: string, max: number): string | undefined {
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= max ? undefined : `max new tokens (${text}) must be a whole number from 1 to ${max}`;
}
