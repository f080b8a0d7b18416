// What the panel says about the numbers it shows: sentences built from display-only statistics
// (a row's largest value, a mean of shown numbers) and number formatting. No DOM
// here, so the unit tests read it directly.
import type { StagesKind } from '../src/engine/types';
import type { PanelTrace, WeightsSource } from '../src/shared/protocol';

/** A matrix as the notes read it: a cell's value by row and column. */
export interface Cells {
  rows: number;
  cols: number;
  value(r: number, c: number): number;
}

/** How one-hot a row-softmaxed attention map is, from its scores and weights (T×T). */
export interface Saturation {
  /** Mean of the diagonal scores (x·x = |x|² for simple attention). */
  diagonal: number;
  /** Mean over rows of the largest score off the diagonal. */
  offDiagonal: number;
  /** Mean over rows of the largest weight. */
  maxWeight: number;
  /** Rows whose largest weight is on the diagonal and above 0.99. */
  oneHotRows: number;
  rows: number;
}

export function saturation(scores: Cells, weights: Cells): Saturation {
  const n = Math.min(scores.rows, scores.cols, weights.rows, weights.cols);
  let diagonal = 0;
  let offDiagonal = 0;
  let maxWeight = 0;
  let oneHotRows = 0;
  for (let r = 0; r < n; r++) {
    diagonal += scores.value(r, r);
    let off = -Infinity;
    let top = -Infinity;
    let topAt = -1;
    for (let c = 0; c < n; c++) {
      if (c !== r) off = Math.max(off, scores.value(r, c));
      const w = weights.value(r, c);
      if (w > top) { top = w; topAt = c; }
    }
    offDiagonal += Number.isFinite(off) ? off : 0;
    maxWeight += top;
    if (topAt === r && top > 0.99) oneHotRows++;
  }
  const k = Math.max(1, n);
  return { diagonal: diagonal / k, offDiagonal: offDiagonal / k, maxWeight: maxWeight / k, oneHotRows, rows: n };
}

/** Whether most rows put nearly all their weight on the token itself. */
export const saturated = (s: Saturation) => s.rows > 1 && s.oneHotRows * 2 >= s.rows;

/**
 * Stage 3's note for the user's text: what the diagonal and the other scores are, what softmax
 * made of the gap, and (saturated) why the next stage scales and learns. `approximate`: the
 * statistics come from display codes (long texts), within a colour level.
 */
export function simpleAttentionNote(s: Saturation, dim: number, seeded: boolean, approximate = false): string {
  const a = approximate ? '≈ ' : '';
  const gap = s.diagonal - s.offDiagonal;
  const origin = seeded
    ? ` (token and position rows are drawn from N(0, 1), so |x|² is about 2·dim = ${2 * dim})`
    : '';
  const scores = `Here the diagonal scores x·x = |x|² average ${a}${num(s.diagonal)}${origin}; each row's largest other score averages ${a}${num(s.offDiagonal)}.`;
  if (s.rows < 2) return `${scores} With one token there is nothing to mix.`;
  if (saturated(s)) {
    return `${scores} Softmax of a gap of ${a}${num(gap)} is nearly one-hot: the largest weight averages ${a}${s.maxWeight.toFixed(3)} and ` +
      `${s.oneHotRows} of ${s.rows} rows put over 99% on the token itself, so each context vector is almost its own input. ` +
      'That is why the next stage divides the scores by √d_k and learns W_q and W_k instead of comparing raw embeddings.';
  }
  return `${scores} The gap (${a}${num(gap)}) is small enough for softmax to mix: the largest weight averages ${a}${s.maxWeight.toFixed(3)} ` +
    `and ${s.oneHotRows} of ${s.rows} rows put over 99% on the token itself.`;
}

/** The book's example, told with the same numbers. */
export function journeyNote(s: Saturation): string {
  return `The book's 3-d example: values below 1 make |x|² small (diagonal ${num(s.diagonal)}, largest other ${num(s.offDiagonal)}), ` +
    `so the weights mix (largest weight ${s.maxWeight.toFixed(3)} on average) and each context vector blends its neighbours.`;
}

/**
 * Where a stage section's numbers come from: the one model (seeded and untrained, or a file), whose
 * block 1 the stages are (section 9's layer 1); or the book's chapter 3 example, in a report of it.
 */
export function weightsNote(source: WeightsSource | undefined, seed: number, stages: StagesKind = 'block 1', trained?: Trained, vocabSize?: number): string {
  if (stages === 'book chapter 3') return "The book's chapter 3 example: its own small modules (d_in 3, d_out 2), not a model's block.";
  const block = "These stages are the model's block 1: section 9's layer 1, head for head.";
  if (isSeeded(source)) return `Seeded, untrained (seed ${seed}): the shapes are real, the values are not learned. ${block}`;
  return `Weights from ${source}: these values are the file's, not drawn from the seed.${trained ? ` ${trainedNote(trained, vocabSize)}` : ''} ${block}`;
}

type Trained = NonNullable<PanelTrace['trained']>;

/**
 * What a checkpoint's training reached, with the scale to read it by: a loss is the mean
 * next-token cross-entropy in nats, and a model that guesses uniformly scores ln(vocabulary).
 */
export function trainedNote(trained: Trained, vocabSize?: number): string {
  const losses = [
    trained.trainLoss !== undefined && `train loss ${num(trained.trainLoss)}`,
    trained.valLoss !== undefined && `validation loss ${num(trained.valLoss)}`,
  ].filter(Boolean).join(', ');
  const uniform = vocabSize ? ` (nats per token; guessing uniformly over its ${vocabSize.toLocaleString('en-US')} tokens scores ${num(Math.log(vocabSize))})` : ' (nats per token)';
  return `Trained ${trained.step.toLocaleString('en-US')} steps${trained.corpus ? ` on ${trained.corpus}` : ''}${losses ? `: ${losses}${uniform}` : ''}.`;
}

/** Whether a weights source is the seed ('seeded', "seeded 123 (untrained)"; absent: llm101.weightsPath unset), not a file. */
export const isSeeded = (source: string | undefined) => source === undefined || source === 'seeded' || source.startsWith('seeded ');

/** A statistic for a sentence: 3 significant figures, no exponent for everyday sizes. */
export function num(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 0.01 || a === 0) return v.toFixed(2);
  return v.toExponential(1);
}

/** A table value with `digits` decimals, never "-0.00000" (float32 rounding of 0 shows as 0). */
export function fixed(v: number, digits = 5): string {
  const text = v.toFixed(digits);
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
}

/** The whitespace marks token labels use, and what each stands for. */
export const MARKS: Record<string, string> = { '·': 'a space', '↵': 'a line break', '→': 'a tab', '␍': 'a carriage return', '∅': 'an empty token' };

/** Whitespace made visible: a token's text as a label. */
export function visible(text: string): string {
  return text.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '→').replace(/\r/g, '␍') || '∅';
}

/** "· is a space, ↵ a line break" for the marks that occur in `labels`, or '' when none do. */
export function marksLegend(labels: readonly string[]): string {
  const used = Object.keys(MARKS).filter((mark) => labels.some((l) => l.includes(mark)));
  return used.map((mark, i) => `${mark} ${i === 0 ? 'is ' : ''}${MARKS[mark]}`).join(', ');
}
