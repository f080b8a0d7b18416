// The book's GPTModel in its training form (chapter 4's model, chapter 5's loss): one forward that
// keeps every activation its backward needs in one struct, and the backward that walks the same
// layers in reverse (layers.ts holds each layer's pair; see its header for why not a tape).
//
//   x = drop_emb(tok_emb[ids] + pos_emb[t])                         (N, C), N = B·T
//   per block:  x = x + drop_shortcut(att(norm1(x)))
//               x = x + drop_shortcut(ff(norm2(x)))       ff = Linear(C, 4C), GELU, Linear(4C, C)
//   logits = final_norm(x)·out_headᵀ                                (N, V)
//   loss = mean over the N positions of −log softmax(logits)[target]
//
// Dropout masks are drawn from the caller's TorchGenerator in the order torch's forward draws
// them: drop_emb (B, T, C), then per block the attention weights (B, H, T, T), the shortcut after
// attention and the shortcut after feed-forward (B, T, C each). With p = 0 nothing is drawn and
// the forward is the model's inference forward on each window.

import type { BlockWeights, GptConfig, GptWeights, NormWeights } from '../gpt/types';
import { KernelArena, addInto } from '../kernels';
import type { TorchGenerator } from '../rng';
import type { Linear, Matrix } from '../types';
import {
  type NormStats,
  attentionBackward,
  attentionForward,
  crossEntropyBackward,
  crossEntropyForward,
  dropoutBackward,
  dropoutForward,
  embeddingBackward,
  embeddingForward,
  geluBackward,
  geluForward,
  layerNormBackward,
  layerNormForward,
  linearBackward,
  linearForward,
} from './layers';

/** B windows of T tokens: inputs[b·T + t] and the next token of each, targets[b·T + t]. */
export interface TokenBatch {
  B: number;
  T: number;
  inputs: Int32Array; // (B·T)
  targets: Int32Array; // (B·T)
}

interface BlockActivations {
  input: Float32Array; // (N, C) the residual stream entering the block
  norm1: Float32Array; // (N, C)
  norm1Stats: NormStats;
  qkv: Float32Array; // (N, 3C) queries | keys | values, head h at h·headDim of each
  qkvLinear: Linear; // [W_query; W_key; W_value] (3C, C) and their biases (3C), stacked per forward
  attnWeights: Float32Array; // (B, H, T, T) after softmax, 0 above the diagonal
  attnKeep: Uint8Array; // (B, H, T, T) dropout mask (empty without dropout)
  contextVec: Float32Array; // (N, C) heads side by side, out_proj's input
  shortcut1Keep: Uint8Array; // (N, C) drop_shortcut after attention
  middle: Float32Array; // (N, C) x + drop_shortcut(att(norm1(x)))
  norm2: Float32Array; // (N, C)
  norm2Stats: NormStats;
  ffHidden: Float32Array; // (N, 4C) before GELU
  ffActivated: Float32Array; // (N, 4C) after GELU, ff.layers.2's input
  ffTanh: Float32Array; // (N, 4C) GELU's tanh u, for its backward
  shortcut2Keep: Uint8Array; // (N, C)
}

/**
 * Everything one batch's forward keeps for its backward, allocated once per (B, T) in the kernel's
 * memory (`arena`), where the kernel calls read and write them without staging copies. They are
 * given back when this struct is collected, or at once by arena.release().
 */
export interface GptActivations {
  arena: KernelArena;
  B: number;
  T: number;
  /** Whether the masks were allocated: dropout > 0 needs them. */
  withDropout: boolean;
  inputs: Int32Array; // (N) copies of the batch
  targets: Int32Array; // (N)
  embKeep: Uint8Array; // (N, C) drop_emb mask
  blocks: BlockActivations[];
  output: Float32Array; // (N, C) the residual stream after the last block
  finalNorm: Float32Array; // (N, C)
  finalStats: NormStats;
  logits: Float32Array; // (N, V); the backward overwrites it with dlogits
  probs: Float32Array; // (N, V) softmax of the logits
  loss: number;
  /** The dropout probability the last forward ran with (its backward needs the same). */
  dropout: number;
  // backward scratch
  gradResidual: Float32Array; // (N, C) d loss / d residual stream
  gradA: Float32Array; // (N, C)
  gradB: Float32Array; // (N, C)
  gradQkv: Float32Array; // (N, 3C)
  gradQkvWeight: Float32Array; // (3C, C)
  gradQkvBias: Float32Array; // (3C)
  gradHidden: Float32Array; // (N, 4C)
}

export function createGptActivations(config: GptConfig, B: number, T: number, withDropout: boolean): GptActivations {
  checkShape(config, B, T);
  const N = B * T;
  const { dim: C, heads, vocabSize: V } = config;
  const arena = new KernelArena();
  const f = (size: number) => arena.floats(size);
  const mask = (size: number) => arena.bytes(withDropout ? size : 0);
  const stats = (): NormStats => ({ mean: f(N), variance: f(N) });
  const blocks: BlockActivations[] = [];
  for (let l = 0; l < config.layers; l++) {
    blocks.push({
      input: f(N * C),
      norm1: f(N * C),
      norm1Stats: stats(),
      qkv: f(N * 3 * C),
      qkvLinear: { weight: { rows: 3 * C, cols: C, data: f(3 * C * C) }, bias: config.qkvBias ? f(3 * C) : undefined },
      attnWeights: f(B * heads * T * T),
      attnKeep: mask(B * heads * T * T),
      contextVec: f(N * C),
      shortcut1Keep: mask(N * C),
      middle: f(N * C),
      norm2: f(N * C),
      norm2Stats: stats(),
      ffHidden: f(N * 4 * C),
      ffActivated: f(N * 4 * C),
      ffTanh: f(N * 4 * C),
      shortcut2Keep: mask(N * C),
    });
  }
  return {
    arena,
    B,
    T,
    withDropout,
    inputs: new Int32Array(N),
    targets: new Int32Array(N),
    embKeep: mask(N * C),
    blocks,
    output: f(N * C),
    finalNorm: f(N * C),
    finalStats: stats(),
    logits: f(N * V),
    probs: f(N * V),
    loss: NaN,
    dropout: 0,
    gradResidual: f(N * C),
    gradA: f(N * C),
    gradB: f(N * C),
    gradQkv: f(N * 3 * C),
    gradQkvWeight: f(3 * C * C),
    gradQkvBias: f(3 * C),
    gradHidden: f(N * 4 * C),
  };
}

function checkShape(config: GptConfig, B: number, T: number): void {
  if (!Number.isSafeInteger(B) || B < 1) throw new RangeError(`batch size must be a whole number >= 1, got ${B}`);
  if (!Number.isSafeInteger(T) || T < 1 || T > config.contextLength) {
    throw new RangeError(`windows of ${T} tokens do not fit: use 1 to contextLength (${config.contextLength}) tokens`);
  }
  if (config.dim % config.heads !== 0) throw new RangeError(`heads (${config.heads}) must divide dim (${config.dim})`);
}

export interface ForwardOptions {
  /** Dropout probability of drop_emb, the attention weights and drop_shortcut; 0 (default) = eval. */
  dropout?: number;
  /** Where the masks come from (required when dropout > 0). */
  generator?: TorchGenerator;
}

/** [W_query; W_key; W_value] (3C, C) and their biases (3C) into `stacked`. */
function stackQkv(stacked: Linear, att: BlockWeights['att'], C: number): void {
  [att.query, att.key, att.value].forEach((projection, i) => {
    stacked.weight.data.set(projection.weight.data, i * C * C);
    if (stacked.bias && projection.bias) stacked.bias.set(projection.bias, i * C);
  });
}

/** The stacked gradient (3C, C) and (3C) back into the three projections' gradients. */
function unstackQkv(att: BlockWeights['att'], weight: Float32Array, bias: Float32Array | undefined, C: number): void {
  [att.query, att.key, att.value].forEach((projection, i) => {
    projection.weight.data.set(weight.subarray(i * C * C, (i + 1) * C * C));
    if (bias && projection.bias) projection.bias.set(bias.subarray(i * C, (i + 1) * C));
  });
}

/**
 * The training forward on one batch: fills `acts` and returns the mean cross-entropy loss.
 * `acts` must have been created for the batch's (B, T) (and with dropout if dropout > 0).
 */
export function gptTrainingForward(weights: GptWeights, config: GptConfig, acts: GptActivations, batch: TokenBatch, options: ForwardOptions = {}): number {
  const { B, T } = batch;
  const p = options.dropout ?? 0;
  if (acts.B !== B || acts.T !== T) throw new RangeError(`activations for (${acts.B}, ${acts.T}) used for a (${B}, ${T}) batch`);
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout must be in [0, 1), got ${p}`);
  if (p > 0 && !acts.withDropout) throw new RangeError('these activations were created without dropout masks');
  const generator = options.generator;
  if (p > 0 && !generator) throw new RangeError('dropout > 0 needs a generator');
  const N = B * T;
  const { dim: C, vocabSize: V, heads, layerNormEps: eps } = config;
  if (batch.inputs.length !== N || batch.targets.length !== N) throw new RangeError(`a (${B}, ${T}) batch needs ${N} inputs and targets`);
  for (let i = 0; i < N; i++) {
    const id = batch.inputs[i]!;
    const target = batch.targets[i]!;
    if (!(id >= 0 && id < V && target >= 0 && target < V)) throw new RangeError(`token id ${id < 0 || id >= V ? id : target} is outside the vocabulary 0..${V - 1}`);
  }
  acts.inputs.set(batch.inputs);
  acts.targets.set(batch.targets);
  acts.dropout = p;
  const shape = { B, T, C, heads };

  const first = acts.blocks[0]?.input ?? acts.output;
  embeddingForward(first, acts.inputs, weights.tokEmb, weights.posEmb, T); // (N, C)
  if (p > 0) dropoutForward(first, acts.embKeep, first, p, generator!);

  const branch = acts.gradA; // (N, C) scratch: att's and ff's output before the shortcut
  for (let l = 0; l < config.layers; l++) {
    const a = acts.blocks[l]!;
    const w = weights.blocks[l]!;
    const next = acts.blocks[l + 1]?.input ?? acts.output;
    a.norm1Stats = layerNormForward(a.norm1, a.input, w.norm1, eps, N, C);
    stackQkv(a.qkvLinear, w.att, C);
    linearForward(a.qkv, a.norm1, a.qkvLinear, N); // (N, C) -> (N, 3C)
    attentionForward(a.contextVec, a.attnWeights, a.attnKeep, a.qkv, shape, p, generator);
    linearForward(branch, a.contextVec, w.att.outProj, N);
    if (p > 0) dropoutForward(branch, a.shortcut1Keep, branch, p, generator!);
    addInto(a.middle, a.input, branch); // shortcut
    a.norm2Stats = layerNormForward(a.norm2, a.middle, w.norm2, eps, N, C);
    linearForward(a.ffHidden, a.norm2, w.ff.up, N); // (N, C) -> (N, 4C)
    geluForward(a.ffActivated, a.ffTanh, a.ffHidden, N);
    linearForward(branch, a.ffActivated, w.ff.down, N); // (N, 4C) -> (N, C)
    if (p > 0) dropoutForward(branch, a.shortcut2Keep, branch, p, generator!);
    addInto(next, a.middle, branch); // shortcut
  }
  acts.finalStats = layerNormForward(acts.finalNorm, acts.output, weights.finalNorm, eps, N, C);
  linearForward(acts.logits, acts.finalNorm, { weight: weights.outHead }, N); // (N, C) -> (N, V)
  acts.loss = crossEntropyForward(acts.probs, acts.logits, acts.targets, V);
  return acts.loss;
}

/**
 * The gradient of the last forward's loss with respect to every weight, written into `grads`
 * (same layout as the weights; every tensor is overwritten, so no zeroing is needed between
 * steps). Call once per forward: it consumes acts.logits and acts.probs.
 */
export function gptBackward(weights: GptWeights, config: GptConfig, acts: GptActivations, grads: GptWeights): void {
  const { B, T } = acts;
  const N = B * T;
  const { dim: C, vocabSize: V, heads, layerNormEps: eps } = config;
  const p = acts.dropout;
  const shape = { B, T, C, heads };
  const dres = acts.gradResidual;
  const dlogits = acts.logits; // (N, V), overwritten in place
  crossEntropyBackward(dlogits, acts.probs, acts.targets, V);
  linearBackward(acts.gradA, grads.outHead.data, undefined, dlogits, acts.finalNorm, { weight: weights.outHead }, N);
  dres.fill(0);
  layerNormBackward(dres, grads.finalNorm.scale, grads.finalNorm.shift, acts.gradA, acts.output, acts.finalStats, weights.finalNorm, eps, N, C);

  for (let l = config.layers - 1; l >= 0; l--) {
    const a = acts.blocks[l]!;
    const w = weights.blocks[l]!;
    const g = grads.blocks[l]!;
    // x_out = middle + drop(ff(norm2(middle))): dres is d x_out, and stays the shortcut's share
    const dBranch = acts.gradA;
    dropoutBackward(dBranch, dres, a.shortcut2Keep, p);
    linearBackward(acts.gradHidden, g.ff.down.weight.data, g.ff.down.bias, dBranch, a.ffActivated, w.ff.down, N);
    geluBackward(acts.gradHidden, acts.gradHidden, a.ffHidden, a.ffTanh); // (N, 4C)
    linearBackward(acts.gradB, g.ff.up.weight.data, g.ff.up.bias, acts.gradHidden, a.norm2, w.ff.up, N);
    layerNormBackward(dres, g.norm2.scale, g.norm2.shift, acts.gradB, a.middle, a.norm2Stats, w.norm2, eps, N, C); // dres = d middle
    // middle = input + drop(att(norm1(input)))
    dropoutBackward(dBranch, dres, a.shortcut1Keep, p);
    const dContext = acts.gradB;
    linearBackward(dContext, g.att.outProj.weight.data, g.att.outProj.bias, dBranch, a.contextVec, w.att.outProj, N);
    attentionBackward(acts.gradQkv, dContext, a.qkv, a.attnWeights, a.attnKeep, shape, p);
    // norm1's output feeds the three projections: one product sums their gradients
    const dNorm1 = acts.gradA;
    const stackedBias = a.qkvLinear.bias ? acts.gradQkvBias : undefined;
    linearBackward(dNorm1, acts.gradQkvWeight, stackedBias, acts.gradQkv, a.norm1, a.qkvLinear, N);
    unstackQkv(g.att, acts.gradQkvWeight, stackedBias, C);
    layerNormBackward(dres, g.norm1.scale, g.norm1.shift, dNorm1, a.input, a.norm1Stats, w.norm1, eps, N, C); // dres = d input
  }
  dropoutBackward(dres, dres, acts.embKeep, p);
  embeddingBackward(grads.tokEmb.data, grads.posEmb.data, dres, acts.inputs, T, C);
}

// ------------------------------------------------------------------------------------------------
// Parameters by name

/** One trainable tensor: its state_dict name (the book's), its shape and its values. */
export interface NamedParameter {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Every trainable tensor of `weights` under the book's state_dict names, in the order
 * model.parameters() yields them (the order torch's optimizer and clip_grad_norm_ walk).
 * Works as well on a gradient struct of the same layout.
 */
export function gptParameters(weights: GptWeights): NamedParameter[] {
  const out: NamedParameter[] = [];
  const linear = (name: string, layer: Linear) => {
    out.push({ name: `${name}.weight`, shape: [layer.weight.rows, layer.weight.cols], data: layer.weight.data });
    if (layer.bias) out.push({ name: `${name}.bias`, shape: [layer.bias.length], data: layer.bias });
  };
  const norm = (name: string, n: NormWeights) => {
    out.push({ name: `${name}.scale`, shape: [n.scale.length], data: n.scale });
    out.push({ name: `${name}.shift`, shape: [n.shift.length], data: n.shift });
  };
  out.push({ name: 'tok_emb.weight', shape: [weights.tokEmb.rows, weights.tokEmb.cols], data: weights.tokEmb.data });
  out.push({ name: 'pos_emb.weight', shape: [weights.posEmb.rows, weights.posEmb.cols], data: weights.posEmb.data });
  weights.blocks.forEach((block: BlockWeights, i) => {
    const at = `trf_blocks.${i}`;
    linear(`${at}.att.W_query`, block.att.query);
    linear(`${at}.att.W_key`, block.att.key);
    linear(`${at}.att.W_value`, block.att.value);
    linear(`${at}.att.out_proj`, block.att.outProj);
    linear(`${at}.ff.layers.0`, block.ff.up);
    linear(`${at}.ff.layers.2`, block.ff.down);
    norm(`${at}.norm1`, block.norm1);
    norm(`${at}.norm2`, block.norm2);
  });
  norm('final_norm', weights.finalNorm);
  out.push({ name: 'out_head.weight', shape: [weights.outHead.rows, weights.outHead.cols], data: weights.outHead.data });
  return out;
}

/**
 * A zero-filled GptWeights for `config`: the gradient struct, or weights to fill by name. Its
 * arrays come from `floats` (a trainer's gradients from a KernelArena's), else are ordinary.
 */
export function zeroGptWeights(config: GptConfig, floats: (count: number) => Float32Array = (count) => new Float32Array(count)): GptWeights {
  const { vocabSize: V, contextLength, dim: C, qkvBias } = config;
  const matrix = (rows: number, cols: number): Matrix => ({ rows, cols, data: floats(rows * cols) });
  const linear = (out: number, inFeatures: number, bias: boolean): Linear =>
    bias ? { weight: matrix(out, inFeatures), bias: floats(out) } : { weight: matrix(out, inFeatures) };
  const norm = (): NormWeights => ({ scale: floats(C), shift: floats(C) });
  const blocks: BlockWeights[] = [];
  for (let l = 0; l < config.layers; l++) {
    blocks.push({
      att: { query: linear(C, C, qkvBias), key: linear(C, C, qkvBias), value: linear(C, C, qkvBias), outProj: linear(C, C, true) },
      ff: { up: linear(4 * C, C, true), down: linear(C, 4 * C, true) },
      norm1: norm(),
      norm2: norm(),
    });
  }
  return { tokEmb: matrix(V, C), posEmb: matrix(contextLength, C), blocks, finalNorm: norm(), outHead: matrix(V, C) };
}
