// A random generator that reproduces PyTorch's CPU generator bit for bit, so that a seed gives the
// same initial weights and the same dropout masks here as `torch.manual_seed(seed)` does in Python.
//
// Facts checked against torch 1.13 (Debian python3-torch) by scripts/gen_fixtures.py and
// test/unit/rng.test.ts:
// - manual_seed(s) seeds a standard 32-bit MT19937 with s mod 2^32 and forgets any cached normal.
// - float32 uniform: one 32-bit draw per value, u = (draw & 0xFFFFFF) / 2^24,
//   uniform_(a, b) = fround(u · fround(b − a) + a) with one rounding.
// - uniform64: two draws hi, lo → ((hi · 2^32 + lo) mod 2^53) / 2^53.
// - normal_ on >= 16 float32 values: all uniforms first, then Box-Muller per block of 16 in float32
//   (if the count is not a multiple of 16, the last 16 are redrawn and redone); on fewer values:
//   scalar Box-Muller in double on uniform64 pairs, the sine half cached for the next value.
// - nn.Dropout(p) (training, CPU without MKL): one uniform64 per element, keep iff u < 1 − p.

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
const TWO_POW_32 = 4294967296;
const TWO_POW_21 = 2097152;
const TWO_POW_53 = 9007199254740992;
const TWO_POW_24 = 16777216;
const TWO_PI_F32 = Math.fround(2 * Math.PI);

export class TorchGenerator {
  /** The 624 state words, as int32 so the JIT keeps every bit operation in integer registers. */
  private readonly state = new Int32Array(N);
  private index = N;
  /** The sine half of the last scalar Box-Muller pair, used by the next scalar normal. */
  private cachedNormal: number | undefined;

  constructor(seed: number) {
    this.manualSeed(seed);
  }

  /** Like torch.manual_seed: MT19937 init_genrand with seed mod 2^32, normal cache cleared. */
  manualSeed(seed: number): void {
    if (!Number.isInteger(seed) || seed < 0) {
      throw new RangeError(`seed must be a whole number >= 0, got ${seed}`);
    }
    const state = this.state;
    state[0] = seed % TWO_POW_32; // stored modulo 2^32 as int32: the same 32 bits
    for (let i = 1; i < N; i++) {
      const prev = state[i - 1]!;
      state[i] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + i) | 0;
    }
    this.index = N;
    this.cachedNormal = undefined;
  }

  /** Regenerates all 624 words of state at once (the MT19937 "twist"). */
  private twist(): void {
    const state = this.state;
    let i = 0;
    // Three loops instead of `% N` on every index, and MATRIX_A selected without a branch (the
    // low bit is random, so a branch would be mispredicted half the time).
    for (; i < N - M; i++) {
      const y = (state[i]! & UPPER_MASK) | (state[i + 1]! & LOWER_MASK);
      state[i] = state[i + M]! ^ (y >>> 1) ^ (MATRIX_A & -(y & 1));
    }
    for (; i < N - 1; i++) {
      const y = (state[i]! & UPPER_MASK) | (state[i + 1]! & LOWER_MASK);
      state[i] = state[i + M - N]! ^ (y >>> 1) ^ (MATRIX_A & -(y & 1));
    }
    const y = (state[N - 1]! & UPPER_MASK) | (state[0]! & LOWER_MASK);
    state[N - 1] = state[M - 1]! ^ (y >>> 1) ^ (MATRIX_A & -(y & 1));
    this.index = 0;
  }

  /** The next raw 32-bit draw, tempered, as an unsigned integer. */
  nextUint32(): number {
    if (this.index >= N) this.twist();
    return temper(this.state[this.index++]!);
  }

  /** One float32 uniform in [0, 1): 24 random bits. */
  nextFloat(): number {
    return (this.nextUint32() & 0xffffff) / TWO_POW_24;
  }

  /** One double uniform in [0, 1) from 53 random bits of two draws (hi first). */
  uniform64(): number {
    const hi = this.nextUint32();
    const lo = this.nextUint32();
    return ((hi % TWO_POW_21) * TWO_POW_32 + lo) / TWO_POW_53;
  }

  /** In place, like tensor.uniform_(from, to) on a contiguous float32 tensor. */
  uniform_(out: Float32Array, from = 0, to = 1): Float32Array {
    const low = Math.fround(from);
    const width = Math.fround(Math.fround(to) - low);
    for (let i = 0; i < out.length; i++) {
      // u has 24 bits and width 24 bits: u·width is exact in double, so this rounds once like torch.
      out[i] = this.nextFloat() * width + low;
    }
    return out;
  }

  /** In place, like tensor.normal_(mean, std) on a contiguous float32 tensor. */
  normal_(out: Float32Array, mean = 0, std = 1): Float32Array {
    const count = out.length;
    if (count < 16) {
      for (let i = 0; i < count; i++) out[i] = this.scalarNormal() * std + mean;
      return out;
    }
    for (let i = 0; i < count; i++) out[i] = this.nextFloat();
    for (let start = 0; start + 16 <= count; start += 16) boxMuller16(out, start, mean, std);
    if (count % 16 !== 0) {
      const start = count - 16;
      for (let i = start; i < count; i++) out[i] = this.nextFloat();
      boxMuller16(out, start, mean, std);
    }
    return out;
  }

  /** One standard normal from the scalar (double) path of at::normal_distribution<double>. */
  private scalarNormal(): number {
    if (this.cachedNormal !== undefined) {
      const value = this.cachedNormal;
      this.cachedNormal = undefined;
      return value;
    }
    const u1 = this.uniform64();
    const u2 = this.uniform64();
    const radius = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.cachedNormal = radius * Math.sin(theta);
    return radius * Math.cos(theta);
  }

  /**
   * Draws a dropout keep-mask like nn.Dropout(p) does on CPU: one uniform64 per element, in order,
   * kept iff u < 1 − p. `keep` is filled with 1 (kept) or 0 (dropped). p = 0 draws nothing, as in torch.
   */
  dropoutMask(keep: Uint8Array, p: number): Uint8Array {
    if (p === 0) return keep.fill(1);
    // uniform64() < 1 − p, inlined over each block of state words because a (T, T) mask takes
    // millions of draws. With x = (hi mod 2^21)·2^32 + lo, u = x / 2^53, so the test is
    // x < ceil((1 − p)·2^53) = limitHi·2^32 + limitLo: decided by hi alone except when hi equals
    // limitHi, so lo (drawn all the same) is tempered only then.
    const limit = Math.ceil((1 - p) * TWO_POW_53);
    const limitHi = Math.floor(limit / TWO_POW_32);
    const limitLo = limit - limitHi * TWO_POW_32;
    const state = this.state;
    const count = keep.length;
    let i = 0;
    while (i < count) {
      if (this.index >= N - 1) {
        // fewer than two words left in this block: draw across the twist the plain way
        keep[i++] = this.uniform64() < 1 - p ? 1 : 0;
        continue;
      }
      let index = this.index;
      const pairs = Math.min((N - index) >> 1, count - i);
      for (let k = 0; k < pairs; k++) {
        const hi = temper(state[index]!) & 0x1fffff;
        // (hi − limitHi) >>> 31 is hi < limitHi without a branch (both are below 2^21): kept with
        // probability 1 − p, a branch on it would be mispredicted about half the time; hi equal to
        // limitHi (1 in 2^21 draws) takes the branch
        keep[i++] = hi === limitHi ? (temper(state[index + 1]!) < limitLo ? 1 : 0) : (hi - limitHi) >>> 31;
        index += 2;
      }
      this.index = index;
    }
    return keep;
  }
}

/** MT19937's output tempering of one state word, as an unsigned 32-bit integer. */
function temper(word: number): number {
  let y = word;
  y ^= y >>> 11;
  y ^= (y << 7) & 0x9d2c5680;
  y ^= (y << 15) & 0xefc60000;
  y ^= y >>> 18;
  return y >>> 0;
}

/**
 * Box-Muller on 16 uniforms in place, in float32 steps as torch's vectorised kernel does
 * (so results agree to about 1 ulp): for j < 8, u1 = 1 − v[j], u2 = v[j + 8],
 * r = √(−2 ln u1), θ = 2π·u2, v[j] = r cos θ, v[j + 8] = r sin θ.
 */
function boxMuller16(values: Float32Array, start: number, mean: number, std: number): void {
  const f = Math.fround;
  for (let j = start; j < start + 8; j++) {
    const u1 = f(1 - values[j]!);
    const u2 = values[j + 8]!;
    const radius = f(Math.sqrt(f(-2 * f(Math.log(u1)))));
    const theta = f(TWO_PI_F32 * u2);
    values[j] = f(radius * f(Math.cos(theta))) * std + mean;
    values[j + 8] = f(radius * f(Math.sin(theta))) * std + mean;
  }
}
