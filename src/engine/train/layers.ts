// Every layer of the book's GPTModel in its training form: a forward that keeps what its backward
// needs, and the backward beside it, over flat row-major float32 buffers (outputs first, sizes
// last), as karpathy/llm.c's train_gpt2.c lays them out. N = B·T rows (the batch's windows one
// after the other), C = dim.
//
// Why llm.c style and not a tape: the model is one fixed graph (embeddings, L identical blocks,
// final norm, head), so the order of the backward is known when the code is written. Each
// backward can be read on the same screen as its forward and its formula, the activations are
// named fields of one struct (GptActivations in model.ts) allocated once for a batch size, and
// nothing is allocated, recorded or replayed per op. A tape would earn its keep only if the graph
// changed at run time.
//
// Numerics: products go through the kernel (matmulInto: float32 sums, both threads for large
// ones) as PyTorch's float32 BLAS does, softmaxes through softmaxRowsInto, GELU, bias gradients
// and layer norm's backward through the kernel's rows (rows.wat); reductions that PyTorch does in
// float32 (bias gradients, layer-norm backward sums, the loss) are done in double and rounded
// once, which keeps every gradient well inside the fixtures' 1e-5 / 1e-4.

import { attentionBackwardInto, attentionForwardInto, columnSumsInto, geluBackwardInto, geluRowsInto, layerNormBackwardInto, matmulInto, softmaxRowsInto, type AttentionShape } from '../kernels';
import { layerNormInto } from '../layers/layerNorm';
import type { TorchGenerator } from '../rng';
import { dropoutScale } from '../tensor';
import type { Linear, Matrix } from '../types';
import type { NormWeights } from '../gpt/types';


// ------------------------------------------------------------------------------------------------
// Embeddings (book 2.8): x[b, t] = tok_emb[ids[b, t]] + pos_emb[t]

/** out (N, C) = tokEmb[ids] + posEmb[t], ids (N) as B windows of T. */
export function embeddingForward(out: Float32Array, ids: Int32Array, tokEmb: Matrix, posEmb: Matrix, T: number): void {
  const C = tokEmb.cols;
  const tok = tokEmb.data;
  const pos = posEmb.data;
  for (let r = 0; r < ids.length; r++) {
    const id = ids[r]!;
    const t = r % T;
    // float32 + float32, rounded once on the store, as torch adds the two lookups
    for (let c = 0; c < C; c++) out[r * C + c] = tok[id * C + c]! + pos[t * C + c]!;
  }
}

/**
 * The lookups' backward is a scatter-add: dTokEmb[ids[r]] += dout[r], dPosEmb[r mod T] += dout[r].
 * Both gradients are overwritten (rows no token used are 0). dout (N, C)
 */
export function embeddingBackward(dTokEmb: Float32Array, dPosEmb: Float32Array, dout: Float32Array, ids: Int32Array, T: number, C: number): void {
  dTokEmb.fill(0);
  dPosEmb.fill(0);
  for (let r = 0; r < ids.length; r++) {
    const tokRow = ids[r]! * C;
    const posRow = (r % T) * C;
    for (let c = 0; c < C; c++) {
      const g = dout[r * C + c]!;
      dTokEmb[tokRow + c]! += g;
      dPosEmb[posRow + c]! += g;
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Linear (nn.Linear): y = x·Wᵀ + b
//   dx = dy·W,   dW = dyᵀ·x,   db = Σ_rows dy

/** out (N, out) = x (N, in)·Wᵀ + b. */
export function linearForward(out: Float32Array, x: Float32Array, layer: Linear, N: number): void {
  const { weight, bias } = layer;
  matmulInto(out, x, weight.data, N, weight.rows, weight.cols, { bTransposed: true, ...(bias && { bias }) });
}

/**
 * dx (N, in) = dy·W (overwritten; skipped when dx is undefined), dWeight (out, in) = dyᵀ·x and
 * dBias (out) = column sums of dy in double (both overwritten). The kernel transposes dy as it
 * takes it in (aTransposed). Transposing x and the result instead, (xᵀ·dy)ᵀ, moves fewer floats
 * for ff.layers.0 and the head but was measured slower: the kernel then copies and packs the
 * larger operand as B.
 */
export function linearBackward(
  dx: Float32Array | undefined,
  dWeight: Float32Array,
  dBias: Float32Array | undefined,
  dy: Float32Array,
  x: Float32Array,
  layer: Linear,
  N: number,
): void {
  const outFeatures = layer.weight.rows;
  const inFeatures = layer.weight.cols;
  if (dx) matmulInto(dx, dy, layer.weight.data, N, inFeatures, outFeatures, { bTransposed: false }); // (N, out)·(out, in)
  matmulInto(dWeight, dy, x, outFeatures, inFeatures, N, { bTransposed: false, aTransposed: true }); // (N, out)ᵀ·(N, in)
  if (dBias) columnSumsInto(dBias, dy, N, outFeatures);
}

// ------------------------------------------------------------------------------------------------
// Layer norm (book 4.2): x̂ = (x − μ)/√(σ² + ε), y = scale·x̂ + shift, per row of C
//   dx̂ = dy·scale;  dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / √(σ² + ε)
//   dscale = Σ_rows dy·x̂,  dshift = Σ_rows dy

export interface NormStats {
  mean: Float32Array; // (N)
  variance: Float32Array; // (N), biased
}

/** out (N, C) = layer norm of x; the inference layer's own function, so both agree bit for bit. */
export function layerNormForward(out: Float32Array, x: Float32Array, norm: NormWeights, eps: number, N: number, C: number): NormStats {
  return layerNormInto(out, { rows: N, cols: C, data: x }, norm, eps);
}

/**
 * dx (N, C) += the input's gradient (accumulated: dx is the residual stream's gradient);
 * dScale, dShift (C) overwritten. x is the norm's input, stats what its forward returned.
 */
export function layerNormBackward(
  dx: Float32Array,
  dScale: Float32Array,
  dShift: Float32Array,
  dy: Float32Array,
  x: Float32Array,
  stats: NormStats,
  norm: NormWeights,
  eps: number,
  N: number,
  C: number,
): void {
  layerNormBackwardInto(dx, dScale, dShift, dy, x, stats, norm.scale, eps, N, C); // rows.wat
}

// ------------------------------------------------------------------------------------------------
// GELU, tanh approximation (book 4.3): g(x) = ½·x·(1 + tanh u), u = √(2/π)·(x + 0.044715·x³)
//   g'(x) = ½·(1 + tanh u) + ½·x·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²)

/** out = GELU(x) and tanhU = tanh u (for the backward), x (N, hidden): layers/gelu.ts's geluScalar bit for bit (rows.wat). */
export function geluForward(out: Float32Array, tanhU: Float32Array, x: Float32Array, N: number): void {
  geluRowsInto(out, tanhU, x, N, x.length / N);
}

/** dx = dy · g'(x) elementwise (overwritten; may be dy itself), tanhU from the forward (rows.wat). (n) */
export function geluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, tanhU: Float32Array): void {
  geluBackwardInto(dx, dy, x, tanhU);
}

// ------------------------------------------------------------------------------------------------
// Dropout (nn.Dropout in training): y = x·keep/(1 − p), keep ~ Bernoulli(1 − p) drawn per element
// in row-major order from the generator, as torch draws it (rng.ts). dx = dy·keep/(1 − p).

/** Draws `keep` and writes out = x·keep·scale (out may be x). p = 0 draws nothing and copies. */
export function dropoutForward(out: Float32Array, keep: Uint8Array, x: Float32Array, p: number, generator: TorchGenerator): void {
  if (p === 0) {
    if (out !== x) out.set(x);
    return;
  }
  generator.dropoutMask(keep, p);
  const scale = dropoutScale(p);
  // + 0 turns −0 (a dropped negative) into 0, as applyDropout does
  for (let i = 0; i < x.length; i++) out[i] = x[i]! * scale * keep[i]! + 0;
}

/** dx = dy·keep·scale (dx may be dy). p = 0: dx = dy. */
export function dropoutBackward(dx: Float32Array, dy: Float32Array, keep: Uint8Array, p: number): void {
  if (p === 0) {
    if (dx !== dy) dx.set(dy);
    return;
  }
  const scale = dropoutScale(p);
  for (let i = 0; i < dy.length; i++) dx[i] = dy[i]! * scale * keep[i]! + 0;
}

// ------------------------------------------------------------------------------------------------
// Causal multi-head attention (book 3.6, MultiHeadAttention), per window b and head h. The three
// projections are one (N, 3C) buffer qkv = norm1·[W_query; W_key; W_value]ᵀ (GPT-2's c_attn
// layout: one product instead of three), which the forward keeps for the backward; head h's
// queries, keys and values are its columns h·headDim .., C + h·headDim .. and 2C + h·headDim ..:
//   attnScores = Q·Kᵀ (T, T), −∞ above the diagonal
//   attnWeights = softmax_row(attnScores / √headDim)
//   dropped = dropout(attnWeights)                 (the whole (B, H, T, T) mask in one draw)
//   contextVec = dropped · V (T, headDim), written to the same columns of ctx (N, C)
// Backward (j <= i only; every upper-triangle gradient is 0):
//   dDropped = dContext·Vᵀ,  dV = droppedᵀ·dContext,  dWeights = dDropped·keep/(1 − p)
//   dScores[i][j] = attnWeights[i][j]·(dWeights[i][j] − Σ_k attnWeights[i][k]·dWeights[i][k]) / √headDim
//   dQ = dScores·K,  dK = dScoresᵀ·Q

/**
 * ctx (N, C) from qkv (N, 3C); attnWeights (B·H·T·T) keeps every head's softmax, 0 above the
 * diagonal, and `keep` (B·H·T·T) receives the dropout mask when p > 0, drawn here in one call,
 * row-major, as torch draws the (B, H, T, T) mask. The heads run in the kernel (kernels/attention.ts).
 */
export function attentionForward(
  ctx: Float32Array,
  attnWeights: Float32Array,
  keep: Uint8Array,
  qkv: Float32Array,
  shape: AttentionShape,
  p: number,
  generator: TorchGenerator | undefined,
): void {
  if (p > 0) {
    if (!generator) throw new Error('attentionForward: dropout needs a generator');
    generator.dropoutMask(keep, p);
  }
  attentionForwardInto(ctx, attnWeights, qkv, p > 0 ? keep : undefined, dropoutScale(p), shape);
}

/** dqkv (N, 3C) overwritten from dctx (N, C); the other arguments are the forward's. */
export function attentionBackward(dqkv: Float32Array, dctx: Float32Array, qkv: Float32Array, attnWeights: Float32Array, keep: Uint8Array, shape: AttentionShape, p: number): void {
  attentionBackwardInto(dqkv, dctx, qkv, attnWeights, p > 0 ? keep : undefined, dropoutScale(p), shape);
}

// ------------------------------------------------------------------------------------------------
// Output head and loss: F.cross_entropy(logits.flatten(0, 1), targets.flatten()), the mean over
// all N positions of −log softmax(logits)[target]
//   dlogits = (softmax(logits) − onehot(target)) / N

/**
 * probs (N, V) = softmax of logits (N, V), a separate buffer; returns the mean loss. A target
 * whose float32 probability underflows takes its loss from the logits in double instead.
 */
export function crossEntropyForward(probs: Float32Array, logits: Float32Array, targets: Int32Array, V: number): number {
  const N = targets.length;
  softmaxRowsInto(probs, logits, N, V, 1, false);
  let total = 0;
  for (let r = 0; r < N; r++) {
    const pTarget = probs[r * V + targets[r]!]!;
    if (pTarget > 1e-30) {
      total -= Math.log(pTarget);
      continue;
    }
    let max = -Infinity;
    for (let c = 0; c < V; c++) max = Math.max(max, logits[r * V + c]!);
    let sum = 0;
    for (let c = 0; c < V; c++) sum += Math.exp(logits[r * V + c]! - max);
    total += Math.log(sum) + max - logits[r * V + targets[r]!]!;
  }
  return total / N;
}

/** dlogits (N, V) = (probs − onehot(targets)) / N (dlogits may be probs: in place). */
export function crossEntropyBackward(dlogits: Float32Array, probs: Float32Array, targets: Int32Array, V: number): void {
  const N = targets.length;
  const inverse = 1 / N;
  for (let r = 0; r < N; r++) {
    const row = r * V;
    for (let c = 0; c < V; c++) dlogits[row + c] = probs[row + c]! * inverse;
    dlogits[row + targets[r]!] = (probs[row + targets[r]!]! - 1) * inverse;
  }
}
