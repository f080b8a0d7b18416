// The layers' elementwise and row-wise work in the kernel's memory (rows.wat): GELU and its
// backward, a bias's gradient, layer norm and its backward, a transpose and AdamW's update. Each
// is the double-precision JavaScript it replaced, op for op, in two float64 lanes (rows.wat says
// where the order of a sum differs), and the large ones are shared between the threads like a
// product.
//
// Why stage operands in the workspace instead of computing in JavaScript: the copies in and out
// run at memory speed, while the scalar loops took 3-10 ns an element (GELU's rational tanh alone
// about 9 ns; at 2,048 tokens of dim 256 a training step ran 6.3M of them forward).

import { outputAt, placeInWorkspace, stageIn, stageOut, stagedBytes } from './heap';
import { MIN_PARALLEL_ENTRIES, transposeShared } from './products';
import { kernelState, runRows, type KernelState } from './pool';
import { JOB, JobKind } from './protocol';

/**
 * Rows 0..rows−1 (cols wide) of dst = GELU(src + bias) in the kernel's memory, tanh u into
 * tanhDst (dst's stride) for a backward; bias and tanhDst −1 when there are none. Byte addresses,
 * strides in elements; src and dst may be the same.
 */
export function geluInKernel(s: KernelState, src: number, ldSrc: number, dst: number, ldDst: number, tanhDst: number, cols: number, bias: number, rows: number): void {
  const args = [src, ldSrc, dst, ldDst, tanhDst, cols, bias];
  runRows(s, rows, rows >= 2 && rows * cols >= MIN_PARALLEL_ENTRIES, 1, JobKind.Gelu, args, (rowStart, rowEnd) =>
    s.kernel.gelu(src, ldSrc, dst, ldDst, tanhDst, cols, bias, rowStart, rowEnd),
  );
}

/**
 * out = GELU(x) for x (rows, cols), layers/gelu.ts's geluScalar bit for bit; tanhU, when given,
 * receives tanh u as float32 (GELU's backward reads it). out may be x.
 */
export function geluRowsInto(out: Float32Array, tanhU: Float32Array | undefined, x: Float32Array, rows: number, cols: number): void {
  const n = rows * cols;
  if (x.length !== n || out.length !== n || (tanhU && tanhU.length !== n)) {
    throw new RangeError(`geluRowsInto: ${x.length}, ${out.length} and ${tanhU?.length ?? 'no'} floats for (${rows}, ${cols})`);
  }
  if (n === 0) return;
  const s = kernelState();
  // workspace: x | GELU(x) | tanh u (rows, cols each), for those that do not live in the kernel's memory
  const [xScratch, outScratch, tanhScratch] = placeInWorkspace(s, stagedBytes(s, x), stagedBytes(s, out), tanhU ? stagedBytes(s, tanhU) : 0);
  const xAt = stageIn(s, x, xScratch);
  const outAt = outputAt(s, out, outScratch);
  const tanhAt = tanhU ? outputAt(s, tanhU, tanhScratch) : -1;
  geluInKernel(s, xAt, cols, outAt, cols, tanhAt, cols, -1, rows);
  stageOut(s, out, outAt);
  if (tanhU) stageOut(s, tanhU, tanhAt);
}

/** dx = dy·GELU'(x) elementwise, with tanhU = tanh u from the forward (dx may be dy). (n) */
export function geluBackwardInto(dx: Float32Array, dy: Float32Array, x: Float32Array, tanhU: Float32Array): void {
  const n = dy.length;
  if (dx.length !== n || x.length !== n || tanhU.length !== n) {
    throw new RangeError(`geluBackwardInto: ${dx.length}, ${dy.length}, ${x.length} and ${tanhU.length} floats`);
  }
  if (n === 0) return;
  const s = kernelState();
  // workspace: dy | x | tanh u | dx, for those that do not live in the kernel's memory
  const [dyScratch, xScratch, tanhScratch, dxScratch] = placeInWorkspace(s, stagedBytes(s, dy), stagedBytes(s, x), stagedBytes(s, tanhU), stagedBytes(s, dx));
  const dyAt = stageIn(s, dy, dyScratch);
  const xAt = stageIn(s, x, xScratch);
  const tanhAt = stageIn(s, tanhU, tanhScratch);
  const dxAt = outputAt(s, dx, dxScratch);
  // chunks of whole quads of elements, so every chunk but the last starts 16-byte aligned
  runRows(s, n, n >= MIN_PARALLEL_ENTRIES, 4, JobKind.GeluBackward, [dyAt, xAt, tanhAt, dxAt], (start, end) =>
    s.kernel.geluBackward(dyAt, xAt, tanhAt, dxAt, start, end),
  );
  stageOut(s, dx, dxAt);
}

/** out = a + b elementwise, each sum rounded once to float32 (out may be a or b): the residual stream's shortcut. */
export function addInto(out: Float32Array, a: Float32Array, b: Float32Array): void {
  const n = out.length;
  if (a.length !== n || b.length !== n) throw new RangeError(`addInto: ${out.length}, ${a.length} and ${b.length} floats`);
  if (n === 0) return;
  const s = kernelState();
  // workspace: a | b | out, for those that do not live in the kernel's memory
  const [aScratch, bScratch, outScratch] = placeInWorkspace(s, stagedBytes(s, a), stagedBytes(s, b), stagedBytes(s, out));
  const aAt = stageIn(s, a, aScratch);
  const bAt = stageIn(s, b, bScratch);
  const outAt = outputAt(s, out, outScratch);
  // chunks of whole quads of elements, as GELU's backward's
  runRows(s, n, n >= MIN_PARALLEL_ENTRIES, 4, JobKind.Add, [aAt, bAt, outAt], (start, end) => s.kernel.add(aAt, bAt, outAt, start, end));
  stageOut(s, out, outAt);
}

/** out (cols, rows) = aᵀ for a (rows, cols), through the kernel (rows.wat's 4 × 4 blocks in strips of 16 columns). */
export function transposeInto(out: Float32Array, a: Float32Array, rows: number, cols: number): void {
  if (a.length !== rows * cols || out.length !== rows * cols) throw new RangeError(`transposeInto: ${a.length} and ${out.length} floats for (${rows}, ${cols})`);
  if (a.length === 0) return;
  const s = kernelState();
  // workspace: a (rows, cols) | aᵀ (cols, rows)
  const [aAt, outAt] = placeInWorkspace(s, 4 * a.length, 4 * a.length);
  s.heap.set(a, aAt >> 2);
  transposeShared(s, aAt, cols, outAt, rows, rows, cols);
  out.set(s.heap.subarray(outAt >> 2, (outAt >> 2) + a.length));
}

/** sums (cols) = the column sums of src (rows, cols), each in double in increasing row, rounded once. */
export function columnSumsInto(sums: Float32Array, src: Float32Array, rows: number, cols: number): void {
  if (src.length !== rows * cols || sums.length !== cols) throw new RangeError(`columnSumsInto: ${src.length} and ${sums.length} floats for (${rows}, ${cols})`);
  const s = kernelState();
  // workspace: src (rows, cols) | sums (cols float64)
  const [srcScratch, sumsAt] = placeInWorkspace(s, stagedBytes(s, src), 8 * cols);
  s.kernel.columnSums(stageIn(s, src, srcScratch), cols, rows, cols, sumsAt);
  sums.set(new Float64Array(s.memory.buffer, sumsAt, cols));
}

/**
 * out (rows, cols) = layer norm of x (out may be x), as layers/layerNorm.ts specifies it, bit for
 * bit; returns each row's mean and biased variance (rows). Rows are shared between the threads.
 */
export function layerNormRowsInto(out: Float32Array, x: Float32Array, scale: Float32Array, shift: Float32Array, eps: number, rows: number, cols: number): { mean: Float32Array; variance: Float32Array } {
  const n = rows * cols;
  if (x.length !== n || out.length !== n || scale.length !== cols || shift.length !== cols) {
    throw new RangeError(`layerNormRowsInto: ${x.length} and ${out.length} floats, scale ${scale.length}, shift ${shift.length} for (${rows}, ${cols})`);
  }
  const mean = new Float32Array(rows);
  const variance = new Float32Array(rows);
  if (n === 0) return { mean, variance };
  const s = kernelState();
  // workspace: x | out (rows, cols), for those that do not live in the kernel's memory | scale |
  // shift (cols) | mean | variance (rows)
  const [xScratch, outScratch, scaleAt, shiftAt, meanAt, varianceAt] = placeInWorkspace(s, stagedBytes(s, x), stagedBytes(s, out), 4 * cols, 4 * cols, 4 * rows, 4 * rows);
  const heap = s.heap;
  const xAt = stageIn(s, x, xScratch);
  const outAt = outputAt(s, out, outScratch);
  heap.set(scale, scaleAt >> 2);
  heap.set(shift, shiftAt >> 2);
  const epsilon = Math.fround(eps);
  s.controlFloats[JOB + 7] = epsilon; // the helpers read ε as float32 bits
  const args = [xAt, outAt, scaleAt, shiftAt, meanAt, varianceAt, cols, s.control[JOB + 7]!];
  runRows(s, rows, rows >= 2 && n >= MIN_PARALLEL_ENTRIES, 1, JobKind.LayerNorm, args, (rowStart, rowEnd) =>
    s.kernel.layerNorm(xAt, outAt, scaleAt, shiftAt, meanAt, varianceAt, cols, epsilon, rowStart, rowEnd),
  );
  stageOut(s, out, outAt);
  mean.set(heap.subarray(meanAt >> 2, (meanAt >> 2) + rows));
  variance.set(heap.subarray(varianceAt >> 2, (varianceAt >> 2) + rows));
  return { mean, variance };
}

/**
 * Layer norm's backward over (rows, cols): dx += the input's gradient (the residual stream's
 * gradient accumulates), dScale and dShift (cols) overwritten. x is the norm's input; mean and
 * variance (rows) what its forward returned; eps the model's ε. The formula is rows.wat's.
 */
export function layerNormBackwardInto(
  dx: Float32Array,
  dScale: Float32Array,
  dShift: Float32Array,
  dy: Float32Array,
  x: Float32Array,
  stats: { mean: Float32Array; variance: Float32Array },
  scale: Float32Array,
  eps: number,
  rows: number,
  cols: number,
): void {
  const n = rows * cols;
  if (dx.length !== n || dy.length !== n || x.length !== n || stats.mean.length !== rows || stats.variance.length !== rows || scale.length !== cols || dScale.length !== cols || dShift.length !== cols) {
    throw new RangeError(`layerNormBackwardInto: buffers that do not fit (${rows}, ${cols})`);
  }
  const s = kernelState();
  // workspace: x | dy | dx (rows, cols), for those that do not live in the kernel's memory | mean |
  // variance (rows) | scale (cols) | scale's and shift's sums (cols float64)
  const [xScratch, dyScratch, dxScratch, meanAt, varianceAt, scaleAt, scaleSumsAt, shiftSumsAt] = placeInWorkspace(s, stagedBytes(s, x), stagedBytes(s, dy), stagedBytes(s, dx), 4 * rows, 4 * rows, 4 * cols, 8 * cols, 8 * cols);
  const heap = s.heap;
  const xAt = stageIn(s, x, xScratch);
  const dyAt = stageIn(s, dy, dyScratch);
  const dxAt = stageIn(s, dx, dxScratch);
  heap.set(stats.mean, meanAt >> 2);
  heap.set(stats.variance, varianceAt >> 2);
  heap.set(scale, scaleAt >> 2);
  s.kernel.layerNormBackward(xAt, dyAt, dxAt, meanAt, varianceAt, scaleAt, scaleSumsAt, shiftSumsAt, rows, cols, Math.fround(eps));
  stageOut(s, dx, dxAt);
  dScale.set(new Float64Array(s.memory.buffer, scaleSumsAt, cols));
  dShift.set(new Float64Array(s.memory.buffer, shiftSumsAt, cols));
}

/** AdamW's per-step constants, each a float32 value held as a double (train/adamw.ts). */
export interface AdamWConstants {
  decay: number;
  beta1: number;
  beta2: number;
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  biasCorrection2Sqrt: number;
  negStepSize: number;
  eps: number;
}

/**
 * One tensor's AdamW update in place (θ, m, v; g its gradient), train/adamw.ts's formula op for op
 * (rows.wat), shared between the threads when large.
 */
export function adamwInto(theta: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, c: AdamWConstants): void {
  const n = theta.length;
  if (g.length !== n || m.length !== n || v.length !== n) throw new RangeError(`adamwInto: ${n}, ${g.length}, ${m.length} and ${v.length} floats`);
  if (n === 0) return;
  const s = kernelState();
  // workspace: constants (8 float64) | θ | g | m | v (n each), for those that do not live in the kernel's memory
  const [constantsAt, thetaScratch, gScratch, mScratch, vScratch] = placeInWorkspace(s, 64, stagedBytes(s, theta), stagedBytes(s, g), stagedBytes(s, m), stagedBytes(s, v));
  new Float64Array(s.memory.buffer, constantsAt, 8).set([c.decay, c.beta1, c.beta2, c.oneMinusBeta1, c.oneMinusBeta2, c.biasCorrection2Sqrt, c.negStepSize, c.eps]);
  const thetaAt = stageIn(s, theta, thetaScratch);
  const gAt = stageIn(s, g, gScratch);
  const mAt = stageIn(s, m, mScratch);
  const vAt = stageIn(s, v, vScratch);
  runRows(s, n, n >= MIN_PARALLEL_ENTRIES, 4, JobKind.AdamW, [thetaAt, gAt, mAt, vAt, constantsAt], (start, end) =>
    s.kernel.adamw(thetaAt, gAt, mAt, vAt, constantsAt, start, end),
  );
  stageOut(s, theta, thetaAt);
  stageOut(s, m, mAt);
  stageOut(s, v, vAt);
}
