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

import { columnSumsInto, geluBackwardInto, geluRowsInto, layerNormBackwardInto, matmulInto, softmaxRowsInto } from '../kernels';
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
// layout: one product instead of three); head h's queries, keys and values are its columns
// h·headDim .., C + h·headDim .. and 2C + h·headDim ..:
//   attnScores = Q·Kᵀ (T, T), −∞ above the diagonal
//   attnWeights = softmax_row(attnScores / √headDim)
//   dropped = dropout(attnWeights)                 (the whole (B, H, T, T) mask in one draw)
//   contextVec = dropped · V (T, headDim), written to the same columns of ctx (N, C)
// Backward (j <= i only; every upper-triangle gradient is 0):
//   dDropped = dContext·Vᵀ,  dV = droppedᵀ·dContext,  dWeights = dDropped·keep/(1 − p)
//   dScores[i][j] = attnWeights[i][j]·(dWeights[i][j] − Σ_k attnWeights[i][k]·dWeights[i][k]) / √headDim
//   dQ = dScores·K,  dK = dScoresᵀ·Q

export interface AttentionShape {
  B: number;
  T: number;
  C: number;
  heads: number;
}

/**
 * Per-head scratch, reused by every head and layer: two (T, T) maps (scores and dropped weights;
 * dScores and a transposed map) and four (T, headDim) slices (a head's product, its reversed
 * queries, its dContext and reversed dContext).
 */
export interface AttentionScratch {
  squareA: Float32Array; // (T, T)
  squareB: Float32Array; // (T, T)
  rowsA: Float32Array; // (T, headDim)
  rowsB: Float32Array;
  rowsC: Float32Array;
  rowsD: Float32Array;
}

export function createAttentionScratch(T: number, headDim: number): AttentionScratch {
  return {
    squareA: new Float32Array(T * T),
    squareB: new Float32Array(T * T),
    rowsA: new Float32Array(T * headDim),
    rowsB: new Float32Array(T * headDim),
    rowsC: new Float32Array(T * headDim),
    rowsD: new Float32Array(T * headDim),
  };
}

/** Columns offset .. of a row-major buffer whose rows are `stride` floats apart. */
interface Columns {
  data: Float32Array;
  stride: number;
  offset: number;
}

/**
 * Head h's hd columns of window b's T rows of m into slice (T, hd); with `reversed`, slice row t
 * is window row T − 1 − t.
 */
function gatherHead(slice: Float32Array, m: Columns, b: number, h: number, shape: AttentionShape, reversed = false): void {
  const T = shape.T;
  const hd = shape.C / shape.heads;
  const { data, stride, offset } = m;
  // plain loops: a subarray per row (headDim floats) costs more than the copy
  for (let t = 0; t < T; t++) {
    const from = (b * T + (reversed ? T - 1 - t : t)) * stride + offset + h * hd;
    const to = t * hd;
    for (let c = 0; c < hd; c++) slice[to + c] = data[from + c]!;
  }
}

/** gatherHead's inverse: slice (T, hd) into head h's columns of window b's rows of m. */
function scatterHead(m: Columns, slice: Float32Array, b: number, h: number, shape: AttentionShape, reversed = false): void {
  const T = shape.T;
  const hd = shape.C / shape.heads;
  const { data, stride, offset } = m;
  for (let t = 0; t < T; t++) {
    const to = (b * T + (reversed ? T - 1 - t : t)) * stride + offset + h * hd;
    const from = t * hd;
    for (let c = 0; c < hd; c++) data[to + c] = slice[from + c]!;
  }
}

/** The query, key and value columns of a (N, 3C) buffer. */
function splitQkv(qkv: Float32Array, C: number): [Columns, Columns, Columns] {
  return [0, C, 2 * C].map((offset) => ({ data: qkv, stride: 3 * C, offset })) as [Columns, Columns, Columns];
}

/**
 * out (T, T) = R·Aᵀ·R for a lower-triangular A (T, T), R the row reversal: out[j'][i'] =
 * A[T−1−i'][T−1−j'], again lower-triangular (0 above the diagonal, written). Aᵀ·X is upper ×
 * dense, which the kernel cannot skip; Aᵀ·X = R·(R·Aᵀ·R)·(R·X) is lower × dense, which it can.
 * A's entries are multiplied by keep[at + ·]·scale when `keep` is given (dropout).
 */
function reversedTranspose(out: Float32Array, a: Float32Array, T: number, keep: Uint8Array | undefined, at: number, scale: number): void {
  for (let jr = 0; jr < T; jr++) {
    const j = T - 1 - jr;
    const row = jr * T;
    for (let ir = 0; ir <= jr; ir++) {
      const from = (T - 1 - ir) * T + j;
      out[row + ir] = keep ? a[from]! * scale * keep[at + from]! : a[from]!;
    }
    out.fill(0, row + jr + 1, row + T);
  }
}

/** Head (b, h)'s queries (part 0), keys (1) or values (2) in a head-major (3, B, H, T, hd) buffer. */
function headSlice(qkvHeads: Float32Array, part: number, b: number, h: number, shape: AttentionShape): Float32Array {
  const size = (shape.T * shape.C) / shape.heads;
  const at = ((part * shape.B + b) * shape.heads + h) * size;
  return qkvHeads.subarray(at, at + size);
}

/** out (T, hd) = the rows of slice (T, hd) in reverse order. */
function reverseRows(out: Float32Array, slice: Float32Array, T: number, hd: number): void {
  for (let t = 0; t < T; t++) out.set(slice.subarray((T - 1 - t) * hd, (T - t) * hd), t * hd);
}

/**
 * ctx (N, C) from qkv (N, 3C). qkvHeads (3·N·C) receives the queries, keys and values head-major,
 * (3, B, H, T, hd), for the products here and the backward (contiguous per head: no gathers
 * there). attnWeights (B·H·T·T) keeps every head's softmax (0 above the diagonal; the buffer
 * must start zeroed and is only ever written on and below it); `keep` (B·H·T·T) receives the
 * dropout mask when p > 0.
 */
export function attentionForward(
  ctx: Float32Array,
  qkvHeads: Float32Array,
  attnWeights: Float32Array,
  keep: Uint8Array,
  qkv: Float32Array,
  shape: AttentionShape,
  p: number,
  generator: TorchGenerator | undefined,
  scratch: AttentionScratch,
): void {
  const { B, T, C, heads } = shape;
  const headDim = C / heads;
  const divisor = Math.sqrt(headDim);
  const { squareA: attnScores, squareB: dropped, rowsA: contextVec } = scratch;
  const [q, k, v] = splitQkv(qkv, C);
  const out = { data: ctx, stride: C, offset: 0 };
  if (p > 0) {
    if (!generator) throw new Error('attentionForward: dropout needs a generator');
    generator.dropoutMask(keep, p); // torch draws the (B, H, T, T) mask in one call, row-major
  }
  const scale = dropoutScale(p);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      const queries = headSlice(qkvHeads, 0, b, h, shape);
      const keys = headSlice(qkvHeads, 1, b, h, shape);
      const values = headSlice(qkvHeads, 2, b, h, shape);
      gatherHead(queries, q, b, h, shape);
      gatherHead(keys, k, b, h, shape);
      gatherHead(values, v, b, h, shape);
      matmulInto(attnScores, queries, keys, T, T, headDim, { bTransposed: true, lowerOutput: true }); // (T, hd)·(T, hd)ᵀ
      const map = (b * heads + h) * T * T;
      const weights = attnWeights.subarray(map, map + T * T);
      softmaxRowsInto(weights, attnScores, T, T, divisor, true); // (T, T), upper triangle untouched (0)
      let mixed = weights;
      if (p > 0) {
        for (let i = 0; i < T; i++) {
          for (let j = 0; j <= i; j++) dropped[i * T + j] = weights[i * T + j]! * scale * keep[map + i * T + j]!;
          dropped.fill(0, i * T + i + 1, (i + 1) * T);
        }
        mixed = dropped;
      }
      matmulInto(contextVec, mixed, values, T, headDim, T, { bTransposed: false, lowerInput: true }); // (T, T)·(T, hd)
      scatterHead(out, contextVec, b, h, shape);
    }
  }
}

/** dqkv (N, 3C) overwritten from dctx (N, C); the other arguments are the forward's. */
export function attentionBackward(
  dqkv: Float32Array,
  dctxData: Float32Array,
  qkvHeads: Float32Array,
  attnWeights: Float32Array,
  keep: Uint8Array,
  shape: AttentionShape,
  p: number,
  scratch: AttentionScratch,
): void {
  const { B, T, C, heads } = shape;
  const headDim = C / heads;
  const divisor = Math.fround(Math.sqrt(headDim)); // torch divides by the float32 √headDim
  const scale = dropoutScale(p);
  const { squareA: grad, squareB: transposed, rowsA: slice, rowsB: reversedQueries, rowsC: reversedContext, rowsD: dContext } = scratch;
  const [dq, dk, dv] = splitQkv(dqkv, C);
  const dctx = { data: dctxData, stride: C, offset: 0 };
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      const map = (b * heads + h) * T * T;
      const weights = attnWeights.subarray(map, map + T * T);
      const queries = headSlice(qkvHeads, 0, b, h, shape);
      const keys = headSlice(qkvHeads, 1, b, h, shape);
      const values = headSlice(qkvHeads, 2, b, h, shape);
      gatherHead(dContext, dctx, b, h, shape);
      // dV (T, hd) = droppedᵀ·dContext, as R·(R·droppedᵀ·R)·(R·dContext): a lower-triangular product
      reverseRows(reversedContext, dContext, T, headDim);
      reversedTranspose(transposed, weights, T, p > 0 ? keep : undefined, map, scale);
      matmulInto(slice, transposed, reversedContext, T, headDim, T, { bTransposed: false, lowerInput: true });
      scatterHead(dv, slice, b, h, shape, true);
      // dDropped (T, T) = dContext·Vᵀ, lower triangle only
      matmulInto(grad, dContext, values, T, T, headDim, { bTransposed: true, lowerOutput: true });
      // through dropout and softmax, into dScores (j <= i, 0 above for the lowerInput product)
      for (let i = 0; i < T; i++) {
        const row = i * T;
        let dot = 0;
        if (p > 0) {
          for (let j = row; j <= row + i; j++) {
            const dWeight = grad[j]! * scale * keep[map + j]!;
            grad[j] = dWeight;
            dot += weights[j]! * dWeight;
          }
        } else {
          for (let j = row; j <= row + i; j++) dot += weights[j]! * grad[j]!;
        }
        for (let j = row; j <= row + i; j++) grad[j] = (weights[j]! * (grad[j]! - dot)) / divisor;
        grad.fill(0, row + i + 1, row + T);
      }
      matmulInto(slice, grad, keys, T, headDim, T, { bTransposed: false, lowerInput: true }); // dQ = dScores·K
      scatterHead(dq, slice, b, h, shape);
      // dK = dScoresᵀ·Q, reversed as dV is
      reversedTranspose(transposed, grad, T, undefined, 0, 1);
      reverseRows(reversedQueries, queries, T, headDim);
      matmulInto(slice, transposed, reversedQueries, T, headDim, T, { bTransposed: false, lowerInput: true });
      scatterHead(dk, slice, b, h, shape, true);
    }
  }
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
