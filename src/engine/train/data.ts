// Training data: a corpus tokenized once into one ids array, split by position into a training
// and a validation part (the book's chapter 5: the first 90 % trains), and batches of windows of
// contextLength + 1 tokens, inputs row[:-1] and targets row[1:].
//
// Random batches are drawn as nanoGPT's get_batch draws them,
//   ix = torch.randint(len(data) − C, (B,));  x = data[i : i + C];  y = data[i + 1 : i + 1 + C]
// and torch.randint(high) on the CPU generator is one 32-bit draw modulo high (high < 2^32), so the
// same seed gives the same windows here and in PyTorch (test/fixtures/train/sampled-dropout).
// Validation uses fixed windows: the book's GPTDatasetV1 with stride = contextLength (starts 0, C,
// 2C, … while start + C < length).

import type { TorchGenerator } from '../rng';
import type { TokenBatch } from './model';

/** Rows of T + 1 token ids each -> a batch (inputs row[:-1], targets row[1:]). */
export function batchFromRows(rows: readonly (readonly number[])[]): TokenBatch {
  const B = rows.length;
  const width = rows[0]?.length ?? 0;
  if (B === 0 || width < 2) throw new RangeError('a batch needs at least one row of at least 2 token ids');
  const T = width - 1;
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  rows.forEach((row, b) => {
    if (row.length !== width) throw new RangeError(`batch row ${b} has ${row.length} token ids, row 0 has ${width}: every row needs the same length`);
    for (let t = 0; t < T; t++) {
      inputs[b * T + t] = row[t]!;
      targets[b * T + t] = row[t + 1]!;
    }
  });
  return { B, T, inputs, targets };
}

/** The windows starting at `starts` (each T + 1 tokens of ids) as a batch. */
export function batchFromStarts(ids: Int32Array, starts: readonly number[], T: number): TokenBatch {
  const B = starts.length;
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  starts.forEach((start, b) => {
    if (start < 0 || start + T + 1 > ids.length) throw new RangeError(`window ${start}..${start + T} is outside the ${ids.length} tokens`);
    inputs.set(ids.subarray(start, start + T), b * T);
    targets.set(ids.subarray(start + 1, start + T + 1), b * T);
  });
  return { B, T, inputs, targets };
}

export interface TokenSplit {
  train: Int32Array;
  validation: Int32Array;
}

/**
 * The first floor((1 − validationFraction)·n) tokens train, the rest validate (the book's
 * split_idx = int(train_ratio · len(text)), on tokens here). Views, no copy.
 */
export function splitTokens(ids: Int32Array, validationFraction = 0.1): TokenSplit {
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new RangeError(`the validation fraction must be in [0, 1), got ${validationFraction}`);
  }
  const at = Math.floor((1 - validationFraction) * ids.length);
  return { train: ids.subarray(0, at), validation: ids.subarray(at) };
}

/** Draws batches of B random windows of T + 1 tokens from `ids` with the caller's generator. */
export class BatchSampler {
  constructor(
    private readonly ids: Int32Array,
    readonly T: number,
    readonly B: number,
    private readonly generator: TorchGenerator,
  ) {
    if (ids.length < T + 1) {
      throw new RangeError(`the training text has ${ids.length} tokens; windows of contextLength + 1 = ${T + 1} need at least that many: use a longer corpus or a shorter context`);
    }
  }

  /** The next batch's window starts: B draws of randint(len − T), as torch.randint. */
  nextStarts(): number[] {
    const high = this.ids.length - this.T;
    const starts: number[] = [];
    for (let b = 0; b < this.B; b++) starts.push(this.generator.nextUint32() % high);
    return starts;
  }

  next(): TokenBatch {
    return batchFromStarts(this.ids, this.nextStarts(), this.T);
  }
}

/** Starts of the fixed evaluation windows: 0, T, 2T, … while start + T < ids.length. */
export function evaluationStarts(length: number, T: number, maxWindows = Infinity): number[] {
  const starts: number[] = [];
  for (let start = 0; start + T < length && starts.length < maxWindows; start += T) starts.push(start);
  return starts;
}
