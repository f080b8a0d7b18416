// The trace as plain JSON for the CLI (`llm101 analyze --json`): matrices as nested arrays with one
// row per token, every number written with the fewest digits that still read back as the same
// float32, `null` for the masked (−∞) causal scores, and no NaN or Infinity anywhere. The GPT
// model's part (modelToJson) recomputes each block's maps only when the writer reaches it.

import { EngineError } from './config';
import type { GptModel } from './gpt/types';
import { traceGptBlock, type GptForward } from './layers/gptModel';
import type { Matrix, Trace } from './types';

export type JsonMatrix = number[][];
export type JsonMaskedMatrix = (number | null)[][];

export interface TraceJson {
  config: {
    /** 'block 1': the stages are the model's first block; 'book chapter 3': the book's worked example. */
    stages: string;
    tokenizer: string;
    vocabSize: number;
    dim: number;
    attnDim: number;
    heads: number;
    headDim: number;
    dropout: number;
    seed: number;
    contextLength: number;
    qkvBias: boolean;
  };
  tokens: { text: string; id: number; start: number; end: number }[];
  embeddings: { token: JsonMatrix; position: JsonMatrix; input: JsonMatrix };
  simple: { scores: JsonMatrix; weights: JsonMatrix; context: JsonMatrix };
  selfAttention: {
    queries: JsonMatrix;
    keys: JsonMatrix;
    values: JsonMatrix;
    scores: JsonMatrix;
    weights: JsonMatrix;
    context: JsonMatrix;
  };
  causal: { maskedScores: JsonMaskedMatrix; weights: JsonMatrix; droppedWeights: JsonMatrix; context: JsonMatrix };
  multiHead: {
    heads: {
      queries: JsonMatrix;
      keys: JsonMatrix;
      values: JsonMatrix;
      /** Unscaled Q·Kᵀ of the head, null above the diagonal (masked). */
      scores: JsonMaskedMatrix;
      weights: JsonMatrix;
      droppedWeights: JsonMatrix;
      context: JsonMatrix;
    }[];
    concat: JsonMatrix;
    output: JsonMatrix;
  };
  layerNorm: {
    input: JsonMatrix;
    mean: number[];
    variance: number[];
    output: JsonMatrix;
    outputMean: number[];
    outputVariance: number[];
  };
  /** With a GPT checkpoint: block 0's LN₁(x), what the attention stages read. */
  attentionInput?: JsonMatrix;
}

/** The GPT model's forward pass on the trace's tokens (`analyze --weights CHECKPOINT` or `--layers N`). */
export interface ModelJson {
  config: { vocabSize: number; dim: number; heads: number; layers: number; contextLength: number; qkvBias: boolean };
  /** Per block: every head's attention weights after the softmax, 0 above the diagonal; the residual stream after the block. */
  blocks: JsonStream<{ attentionWeights: JsonMatrix[]; output: JsonMatrix }>;
  finalNorm: JsonMatrix;
  /** (T, vocab), a row at a time: GPT-2's at 1,024 tokens is 51 million numbers. */
  logits: JsonStream<number[]>;
}

/**
 * An array whose items are made one at a time as writeJson reaches them, so only one is in
 * memory (a GPT-2 block's 12 (T, T) maps are 50 MB of numbers at T = 1,024). JSON.stringify
 * also takes it (toJSON), for small models.
 */
export class JsonStream<T> {
  constructor(private readonly items: () => Iterable<T>) {}
  [Symbol.iterator](): Iterator<T> {
    return this.items()[Symbol.iterator]();
  }
  toJSON(): T[] {
    return [...this];
  }
}

/**
 * The shortest decimal that reads back as the same float32 (e.g. 0.1 rather than
 * 0.10000000149011612). Starting at six significant digits gives the same answer as starting at
 * one: a shorter decimal that reads back is within half a float32 ulp, so it is also the six-digit
 * rounding (with zeros dropped by Number).
 */
export function float32ToJson(value: number): number {
  const target = Math.fround(value);
  for (let digits = 6; digits < 9; digits++) {
    const shorter = Number(target.toPrecision(digits));
    if (Math.fround(shorter) === target) return shorter;
  }
  return Number(target.toPrecision(9)); // 9 significant digits always identify a float32
}

function finite(value: number, where: string): number {
  if (!Number.isFinite(value)) {
    throw new EngineError(`${where} is ${value}: the weights are too large for float32; use smaller weights`);
  }
  return float32ToJson(value);
}

/** Row r of m; the label of a non-finite value is only built when there is one. */
function rowToJson(m: Matrix, r: number, where: string): number[] {
  const row: number[] = new Array<number>(m.cols);
  for (let c = 0, i = r * m.cols; c < m.cols; c++, i++) {
    const value = m.data[i]!;
    row[c] = Number.isFinite(value) ? float32ToJson(value) : finite(value, `${where}[${r}][${c}]`);
  }
  return row;
}

function matrixToJson(m: Matrix, where: string): JsonMatrix {
  const rows: JsonMatrix = [];
  for (let r = 0; r < m.rows; r++) rows.push(rowToJson(m, r, where));
  return rows;
}

/** −∞ (a masked score) becomes null; any other non-finite value is an error. */
function maskedMatrixToJson(m: Matrix, where: string): JsonMaskedMatrix {
  const rows: JsonMaskedMatrix = [];
  for (let r = 0; r < m.rows; r++) {
    const row: (number | null)[] = new Array<number | null>(m.cols);
    for (let c = 0; c < m.cols; c++) {
      const value = m.data[r * m.cols + c]!;
      row[c] = value === -Infinity && c > r ? null : finite(value, `${where}[${r}][${c}]`);
    }
    rows.push(row);
  }
  return rows;
}

function vectorToJson(v: Float32Array, where: string): number[] {
  return Array.from(v, (value, i) => finite(value, `${where}[${i}]`));
}

export function traceToJson(trace: Trace): TraceJson {
  const { config } = trace;
  const m = matrixToJson;
  return {
    config: {
      stages: config.stages,
      tokenizer: config.tokenizer,
      vocabSize: config.vocabSize,
      dim: config.dim,
      attnDim: config.attnDim,
      heads: config.heads,
      headDim: config.headDim,
      dropout: config.dropout,
      seed: config.seed,
      contextLength: config.contextLength,
      qkvBias: config.qkvBias,
    },
    tokens: trace.tokens.map(({ text, id, start, end }) => ({ text, id, start, end })),
    embeddings: {
      token: m(trace.embeddings.token, 'embeddings.token'),
      position: m(trace.embeddings.position, 'embeddings.position'),
      input: m(trace.embeddings.input, 'embeddings.input'),
    },
    simple: {
      scores: m(trace.simple.scores, 'simple.scores'),
      weights: m(trace.simple.weights, 'simple.weights'),
      context: m(trace.simple.context, 'simple.context'),
    },
    selfAttention: {
      queries: m(trace.selfAttention.queries, 'selfAttention.queries'),
      keys: m(trace.selfAttention.keys, 'selfAttention.keys'),
      values: m(trace.selfAttention.values, 'selfAttention.values'),
      scores: m(trace.selfAttention.scores, 'selfAttention.scores'),
      weights: m(trace.selfAttention.weights, 'selfAttention.weights'),
      context: m(trace.selfAttention.context, 'selfAttention.context'),
    },
    causal: {
      maskedScores: maskedMatrixToJson(trace.causal.maskedScores, 'causal.maskedScores'),
      weights: m(trace.causal.weights, 'causal.weights'),
      droppedWeights: m(trace.causal.droppedWeights, 'causal.droppedWeights'),
      context: m(trace.causal.context, 'causal.context'),
    },
    multiHead: {
      heads: trace.multiHead.heads.map((head, h) => ({
        queries: m(head.queries, `multiHead.heads[${h}].queries`),
        keys: m(head.keys, `multiHead.heads[${h}].keys`),
        values: m(head.values, `multiHead.heads[${h}].values`),
        scores: maskedMatrixToJson(head.scores, `multiHead.heads[${h}].scores`),
        weights: m(head.weights, `multiHead.heads[${h}].weights`),
        droppedWeights: m(head.droppedWeights, `multiHead.heads[${h}].droppedWeights`),
        context: m(head.context, `multiHead.heads[${h}].context`),
      })),
      concat: m(trace.multiHead.concat, 'multiHead.concat'),
      output: m(trace.multiHead.output, 'multiHead.output'),
    },
    layerNorm: {
      input: m(trace.layerNorm.input, 'layerNorm.input'),
      mean: vectorToJson(trace.layerNorm.mean, 'layerNorm.mean'),
      variance: vectorToJson(trace.layerNorm.variance, 'layerNorm.variance'),
      output: m(trace.layerNorm.output, 'layerNorm.output'),
      outputMean: vectorToJson(trace.layerNorm.outputMean, 'layerNorm.outputMean'),
      outputVariance: vectorToJson(trace.layerNorm.outputVariance, 'layerNorm.outputVariance'),
    },
    ...(trace.attentionInput && { attentionInput: m(trace.attentionInput, 'attentionInput') }),
  };
}

/** The model part of the JSON; `forward` needs keepResiduals and every row of logits. */
export function modelToJson(model: GptModel, forward: GptForward): ModelJson {
  const { vocabSize, dim, heads, layers, contextLength, qkvBias } = model.config;
  if (!forward.logits || forward.logits.rows !== forward.finalNorm.rows) {
    throw new RangeError("modelToJson: run gptForward with logits 'all'");
  }
  const logits = forward.logits;
  return {
    config: { vocabSize, dim, heads, layers, contextLength, qkvBias },
    blocks: new JsonStream(function* () {
      for (let layer = 0; layer < layers; layer++) {
        const block = traceGptBlock(model, forward, layer); // recomputed from the kept residual stream
        yield {
          attentionWeights: block.attention.heads.map((head, h) => matrixToJson(head.weights, `model.blocks[${layer}].attentionWeights[${h}]`)),
          output: matrixToJson(block.output, `model.blocks[${layer}].output`),
        };
      }
    }),
    finalNorm: matrixToJson(forward.finalNorm, 'model.finalNorm'),
    logits: new JsonStream(function* () {
      for (let r = 0; r < logits.rows; r++) yield rowToJson(logits, r, 'model.logits');
    }),
  };
}

/**
 * What JSON.stringify(value) gives, for plain data, written in chunks of about 1 MB: the trace of
 * a long input (about 20 T×T matrices) is larger than the longest string V8 can hold.
 */
export function writeJson(value: unknown, write: (chunk: string) => void): void {
  let pending = '';
  const emit = (text: string): void => {
    pending += text;
    if (pending.length >= 1 << 20) {
      write(pending);
      pending = '';
    }
  };
  const visit = (item: unknown): void => {
    if (item instanceof JsonStream) {
      emit('[');
      let first = true;
      for (const x of item as JsonStream<unknown>) {
        if (!first) emit(',');
        first = false;
        visit(x);
      }
      emit(']');
    } else if (Array.isArray(item)) {
      // A row of numbers is small: stringify it whole.
      if (!item.some((x) => typeof x === 'object' && x !== null)) {
        emit(JSON.stringify(item));
        return;
      }
      emit('[');
      item.forEach((x, i) => {
        if (i > 0) emit(',');
        visit(x);
      });
      emit(']');
    } else if (typeof item === 'object' && item !== null) {
      emit('{');
      let first = true;
      for (const [key, x] of Object.entries(item)) {
        if (x === undefined || typeof x === 'function') continue; // as JSON.stringify skips them
        emit(`${first ? '' : ','}${JSON.stringify(key)}:`);
        first = false;
        visit(x);
      }
      emit('}');
    } else {
      emit(JSON.stringify(item) ?? 'null');
    }
  };
  visit(value);
  if (pending.length > 0) write(pending);
}
