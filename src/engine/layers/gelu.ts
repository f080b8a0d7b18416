// GELU, the tanh approximation the book's GELU module and GPT-2 use (book section 4.3):
//   GELU(x) ≈ 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
// Computed in double with a rational tanh (fastTanh) and rounded once to float32: within about
// one float32 ulp of PyTorch's float32 chain of ops, far inside the fixtures' 1e-5.

// The layers' GELU runs in the kernel (kernels/rows.wat), which computes these formulas op for op
// in two float64 lanes: geluScalar is their JavaScript form, which the kernel is tested against bit
// for bit.

export const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
export const GELU_CUBIC = 0.044715;

// tanh as a rational function, Eigen's generic_fast_tanh_float coefficients (odd degree-13
// numerator over even degree-6 denominator), evaluated in double: within 2.6e-8 absolute and
// 1.3e-7 relative of Math.tanh for |u| < 7.9 (about one float32 ulp), and 4.5 times as fast
// (3.7 against 16.8 ns in V8; GELU's tanh was a third of a training step). Beyond 7.9 Math.tanh.
const TANH_NUM = [4.89352455891786e-3, 6.37261928875436e-4, 1.48572235717979e-5, 5.12229709037114e-8, -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16] as const;
const TANH_DEN = [4.89352518554385e-3, 2.26843463243900e-3, 1.18534705686654e-4, 1.19825839466702e-6] as const;
const [A1, A3, A5, A7, A9, A11, A13] = TANH_NUM;
const [B0, B2, B4, B6] = TANH_DEN;

export function fastTanh(u: number): number {
  if (!(u > -7.9 && u < 7.9)) return Math.tanh(u);
  const u2 = u * u;
  const num = u * (A1 + u2 * (A3 + u2 * (A5 + u2 * (A7 + u2 * (A9 + u2 * (A11 + u2 * A13))))));
  const den = B0 + u2 * (B2 + u2 * (B4 + u2 * B6));
  return num / den;
}

/** GELU of one number (double in, double out): every GELU of the engine, the panel's curve, tests. */
export function geluScalar(x: number): number {
  return 0.5 * x * (1 + fastTanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x)));
}
