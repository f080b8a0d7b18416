// What `llm101` prints without --json: aligned tables of tokens, shapes and a few highlights.
import { gptParameterCount } from '../engine/gpt/config';
import { nextTokenDistribution, topTokens } from '../engine/gpt/sampling';
import { lastRow } from '../engine/layers/gptModel';
import type { ModelAnalysis } from '../engine/pipeline';
import type { Matrix, Token, Tokenizer, Trace } from '../engine/types';
import type { ContextWindow } from '../engine/window';
import { windowExplanation } from '../shared/windowText';
import { counted } from '../shared/counted';

export function tokenJson(token: Token) {
  return { id: token.id, text: token.text, start: token.start, end: token.end };
}

/** Aligned columns; every cell is already a string. */
function table(rows: string[][], indent = '  '): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n') + '\n';
}

export const show = (text: string) => JSON.stringify(text);

export function tokenTable(tokens: readonly Token[], tokenizer?: Tokenizer): string {
  const header = ['#', 'id', 'text', 'span', ...(tokenizer ? ['vocabulary entry'] : [])];
  const rows = tokens.map((t, i) => [
    String(i),
    String(t.id),
    show(t.text),
    `[${t.start}, ${t.end})`,
    ...(tokenizer ? [show(tokenizer.idToToken(t.id))] : []),
  ]);
  return table([header, ...rows]);
}

const shape = (m: Matrix) => `(${m.rows}, ${m.cols})`;
/** Four decimals, padded so a column of signed numbers lines up; tiny values print as 0. */
const fixed4 = (x: number) => (Math.abs(x) < 5e-5 ? 0 : x).toFixed(4).padStart(7);

function argmaxRow(m: Matrix, row: number): number {
  let best = 0;
  for (let c = 1; c < m.cols; c++) if ((m.data[row * m.cols + c] ?? -Infinity) > (m.data[row * m.cols + best] ?? -Infinity)) best = c;
  return best;
}

/**
 * The short summary printed without --json: tokens, shapes per stage, a few highlights.
 * With the tokenizer, the token table also shows each token's vocabulary entry (e.g. <|unk|>).
 */
export function summarize(trace: Trace, tokenizer?: Tokenizer, model?: ModelAnalysis, window?: ContextWindow): string {
  const { config, tokens } = trace;
  const T = tokens.length;
  const label = (i: number) => show(tokens[i]?.text ?? '?');
  const out: string[] = [];
  out.push(
    `${config.tokenizer} tokenizer (vocabulary ${config.vocabSize}) · dim ${config.dim} · attnDim ${config.attnDim} · ` +
      `${config.heads} heads × ${config.headDim} · dropout ${config.dropout} · seed ${config.seed} · context ${config.contextLength}` +
      (config.qkvBias ? ' · qkv bias' : ''),
    config.stages === 'block 1' ? "The stages are block 1 of the model (its embeddings, norm1, attention and norm2)." : "The stages are the book's chapter 3 example (its own modules, attnDim ≠ dim).",
    '',
    ...(window ? [windowExplanation(window, config.contextLength), ''] : []),
    window ? `Tokens (${T}: the window's; # is the position, the span is in the whole text)` : `Tokens (${T})`,
    tokenTable(tokens, tokenizer),
    'Shapes',
    table([
      ['embeddings', `token, position, input ${shape(trace.embeddings.input)}`],
      ['simple attention', `scores, weights ${shape(trace.simple.weights)} · context ${shape(trace.simple.context)}`],
      ['self-attention', `queries, keys, values ${shape(trace.selfAttention.queries)} · weights ${shape(trace.selfAttention.weights)} · context ${shape(trace.selfAttention.context)}`],
      ['causal attention', `masked scores, weights, dropped ${shape(trace.causal.weights)} · context ${shape(trace.causal.context)}`],
      [
        'multi-head',
        `${trace.multiHead.heads.length} heads × context ${trace.multiHead.heads[0] ? shape(trace.multiHead.heads[0].context) : '-'} · concat, output ${shape(trace.multiHead.output)}`,
      ],
      ['layer norm', `input, output ${shape(trace.layerNorm.output)}`],
    ]),
    'Causal attention: the token (itself or an earlier one) each token attends to most, weight before dropout',
    table(
      tokens.map((_, i) => {
        const j = argmaxRow(trace.causal.weights, i);
        return [label(i), '→', label(j), fixed4(trace.causal.weights.data[i * T + j] ?? NaN).trim()];
      }),
    ),
    'Layer norm per token: mean and variance before → after',
    table(
      tokens.map((_, i) => [
        label(i),
        `mean ${fixed4(trace.layerNorm.mean[i] ?? NaN)} → ${fixed4(trace.layerNorm.outputMean[i] ?? NaN)}`,
        `variance ${fixed4(trace.layerNorm.variance[i] ?? NaN)} → ${fixed4(trace.layerNorm.outputVariance[i] ?? NaN)}`,
      ]),
    ),
    ...(model ? [modelSummary(model)] : []),
    'Run with --json for every number.',
  );
  return `${out.join('\n')}\n`;
}

/** Next tokens shown for the last position without --json. */
export const TOP_NEXT_TOKENS = 5;

/** The GPT's part of the summary: its sizes, its parameters, and the top next tokens after the last position. */
export function modelSummary(run: ModelAnalysis): string {
  const { model, forward, tokens, tokenizer } = run;
  const { config } = model;
  const parameters = gptParameterCount(model);
  const logits = forward.logits;
  const last = tokens[tokens.length - 1];
  const out = [
    `Model (${model.source}): ${counted(config.layers, 'layer')} · dim ${config.dim} · ${counted(config.heads, 'head')} · ` +
      `context ${config.contextLength} · vocabulary ${config.vocabSize}${config.qkvBias ? ' · qkv bias' : ''} · ${parameters.toLocaleString('en-US')} parameters`,
  ];
  if (logits && last) {
    const probabilities = nextTokenDistribution(lastRow(logits).data);
    out.push(
      `Next token after ${show(last.text)} (the last position), top ${TOP_NEXT_TOKENS}`,
      table(topTokens(probabilities, TOP_NEXT_TOKENS).map(({ id, probability }) => [String(id), show(tokenizer.idToToken(id)), probability.toFixed(4)])),
    );
  }
  return out.join('\n');
}

/**
 * Generated text as it comes: each new token's text is written once it decodes to whole
 * characters (a GPT-2 token may end inside a UTF-8 sequence; the next one completes it).
 */
export class TextStream {
  private readonly ids: number[] = [];
  private written = '';
  constructor(private readonly tokenizer: Tokenizer, private readonly write: (text: string) => void) {}
  push(id: number): void {
    this.ids.push(id);
    const text = this.tokenizer.decode(this.ids);
    if (!text.endsWith('\uFFFD')) this.flush(text);
  }
  /** Writes what is left, incomplete characters included. */
  end(): void {
    this.flush(this.tokenizer.decode(this.ids));
  }
  private flush(text: string): void {
    // With our tokenizers more tokens only append (bytes; words, a space before each but
    // punctuation), so what is written is always a prefix; written text cannot be taken back.
    if (!text.startsWith(this.written)) return;
    if (text.length > this.written.length) this.write(text.slice(this.written.length));
    this.written = text;
  }
}
