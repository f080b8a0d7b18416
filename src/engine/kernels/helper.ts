// A kernel helper thread (bundled as dist/kernelHelper.js; pool.ts starts it): the kernel module
// instantiated on the calling thread's shared memory, waiting for jobs. A helper that wakes late
// finds the chunks taken and sleeps again: the calling thread never waits for a helper that has
// not started a chunk.

import { workerData } from 'node:worker_threads';
import { attentionBackwardHeads, attentionForwardHeads, runHeads } from './heads';
import {
  ACTIVE_HELPERS,
  CONTROL_BYTES,
  EPOCH,
  GENERATION,
  HELPER_CHUNKS,
  JOB,
  JOB_KIND,
  JOB_SLOTS,
  JobKind,
  READY,
  instantiate,
  packPanels,
  takeChunks,
  transposeColumns,
  type HelperData,
} from './protocol';

const { module, memory, helper, generation: startGeneration, epoch } = workerData as HelperData;
const kernel = instantiate(module, memory);
const buffer = memory.buffer as unknown as SharedArrayBuffer;
const control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
const controlFloats = new Float32Array(buffer, 0, CONTROL_BYTES / 4);

/** What to run for each chunk of the job now posted; `p` its parameters (protocol.ts, JOB). */
function jobRunner(kind: number, p: Int32Array): (start: number, end: number) => void {
  switch (kind) {
    case JobKind.Gemm:
      return (rowStart, rowEnd) => kernel.gemm(p[0]!, p[1]!, p[2]!, rowStart, rowEnd, p[3]!, p[4]!, p[5]!, p[6]!, p[7]!, p[8]!);
    case JobKind.GemmPanels:
      // panels p0 .. p1−1 of every row: B's panels are k·32 bytes apart, C's 32 bytes
      return (p0, p1) => kernel.gemm(p[0]!, p[1]! + p0 * p[4]! * 32, p[2]! + p0 * 32, 0, p[3]!, p1 - p0, p[4]!, 0, 0, p[7]!, p[8]!);
    case JobKind.Softmax: {
      const divisor = controlFloats[JOB + 2]!;
      return (rowStart, rowEnd) => kernel.softmax(p[0]!, rowStart, rowEnd, p[1]!, divisor, p[3]!);
    }
    case JobKind.Gelu:
      return (rowStart, rowEnd) => kernel.gelu(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, rowStart, rowEnd);
    case JobKind.GeluBackward:
      return (start, end) => kernel.geluBackward(p[0]!, p[1]!, p[2]!, p[3]!, start, end);
    case JobKind.LayerNorm: {
      const eps = controlFloats[JOB + 7]!;
      return (rowStart, rowEnd) => kernel.layerNorm(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p[6]!, eps, rowStart, rowEnd);
    }
    case JobKind.Add:
      return (start, end) => kernel.add(p[0]!, p[1]!, p[2]!, start, end);
    case JobKind.AdamW:
      return (start, end) => kernel.adamw(p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, start, end);
    case JobKind.AttentionForward:
    case JobKind.AttentionBackward: {
      const [scale, divisor] = new Float64Array(memory.buffer, p[10]!, 2);
      const run = kind === JobKind.AttentionForward ? attentionForwardHeads : attentionBackwardHeads;
      return (headStart, headEnd) => run(kernel, headStart, headEnd, p, scale!, divisor!, helper + 1);
    }
    case JobKind.Pack:
      return (p0, p1) => packPanels(kernel, p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, p[5]!, p0, p1);
    case JobKind.Transpose:
      return (c0, c1) => transposeColumns(kernel, p[0]!, p[1]!, p[2]!, p[3]!, p[4]!, c0, c1);
    case JobKind.Heads: {
      const divisor = controlFloats[JOB + 10]!;
      // slot 0 is the calling thread's
      return (headStart, headEnd) => runHeads(kernel, headStart, headEnd, p, divisor, helper + 1);
    }
    default:
      // fails the job (takeChunks marks it), so the calling thread throws instead of waiting
      return () => {
        throw new Error(`kernel helper: unknown job kind ${kind}`);
      };
  }
}

let seen = startGeneration;
Atomics.store(control, READY + helper, 1);
for (;;) {
  Atomics.wait(control, GENERATION, seen);
  const generation = Atomics.load(control, GENERATION);
  if (generation === seen) continue;
  seen = generation;
  if (helper >= Atomics.load(control, ACTIVE_HELPERS) || Atomics.load(control, EPOCH) !== epoch) continue;
  // read before claiming a chunk; takeChunks claims only if the job is still this generation's
  const p = control.slice(JOB, JOB + JOB_SLOTS);
  const run = jobRunner(control[JOB_KIND]!, p);
  Atomics.add(control, HELPER_CHUNKS, takeChunks(control, generation, run));
}
