// The model's weights as a safetensors file, in PyTorch layouts and with the names of the
// reference PyTorch modules (see Weights in ../types.ts), so a state_dict saved with
// safetensors.torch.save_file loads here and a file written here loads in PyTorch.
// Like nanoGPT's loader, every tensor's shape is checked and a mismatch names the tensor.
import * as fs from 'node:fs';
import { EngineError } from '../config';
import type { Linear, Matrix, Weights } from '../types';
import { fsErrorReason } from './fsErrors';
import { readSafetensors, SafetensorsError, writeSafetensors, type SafeTensor } from './safetensors';

/** The sizes a weights file fixes through its shapes. */
export interface WeightSizes {
  vocabSize: number;
  dim: number;
  attnDim: number;
  contextLength: number;
  /** Whether the six query/key/value projections carry a bias. */
  qkvBias: boolean;
}

export type ExpectedSizes = Partial<WeightSizes>;

/**
 * Where each expectation came from, for messages: e.g. { vocabSize: "the word tokenizer's
 * vocabulary", dim: '--dim' }. Without it the message says "requested".
 */
export type ExpectationSources = Partial<Record<keyof WeightSizes, string>>;

export interface LoadedWeights {
  weights: Weights;
  sizes: WeightSizes;
}

/** A weights file that is unreadable, is missing a tensor, has a wrong shape, or disagrees with the settings. */
export class WeightsFileError extends EngineError {
  override readonly name = 'WeightsFileError';
}

/** Tensor names, in the order the stages create them. */
export const TENSOR_NAMES = {
  tokEmb: 'tok_emb.weight',
  posEmb: 'pos_emb.weight',
  selfAttn: { query: 'self_attn.W_query', key: 'self_attn.W_key', value: 'self_attn.W_value' },
  mha: { query: 'mha.W_query', key: 'mha.W_key', value: 'mha.W_value', outProj: 'mha.out_proj' },
  normScale: 'norm.scale',
  normShift: 'norm.shift',
} as const;

const QKV_PREFIXES = [
  TENSOR_NAMES.selfAttn.query,
  TENSOR_NAMES.selfAttn.key,
  TENSOR_NAMES.selfAttn.value,
  TENSOR_NAMES.mha.query,
  TENSOR_NAMES.mha.key,
  TENSOR_NAMES.mha.value,
] as const;

// ---------------------------------------------------------------------------------------------
// Weights -> tensors

const matrixTensor = (m: Matrix): SafeTensor => ({ shape: [m.rows, m.cols], data: m.data });
const vectorTensor = (v: Float32Array): SafeTensor => ({ shape: [v.length], data: v });

function linearTensors(prefix: string, linear: Linear): [string, SafeTensor][] {
  const out: [string, SafeTensor][] = [[`${prefix}.weight`, matrixTensor(linear.weight)]];
  if (linear.bias) out.push([`${prefix}.bias`, vectorTensor(linear.bias)]);
  return out;
}

/** Every weight under its safetensors name (the data is shared, not copied). */
export function weightsToTensors(weights: Weights): Map<string, SafeTensor> {
  const n = TENSOR_NAMES;
  return new Map<string, SafeTensor>([
    [n.tokEmb, matrixTensor(weights.tokEmb)],
    [n.posEmb, matrixTensor(weights.posEmb)],
    ...linearTensors(n.selfAttn.query, weights.selfAttn.query),
    ...linearTensors(n.selfAttn.key, weights.selfAttn.key),
    ...linearTensors(n.selfAttn.value, weights.selfAttn.value),
    ...linearTensors(n.mha.query, weights.mha.query),
    ...linearTensors(n.mha.key, weights.mha.key),
    ...linearTensors(n.mha.value, weights.mha.value),
    ...linearTensors(n.mha.outProj, weights.mha.outProj),
    [n.normScale, vectorTensor(weights.norm.scale)],
    [n.normShift, vectorTensor(weights.norm.shift)],
  ]);
}

// ---------------------------------------------------------------------------------------------
// tensors -> Weights

/** A dim of an expected shape: its size and the name shown in messages ("attnDim=28"). */
interface Dim {
  name: string;
  size: number;
}

const formatShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const formatExpected = (dims: readonly Dim[]) => `[${dims.map((d) => `${d.name}=${d.size}`).join(', ')}]`;

function requiredNames(tensors: ReadonlyMap<string, SafeTensor>): string[] {
  const n = TENSOR_NAMES;
  return [
    n.tokEmb,
    n.posEmb,
    ...QKV_PREFIXES.map((p) => `${p}.weight`),
    `${n.mha.outProj}.weight`,
    `${n.mha.outProj}.bias`,
    n.normScale,
    n.normShift,
  ].filter((name) => !tensors.has(name));
}

function get(tensors: ReadonlyMap<string, SafeTensor>, name: string): SafeTensor {
  const tensor = tensors.get(name);
  if (!tensor) throw new WeightsFileError(`missing tensor ${name}`);
  return tensor;
}

/** Checks rank and every dim against `expected`, then that every value is finite. */
function checked(tensors: ReadonlyMap<string, SafeTensor>, name: string, expected: readonly Dim[]): SafeTensor {
  const tensor = get(tensors, name);
  const matches =
    tensor.shape.length === expected.length && expected.every((dim, axis) => tensor.shape[axis] === dim.size);
  if (!matches) {
    throw new WeightsFileError(`${name} has shape ${formatShape(tensor.shape)}, expected ${formatExpected(expected)}`);
  }
  const bad = tensor.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new WeightsFileError(
      `${name} holds ${tensor.data[bad]} at flat index ${bad}; every weight must be a finite number — re-save the weights without NaN or infinite values`,
    );
  }
  return tensor;
}

function rank2(tensors: ReadonlyMap<string, SafeTensor>, name: string, rows: string, cols: string): [number, number] {
  const { shape } = get(tensors, name);
  const [r, c] = shape;
  if (shape.length !== 2 || r === undefined || c === undefined) {
    throw new WeightsFileError(`${name} has shape ${formatShape(shape)}, expected 2 dims [${rows}, ${cols}]`);
  }
  if (r < 1 || c < 1) {
    throw new WeightsFileError(`${name} has shape ${formatShape(shape)}; ${rows} and ${cols} must be at least 1`);
  }
  return [r, c];
}

/**
 * Builds Weights from named tensors, reading vocabSize, dim, attnDim and contextLength from the
 * shapes and checking every other tensor against them and against `expect`.
 * Tensors with other names (e.g. the causal mask buffers of the book's modules) are ignored.
 * @throws WeightsFileError naming the tensor, the expected shape and the actual one.
 */
export function tensorsToWeights(
  tensors: ReadonlyMap<string, SafeTensor>,
  expect: ExpectedSizes = {},
  sources: ExpectationSources = {},
): LoadedWeights {
  const missing = requiredNames(tensors);
  if (missing.length > 0) {
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more: ${missing.slice(1).join(', ')})` : '';
    throw new WeightsFileError(`missing tensor ${missing[0]}${more}`);
  }
  const n = TENSOR_NAMES;
  const [vocabSize, dim] = rank2(tensors, n.tokEmb, 'vocabSize', 'dim');
  const [contextLength] = rank2(tensors, n.posEmb, 'contextLength', 'dim');
  const [attnDim] = rank2(tensors, `${n.selfAttn.query}.weight`, 'attnDim', 'dim');

  const presentBiases = QKV_PREFIXES.filter((p) => tensors.has(`${p}.bias`));
  const qkvBias = presentBiases.length > 0;
  if (qkvBias && presentBiases.length !== QKV_PREFIXES.length) {
    const absent = QKV_PREFIXES.find((p) => !tensors.has(`${p}.bias`));
    throw new WeightsFileError(
      `${presentBiases[0]}.bias is present but ${absent}.bias is missing; the query/key/value projections need a bias on all six or on none`,
    );
  }
  const sizes: WeightSizes = { vocabSize, dim, attnDim, contextLength, qkvBias };
  checkExpectations(sizes, expect, sources);

  const V: Dim = { name: 'vocabSize', size: vocabSize };
  const C: Dim = { name: 'contextLength', size: contextLength };
  const D: Dim = { name: 'dim', size: dim };
  const A: Dim = { name: 'attnDim', size: attnDim };

  const matrix = (name: string, rows: Dim, cols: Dim): Matrix => {
    const t = checked(tensors, name, [rows, cols]);
    return { rows: rows.size, cols: cols.size, data: t.data };
  };
  const vector = (name: string, length: Dim): Float32Array => checked(tensors, name, [length]).data;
  const linear = (prefix: string, inputs: Dim, bias: boolean): Linear => {
    const weight = matrix(`${prefix}.weight`, A, inputs);
    return bias ? { weight, bias: vector(`${prefix}.bias`, A) } : { weight };
  };

  const weights: Weights = {
    tokEmb: matrix(n.tokEmb, V, D),
    posEmb: matrix(n.posEmb, C, D),
    selfAttn: {
      query: linear(n.selfAttn.query, D, qkvBias),
      key: linear(n.selfAttn.key, D, qkvBias),
      value: linear(n.selfAttn.value, D, qkvBias),
    },
    mha: {
      query: linear(n.mha.query, D, qkvBias),
      key: linear(n.mha.key, D, qkvBias),
      value: linear(n.mha.value, D, qkvBias),
      outProj: linear(n.mha.outProj, A, true),
    },
    norm: { scale: vector(n.normScale, A), shift: vector(n.normShift, A) },
  };
  return { weights, sizes };
}

/** Which tensor fixes each size, for messages. */
const SIZE_ORIGIN: Record<keyof WeightSizes, string> = {
  vocabSize: 'rows of tok_emb.weight',
  dim: 'columns of tok_emb.weight',
  attnDim: 'rows of self_attn.W_query.weight',
  contextLength: 'rows of pos_emb.weight',
  qkvBias: 'self_attn.W_query.bias and the other query/key/value biases',
};

function checkExpectations(sizes: WeightSizes, expect: ExpectedSizes, sources: ExpectationSources): void {
  for (const key of ['vocabSize', 'dim', 'attnDim', 'contextLength', 'qkvBias'] as const) {
    const wanted = expect[key];
    if (wanted === undefined || wanted === sizes[key]) continue;
    const source = sources[key];
    if (key === 'qkvBias') {
      const asks = source ? `${source} asks for ${wanted ? 'them' : 'none'}` : `biases ${wanted ? 'were' : 'were not'} expected`;
      const fix = source ? `drop ${source} or use` : 'use';
      throw new WeightsFileError(
        `the file has ${sizes.qkvBias ? '' : 'no '}query/key/value biases (${SIZE_ORIGIN.qkvBias}) but ${asks}; ` +
          `${fix} a file ${sizes.qkvBias ? 'without' : 'with'} biases`,
      );
    }
    const fix =
      key === 'vocabSize'
        ? 'use the tokenizer and corpus the weights were made with'
        : source
          ? `drop ${source} or make it ${sizes[key]}`
          : `expect ${sizes[key]}`;
    throw new WeightsFileError(
      `${key} is ${sizes[key]} in the file (${SIZE_ORIGIN[key]}) but ${source ? `${source} gives ${wanted}` : `${wanted} was expected`}; ${fix}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// files

/** Weights files larger than this are refused before reading (GPT-2's vocabulary at dim 768 is ~155 MB). */
export const MAX_WEIGHTS_FILE_BYTES = 1024 ** 3;

/**
 * Reads and checks a weights file. Every error (unreadable file, malformed safetensors, missing
 * tensor, wrong shape, disagreement with `expect`) is a WeightsFileError whose message starts
 * with the path.
 */
export function readWeightsFile(path: string, expect: ExpectedSizes = {}, sources: ExpectationSources = {}): LoadedWeights {
  const prefix = `weights file ${path}`;
  let bytes: Buffer;
  try {
    const stat = fs.statSync(path);
    if (!stat.isFile()) throw new WeightsFileError(`${prefix} is not a regular file; give the path of a .safetensors file`);
    if (stat.size > MAX_WEIGHTS_FILE_BYTES) {
      throw new WeightsFileError(`${prefix} is ${stat.size} bytes, above the ${MAX_WEIGHTS_FILE_BYTES}-byte limit for this playground`);
    }
    bytes = fs.readFileSync(path);
  } catch (err) {
    if (err instanceof WeightsFileError) throw err;
    throw new WeightsFileError(`cannot read ${prefix}: ${fsErrorReason(err)}`);
  }
  try {
    return tensorsToWeights(readSafetensors(bytes).tensors, expect, sources);
  } catch (err) {
    if (err instanceof SafetensorsError || err instanceof WeightsFileError) {
      throw new WeightsFileError(`${prefix}: ${err.message}`);
    }
    throw err;
  }
}

/** Writes weights as F32 safetensors, with {"format": "pt"} metadata as PyTorch-side loaders expect. */
export function writeWeightsFile(path: string, weights: Weights): void {
  const bytes = writeSafetensors(weightsToTensors(weights), { format: 'pt' });
  try {
    fs.writeFileSync(path, bytes);
  } catch (err) {
    const missingFolder = (err as { code?: unknown } | null)?.code === 'ENOENT';
    throw new WeightsFileError(
      `cannot write weights file ${path}: ${missingFolder ? 'its folder does not exist; create it first' : fsErrorReason(err)}`,
    );
  }
}
