// GPT checkpoints as safetensors, in two layouts, read into the one contract of gpt/types.ts:
//
// - the book's (what `model.state_dict()` of the book's GPTModel saves, and what we write):
//     tok_emb.weight (V, d), pos_emb.weight (C, d), final_norm.scale/shift (d), out_head.weight (V, d),
//     trf_blocks.{i}.att.W_query/W_key/W_value.weight (d, d) [+ .bias (d) with qkv bias],
//     trf_blocks.{i}.att.out_proj.weight (d, d) + .bias, trf_blocks.{i}.ff.layers.0.weight (4d, d)
//     + .bias (4d), ff.layers.2.weight (d, 4d) + .bias (d), trf_blocks.{i}.norm1/norm2.scale/shift (d);
//     trf_blocks.{i}.att.mask (the causal-mask buffer, (C, C)) is written, as the book's state_dict
//     holds it, and ignored when read. Heads are in our __metadata__.
// - Hugging Face GPT-2 (model.safetensors of gpt2, gpt2-medium, …; optional `transformer.` prefix):
//     wte.weight (V, d), wpe.weight (C, d), h.{i}.ln_1/ln_2.weight/bias, ln_f.weight/bias,
//     h.{i}.attn.c_attn.weight [d, 3d] + bias [3d], h.{i}.attn.c_proj.weight [d, d] + bias,
//     h.{i}.mlp.c_fc.weight [d, 4d] + bias, h.{i}.mlp.c_proj.weight [4d, d] + bias,
//     lm_head.weight (V, d) when present, else tied to wte; h.{i}.attn.bias / masked_bias ignored.
//   Conv1D stores [in, out] and computes x·W + b, so each weight is transposed into nn.Linear's
//   (out, in); c_attn's output columns are query | key | value side by side (nanoGPT's
//   from_pretrained transposes the same four: c_attn, attn.c_proj, c_fc, mlp.c_proj).
//   config.json beside the file gives n_head and layer_norm_epsilon.
//
// Memory: a file is read tensor by tensor (tensorSource.ts; a large tensor in slices of rows),
// never whole, so loading GPT-2 small (500 MB of F32) holds the model plus one slice, not two
// copies of the model.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError, validateGptConfig } from '../config';
import type { BlockWeights, GptConfig, GptModel, GptWeights, NormWeights } from '../gpt/types';
import type { Linear, Matrix } from '../types';
import { fsErrorReason } from './fsErrors';
import { SafetensorsError, writeSafetensors, type SafeTensor } from './safetensors';
import { LazySafetensors, mapSource, type TensorSource } from './tensorSource';
import { modelNameOf } from './modelName';

/** A checkpoint that cannot be read or does not describe a GPT; the message names the tensor or setting to fix. */
export class GptCheckpointError extends EngineError {
  override readonly name = 'GptCheckpointError';
}

/** What a checkpoint holds: the book's GPT, or Hugging Face GPT-2. */
export type WeightsLayout = 'book' | 'gpt2';

/**
 * What an old stages file (self_attn.*, mha.*, norm.*: the seven stages' own weights, written by
 * `llm101 analyze --save-weights` before the stages became the model's block 1) is told.
 */
export const STAGES_FILE_FIX =
  "holds the seven stages' own weights (self_attn.*, mha.*, norm.*), a format the playground no longer reads: " +
  "the stages are now block 1 of the model. Use a GPT checkpoint instead (the book's GPTModel names, e.g. one " +
  '`llm101 train` wrote, or `llm101 analyze --save-weights FILE` for the seeded model), a Hugging Face GPT-2 folder, ' +
  'or no weights file for the seeded model';

export interface LoadedGpt {
  model: GptModel;
  /** 'gpt2' means the gpt2 tokenizer is the model's. */
  layout: 'book' | 'gpt2';
  /** The .safetensors file read (inside the folder when a folder was given). */
  file: string;
  /** The file's __metadata__ (ours: the config and whatever the writer added, e.g. tokenizer, step). */
  metadata: Record<string, string>;
}

export interface ReadGptOptions {
  /** Heads when the file does not say (no __metadata__ heads, no config.json): the heads setting. */
  heads?: number;
}

/** Marks files we wrote, in __metadata__.format. */
export const GPT_FORMAT = 'llm101-gpt';

// ---------------------------------------------------------------------------------------------
// Named tensors -> GptModel

/** A dim of an expected shape: its size and the name shown in messages ("4·dim=3072"). */
interface Dim {
  name: string;
  size: number;
}

const formatShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const formatExpected = (dims: readonly Dim[]) => `[${dims.map((d) => `${d.name}=${d.size}`).join(', ')}]`;

/** The tensor's values after checking its shape against `expected` and that every value is finite. */
function take(source: TensorSource, name: string, expected: readonly Dim[]): Float32Array {
  const shape = source.shape(name);
  if (!shape) throw new GptCheckpointError(`missing tensor ${name} (expected shape ${formatExpected(expected)})`);
  if (shape.length !== expected.length || expected.some((dim, axis) => shape[axis] !== dim.size)) {
    throw new GptCheckpointError(`tensor ${name} has shape ${formatShape(shape)}, expected ${formatExpected(expected)}`);
  }
  const data = source.read(name);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new GptCheckpointError(`tensor ${name} holds ${data[i]} at flat index ${i}; every weight must be a finite number — re-save the weights without NaN or infinite values`);
    }
  }
  return data;
}

/** [rows, cols] of a 2-d tensor that fixes sizes (tok_emb, wte, ...), or an error naming it. */
function sizesOf(source: TensorSource, name: string, rows: string, cols: string): [number, number] {
  const shape = source.shape(name);
  if (!shape) throw new GptCheckpointError(`missing tensor ${name} (expected shape [${rows}, ${cols}])`);
  const [r, c] = shape;
  if (shape.length !== 2 || r === undefined || c === undefined || r < 1 || c < 1) {
    throw new GptCheckpointError(`tensor ${name} has shape ${formatShape(shape)}, expected 2 dims [${rows}, ${cols}] of at least 1`);
  }
  return [r, c];
}

/** 1 + the largest i of names `${prefix}{i}.…` (0 when there are none). */
function countLayers(source: TensorSource, prefix: string): number {
  let layers = 0;
  for (const name of source.names()) {
    if (!name.startsWith(prefix)) continue;
    const index = Number(name.slice(prefix.length).split('.')[0]);
    if (Number.isSafeInteger(index) && index >= 0) layers = Math.max(layers, index + 1);
  }
  return layers;
}

/** A positive whole number from metadata or config.json, or undefined when absent. */
function wholeNumber(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new GptCheckpointError(`${what} must be a positive whole number, got ${JSON.stringify(value)}`);
  return n;
}

function positiveNumber(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !(n > 0 && n < 1)) throw new GptCheckpointError(`${what} must be a small positive number such as 1e-5, got ${JSON.stringify(value)}`);
  return n;
}

/** validateGptConfig on a checkpoint's sizes; `headsSource`, when the file gave heads, is named instead of the setting. */
function checkConfig(config: GptConfig, headsSource: string | undefined): void {
  try {
    validateGptConfig(config);
  } catch (err) {
    if (!(err instanceof EngineError)) throw err;
    const fromFile = err.setting === 'heads' && headsSource !== undefined;
    throw new GptCheckpointError(fromFile ? `${err.message} (heads from ${headsSource})` : err.message, { ...(err.setting === 'heads' && !fromFile && { setting: 'heads' }) });
  }
}

/** The book's names: the model from tensors under tok_emb.weight, trf_blocks.{i}.…, out_head.weight. */
function bookFromSource(source: TensorSource, metadata: Readonly<Record<string, string>>, options: ReadGptOptions, label: string): GptModel {
  const [vocabSize, dim] = sizesOf(source, 'tok_emb.weight', 'vocabSize', 'dim');
  const [contextLength] = sizesOf(source, 'pos_emb.weight', 'contextLength', 'dim');
  const layers = countLayers(source, 'trf_blocks.');
  if (layers === 0) throw new GptCheckpointError('missing tensor trf_blocks.0.att.W_query.weight: the file has no transformer blocks');
  const fromFile = wholeNumber(metadata.heads, '__metadata__ heads');
  const heads = fromFile ?? options.heads;
  if (heads === undefined) {
    throw new GptCheckpointError('the checkpoint does not say how many attention heads it has (no __metadata__ heads); set heads', { setting: 'heads' });
  }
  const config: GptConfig = {
    vocabSize,
    contextLength,
    dim,
    heads,
    layers,
    qkvBias: source.shape('trf_blocks.0.att.W_query.bias') !== undefined,
    layerNormEps: positiveNumber(metadata.layerNormEps, '__metadata__ layerNormEps') ?? 1e-5,
  };
  checkConfig(config, fromFile === undefined ? undefined : "the file's __metadata__ heads");

  const V: Dim = { name: 'vocabSize', size: vocabSize };
  const C: Dim = { name: 'contextLength', size: contextLength };
  const D: Dim = { name: 'dim', size: dim };
  const F: Dim = { name: '4·dim', size: 4 * dim };
  const matrix = (name: string, rows: Dim, cols: Dim): Matrix => ({ rows: rows.size, cols: cols.size, data: take(source, name, [rows, cols]) });
  const vector = (name: string, length: Dim): Float32Array => take(source, name, [length]);
  const linear = (prefix: string, out: Dim, inputs: Dim, bias: boolean): Linear => {
    const weight = matrix(`${prefix}.weight`, out, inputs);
    return bias ? { weight, bias: vector(`${prefix}.bias`, out) } : { weight };
  };
  const norm = (prefix: string): NormWeights => ({ scale: vector(`${prefix}.scale`, D), shift: vector(`${prefix}.shift`, D) });
  const blocks: BlockWeights[] = [];
  for (let i = 0; i < layers; i++) {
    const p = `trf_blocks.${i}.`;
    blocks.push({
      att: {
        query: linear(`${p}att.W_query`, D, D, config.qkvBias),
        key: linear(`${p}att.W_key`, D, D, config.qkvBias),
        value: linear(`${p}att.W_value`, D, D, config.qkvBias),
        outProj: linear(`${p}att.out_proj`, D, D, true),
      },
      ff: { up: linear(`${p}ff.layers.0`, F, D, true), down: linear(`${p}ff.layers.2`, D, F, true) },
      norm1: norm(`${p}norm1`),
      norm2: norm(`${p}norm2`),
    });
  }
  const weights: GptWeights = {
    tokEmb: matrix('tok_emb.weight', V, D),
    posEmb: matrix('pos_emb.weight', C, D),
    blocks,
    finalNorm: norm('final_norm'),
    outHead: matrix('out_head.weight', V, D),
  };
  return { config, weights, source: label };
}

/** Hugging Face's config.json fields we read. */
interface HfConfig {
  n_head?: unknown;
  layer_norm_epsilon?: unknown;
}

/**
 * Conv1D weight [in, outTotal] columns start .. start+out−1 as an nn.Linear weight (out, in):
 * out[o][i] = w[i][start + o].
 */
function conv1dToLinear(w: Float32Array, inputs: number, outTotal: number, start: number, out: number): Matrix {
  const m: Matrix = { rows: out, cols: inputs, data: new Float32Array(out * inputs) };
  const tile = 32; // 32×32 tiles keep both the rows read and the rows written in cache
  for (let i0 = 0; i0 < inputs; i0 += tile) {
    for (let o0 = 0; o0 < out; o0 += tile) {
      for (let i = i0; i < Math.min(i0 + tile, inputs); i++) {
        for (let o = o0; o < Math.min(o0 + tile, out); o++) m.data[o * inputs + i] = w[i * outTotal + start + o]!;
      }
    }
  }
  return m;
}

/** Hugging Face GPT-2 names (optionally under `transformer.`), mapped onto the book's model. */
function gpt2FromSource(source: TensorSource, prefix: string, hf: HfConfig | undefined, options: ReadGptOptions, label: string): GptModel {
  const n = (name: string) => `${prefix}${name}`;
  const [vocabSize, dim] = sizesOf(source, n('wte.weight'), 'vocabSize', 'n_embd');
  const [contextLength] = sizesOf(source, n('wpe.weight'), 'n_positions', 'n_embd');
  const layers = countLayers(source, n('h.'));
  if (layers === 0) throw new GptCheckpointError(`missing tensor ${n('h.0.attn.c_attn.weight')}: the file has no transformer blocks`);
  const fromConfig = wholeNumber(hf?.n_head, 'config.json n_head');
  const heads = fromConfig ?? options.heads;
  if (heads === undefined) {
    throw new GptCheckpointError('a GPT-2 checkpoint needs its config.json (n_head) beside it, or set heads (12 for GPT-2 small, 16 for medium)', { setting: 'heads' });
  }
  const config: GptConfig = {
    vocabSize,
    contextLength,
    dim,
    heads,
    layers,
    qkvBias: true,
    layerNormEps: positiveNumber(hf?.layer_norm_epsilon, 'config.json layer_norm_epsilon') ?? 1e-5,
  };
  checkConfig(config, fromConfig === undefined ? undefined : 'n_head in config.json');

  const V: Dim = { name: 'vocabSize', size: vocabSize };
  const C: Dim = { name: 'n_positions', size: contextLength };
  const D: Dim = { name: 'n_embd', size: dim };
  const D3: Dim = { name: '3·n_embd', size: 3 * dim };
  const F: Dim = { name: '4·n_embd', size: 4 * dim };
  const vector = (name: string, length: Dim) => take(source, n(name), [length]);
  const norm = (name: string): NormWeights => ({ scale: vector(`${name}.weight`, D), shift: vector(`${name}.bias`, D) });
  // a Conv1D [in, out] + bias [out] as one nn.Linear (out, in)
  const conv1d = (name: string, inputs: Dim, out: Dim): Linear => ({
    weight: conv1dToLinear(take(source, n(`${name}.weight`), [inputs, out]), inputs.size, out.size, 0, out.size),
    bias: vector(`${name}.bias`, out),
  });
  const blocks: BlockWeights[] = [];
  for (let i = 0; i < layers; i++) {
    const p = `h.${i}.`;
    const qkv = take(source, n(`${p}attn.c_attn.weight`), [D, D3]); // [d, 3d]: query | key | value columns
    const qkvBias = vector(`${p}attn.c_attn.bias`, D3);
    const part = (k: number): Linear => ({
      weight: conv1dToLinear(qkv, dim, 3 * dim, k * dim, dim),
      bias: qkvBias.slice(k * dim, (k + 1) * dim),
    });
    blocks.push({
      att: { query: part(0), key: part(1), value: part(2), outProj: conv1d(`${p}attn.c_proj`, D, D) },
      ff: { up: conv1d(`${p}mlp.c_fc`, D, F), down: conv1d(`${p}mlp.c_proj`, F, D) },
      norm1: norm(`${p}ln_1`),
      norm2: norm(`${p}ln_2`),
    });
  }
  const tokEmb: Matrix = { rows: vocabSize, cols: dim, data: take(source, n('wte.weight'), [V, D]) };
  const head = ['lm_head.weight', n('lm_head.weight')].find((name) => source.shape(name) !== undefined);
  const weights: GptWeights = {
    tokEmb,
    posEmb: { rows: contextLength, cols: dim, data: take(source, n('wpe.weight'), [C, D]) },
    blocks,
    finalNorm: norm('ln_f'),
    // tied (GPT-2 as published): the same matrix, not a copy; a trainer that wants them apart copies it
    outHead: head ? { rows: vocabSize, cols: dim, data: take(source, head, [V, D]) } : tokEmb,
  };
  return { config, weights, source: label };
}

// ---------------------------------------------------------------------------------------------
// Layout

/** Which model a set of tensor names describes, or undefined when none of ours; an old stages file is refused with what to use. */
export function layoutOfNames(names: readonly string[]): WeightsLayout | undefined {
  const has = new Set(names);
  if (has.has('self_attn.W_query.weight') || has.has('mha.W_query.weight')) throw new GptCheckpointError(STAGES_FILE_FIX);
  if (has.has('tok_emb.weight') && names.some((name) => name.startsWith('trf_blocks.'))) return 'book';
  if (has.has('wte.weight') || has.has('transformer.wte.weight')) return 'gpt2';
  return undefined;
}

/** The .safetensors file for a path that may be a Hugging Face model folder. */
export function resolveWeightsFile(p: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(p);
  } catch (err) {
    throw new GptCheckpointError(`cannot read checkpoint ${p}: ${fsErrorReason(err)}`);
  }
  if (!stat.isDirectory()) return p;
  const file = path.join(p, 'model.safetensors');
  if (!fs.existsSync(file)) {
    throw new GptCheckpointError(`folder ${p} has no model.safetensors; point the weights at a .safetensors file or a Hugging Face model folder`, { setting: 'weightsPath' });
  }
  return file;
}

function openLazy<T>(file: string, use: (source: LazySafetensors) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw new GptCheckpointError(`cannot read checkpoint ${file}: ${fsErrorReason(err)}`);
  }
  try {
    return use(new LazySafetensors(fd, fs.fstatSync(fd).size));
  } catch (err) {
    if (err instanceof SafetensorsError || err instanceof GptCheckpointError) {
      throw new GptCheckpointError(`checkpoint ${file}: ${err.message}`, { ...(err instanceof GptCheckpointError && err.setting !== undefined && { setting: err.setting }) });
    }
    throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/** The sizes a GPT checkpoint's header fixes by its shapes alone (no heads: only metadata or config.json say). */
export interface HeaderSizes {
  vocabSize?: number;
  dim?: number;
  contextLength?: number;
  layers: number;
  qkvBias: boolean;
}

/** Read from the token and position embeddings' shapes and the block names, the book's or GPT-2's. */
function headerSizes(source: TensorSource, names: readonly string[]): HeaderSizes {
  const find = (...wanted: string[]) => names.find((n) => wanted.some((w) => n === w || n.endsWith(`.${w}`)));
  const tok = find('tok_emb.weight', 'wte.weight');
  const pos = find('pos_emb.weight', 'wpe.weight');
  const [vocabSize, dim] = tok !== undefined ? source.shape(tok) ?? [] : [];
  const [contextLength] = pos !== undefined ? source.shape(pos) ?? [] : [];
  const book = names.some((n) => n.startsWith('trf_blocks.'));
  const blocks = new Set(names.map((n) => /(?:^|\.)(?:trf_blocks|h)\.(\d+)\./.exec(n)?.[1]).filter((i) => i !== undefined));
  return {
    ...(vocabSize !== undefined && { vocabSize }), ...(dim !== undefined && { dim }), ...(contextLength !== undefined && { contextLength }),
    layers: blocks.size,
    qkvBias: book ? names.includes('trf_blocks.0.att.W_query.bias') : true,
  };
}

/** Which kind of weights a file (or Hugging Face folder) holds, and its __metadata__, from its header alone. */
export function weightsLayoutOf(p: string): { layout: WeightsLayout; file: string; metadata: Record<string, string>; sizes?: HeaderSizes } {
  const file = resolveWeightsFile(p);
  const { layout, metadata, sizes } = openLazy(file, (source) => {
    const names = source.names();
    const layout = layoutOfNames(names);
    return { layout, metadata: { ...source.metadata }, ...(layout !== undefined && { sizes: headerSizes(source, names) }) };
  });
  if (!layout) {
    throw new GptCheckpointError(
      `checkpoint ${file} holds neither the book's GPT (tok_emb.weight, trf_blocks.*) nor GPT-2 (wte.weight, h.*)`,
    );
  }
  return { layout, file, metadata, ...(sizes && { sizes }) };
}

function readHfConfig(file: string): HfConfig | undefined {
  const configFile = path.join(path.dirname(file), 'config.json');
  if (!fs.existsSync(configFile)) return undefined;
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object');
    return parsed as HfConfig;
  } catch (err) {
    throw new GptCheckpointError(`cannot read ${configFile}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** How a checkpoint written by `llm101 train` (or the panel's training) was trained, from its __metadata__. */
export interface CheckpointTraining {
  step: number;
  /** The last evaluation's mean next-token cross-entropy (nats per token), when it had one. */
  trainLoss?: number;
  valLoss?: number;
  /** The corpus's file or folder names. */
  corpus?: string;
}

/** The training a checkpoint's metadata records, or undefined (a checkpoint made elsewhere). */
export function checkpointTraining(metadata: Readonly<Record<string, string>>): CheckpointTraining | undefined {
  const step = Number(metadata['llm101.step']);
  if (metadata['llm101.step'] === undefined || !Number.isSafeInteger(step) || step < 0) return undefined;
  const loss = (key: string) => {
    const value = Number(metadata[key]);
    return metadata[key] !== undefined && Number.isFinite(value) ? value : undefined;
  };
  const trainLoss = loss('llm101.trainLoss');
  const valLoss = loss('llm101.valLoss');
  const corpus = metadata['llm101.corpus'];
  return { step, ...(trainLoss !== undefined && { trainLoss }), ...(valLoss !== undefined && { valLoss }), ...(corpus && { corpus }) };
}

/**
 * Reads a GPT checkpoint, the book's layout or Hugging Face GPT-2 (a .safetensors file, or the
 * folder holding model.safetensors and config.json), tensor by tensor.
 * @throws GptCheckpointError (an EngineError) with a one-line message naming the file and the fix.
 */
export function readGptCheckpoint(p: string, options: ReadGptOptions = {}): LoadedGpt {
  const file = resolveWeightsFile(p);
  const label = modelNameOf(p);
  const hf = readHfConfig(file);
  return openLazy(file, (source) => {
    const layout = layoutOfNames(source.names());
    if (layout === undefined) {
      throw new GptCheckpointError("it holds neither the book's GPT (tok_emb.weight, trf_blocks.*) nor GPT-2 (wte.weight, h.*)");
    }
    const metadata = { ...source.metadata };
    if (layout === 'book') return { model: bookFromSource(source, metadata, options, label), layout, file, metadata };
    const prefix = source.shape('transformer.wte.weight') ? 'transformer.' : '';
    return { model: gpt2FromSource(source, prefix, hf, options, label), layout, file, metadata };
  });
}

/** Tensors under the book's names (in memory, e.g. from a training step) as a model. */
export function tensorsToGpt(
  tensors: ReadonlyMap<string, SafeTensor>,
  metadata: Readonly<Record<string, string>> = {},
  options: ReadGptOptions & { source?: string } = {},
): GptModel {
  return bookFromSource(mapSource(tensors), metadata, options, options.source ?? 'tensors');
}

// ---------------------------------------------------------------------------------------------
// Writing (the book's names, F32)

/** The config as __metadata__ strings; readGptCheckpoint reads heads and layerNormEps back from it. */
export function gptCheckpointMetadata(config: GptConfig): Record<string, string> {
  return {
    format: GPT_FORMAT,
    vocabSize: String(config.vocabSize),
    contextLength: String(config.contextLength),
    dim: String(config.dim),
    heads: String(config.heads),
    layers: String(config.layers),
    qkvBias: String(config.qkvBias),
    layerNormEps: String(config.layerNormEps),
  };
}

/** Every weight under the book's state_dict name (data shared, not copied), in state_dict order. */
export function gptToTensors(weights: GptWeights): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  const matrix = (name: string, m: Matrix) => out.set(name, { shape: [m.rows, m.cols], data: m.data });
  const vector = (name: string, v: Float32Array) => out.set(name, { shape: [v.length], data: v });
  const linear = (prefix: string, l: Linear) => {
    matrix(`${prefix}.weight`, l.weight);
    if (l.bias) vector(`${prefix}.bias`, l.bias);
  };
  const norm = (prefix: string, n: NormWeights) => {
    vector(`${prefix}.scale`, n.scale);
    vector(`${prefix}.shift`, n.shift);
  };
  matrix('tok_emb.weight', weights.tokEmb);
  matrix('pos_emb.weight', weights.posEmb);
  weights.blocks.forEach((block, i) => {
    const p = `trf_blocks.${i}.`;
    linear(`${p}att.W_query`, block.att.query);
    linear(`${p}att.W_key`, block.att.key);
    linear(`${p}att.W_value`, block.att.value);
    linear(`${p}att.out_proj`, block.att.outProj);
    linear(`${p}ff.layers.0`, block.ff.up);
    linear(`${p}ff.layers.2`, block.ff.down);
    norm(`${p}norm1`, block.norm1);
    norm(`${p}norm2`, block.norm2);
  });
  norm('final_norm', weights.finalNorm);
  matrix('out_head.weight', weights.outHead);
  return out;
}

/**
 * The book's GPTModel registers each block's causal mask as a buffer, triu(ones(C, C), diagonal=1)
 * in float32, so its state_dict holds trf_blocks.{i}.att.mask and load_state_dict(strict=True)
 * wants it in the file. The reader ignores it (files with or without it load). (C, C) per block,
 * one shared array.
 */
function withMaskBuffers(tensors: Map<string, SafeTensor>, config: GptConfig): Map<string, SafeTensor> {
  const C = config.contextLength;
  const mask = new Float32Array(C * C);
  for (let row = 0; row < C; row++) mask.fill(1, row * C + row + 1, (row + 1) * C);
  for (let i = 0; i < config.layers; i++) tensors.set(`trf_blocks.${i}.att.mask`, { shape: [C, C], data: mask });
  return tensors;
}

/**
 * Writes the model in the book's names as F32 safetensors, its config in __metadata__ plus
 * `extraMetadata` (e.g. tokenizer, step, losses as strings; the config's own keys are reserved).
 */
export function writeGptCheckpoint(file: string, model: GptModel, extraMetadata: Readonly<Record<string, string>> = {}): void {
  const metadata = gptCheckpointMetadata(model.config);
  for (const [key, value] of Object.entries(extraMetadata)) {
    if (Object.prototype.hasOwnProperty.call(metadata, key)) throw new GptCheckpointError(`metadata key ${key} is the checkpoint's own (the model's config); use another name`);
    if (typeof value !== 'string') throw new GptCheckpointError(`metadata ${key} must be a string, got ${typeof value}`);
    Object.defineProperty(metadata, key, { value, enumerable: true, writable: true, configurable: true });
  }
  const bytes = writeSafetensors(withMaskBuffers(gptToTensors(model.weights), model.config), metadata);
  try {
    fs.writeFileSync(file, bytes);
  } catch (err) {
    const missingFolder = (err as { code?: unknown } | null)?.code === 'ENOENT';
    throw new GptCheckpointError(`cannot write checkpoint ${file}: ${missingFolder ? 'its folder does not exist; create it first' : fsErrorReason(err)}`);
  }
}
