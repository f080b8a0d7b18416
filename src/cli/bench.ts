// `llm101 bench`: one attention layer, or one training step (--train), timed.
import * as fs from 'node:fs';
import { benchLayer, type BenchLayer } from '../engine/bench';
import { kernelThreads, threadsFor } from '../engine/kernels';
import { fsErrorReason } from '../engine/io/fsErrors';
import { writeSafetensors } from '../engine/io/safetensors';
import type { Matrix } from '../engine/types';
import { benchTrain } from '../engine/train/bench';
import { THREADS_HELP, THREADS_OPTION, UsageError, optionalInteger, optionalNumber } from './args';
import { type Command, COMMON_OPTIONS } from './command';

export const bench: Command = {
  summary: 'time one attention layer (multi-head causal attention + layer norm), or with --train one training step',
  usage: 'llm101 bench --seq T --dim D --heads H [--reps N] [--threads N] [--traced] [--save FILE] [--json]\n' +
    '       llm101 bench --train --vocab V --dim D --heads H --layers L --seq C --batch B [--reps N] [--threads N] [--dropout P] [--json]',
  help: [
    '  --seq T               tokens (--train: per window, the context length)',
    '  --dim D               model width (input and attention size)',
    '  --heads H             attention heads, must divide dim',
    '  --reps N              timed runs (--train: steps) after a warm-up of at least 0.5 s; the median is reported (default 5)',
    `${THREADS_HELP} (every core here: ${threadsFor(0)})`,
    '  --seed N              seed for the random input and weights (default 7)',
    "  --traced              time the layer as the panel's trace runs it, keeping every head's (T, T)",
    '                        scores and weights (default: inference, keeping only the output)',
    '  --save FILE           write the input, weights and output to a .safetensors file',
    '  --json                print {msPerLayer, gflops, threads, seq, dim, heads, ...} on one line',
    '  --train               time one training step of the GPT instead (forward, backward, AdamW) on a seeded',
    '                        model and a fixed random batch; --json prints {msPerStep, tokensPerSecond,',
    '                        forwardMs, backwardMs, optimizerMs, gflops, parameters, ...}',
    '  --vocab V             (--train) vocabulary size',
    '  --layers L            (--train) transformer blocks',
    '  --batch B             (--train) windows per step',
    '  --dropout P           (--train) dropout during the step (default 0)',
  ],
  options: {
    seq: { type: 'string' },
    dim: { type: 'string' },
    heads: { type: 'string' },
    reps: { type: 'string' },
    ...THREADS_OPTION,
    seed: { type: 'string' },
    traced: { type: 'boolean' },
    save: { type: 'string' },
    train: { type: 'boolean' },
    vocab: { type: 'string' },
    layers: { type: 'string' },
    batch: { type: 'string' },
    dropout: { type: 'string' },
    ...COMMON_OPTIONS,
  },
  async run(values, io) {
    const example = values.train ? 'llm101 bench --train --vocab 512 --dim 128 --heads 4 --layers 4 --seq 64 --batch 12' : 'llm101 bench --seq 512 --dim 768 --heads 12';
    const required = (name: string): number => {
      const value = optionalInteger(values, name);
      if (value === undefined) throw new UsageError(`--${name} is required, e.g. ${example}`);
      if (value < 1) throw new UsageError(`--${name} must be at least 1, got ${value}`);
      return value;
    };
    const reps = optionalInteger(values, 'reps') ?? 5;
    if (reps < 1) throw new UsageError(`--reps must be at least 1, got ${reps}`);
    const threads = kernelThreads(); // --threads, applied by runCli
    const seed = optionalInteger(values, 'seed');
    if (values.train) {
      const layerOnly = ['traced', 'save'].find((name) => values[name] !== undefined);
      if (layerOnly) throw new UsageError(`--${layerOnly} belongs to the layer bench; drop it or drop --train`);
      const shape = { vocab: required('vocab'), dim: required('dim'), heads: required('heads'), layers: required('layers'), seq: required('seq'), batch: required('batch') };
      if (shape.dim % shape.heads !== 0) throw new UsageError(`--heads (${shape.heads}) must divide --dim (${shape.dim})`);
      const dropout = optionalNumber(values, 'dropout') ?? 0;
      if (!(dropout >= 0 && dropout < 1)) throw new UsageError(`--dropout must be at least 0 and below 1, got ${dropout}`);
      const result = benchTrain({ ...shape, steps: reps, threads, dropout, ...(seed !== undefined && { seed }) });
      const json = { ...shape, dropout, ...result };
      if (values.json) {
        io.stdout.write(`${JSON.stringify(json)}\n`);
        return;
      }
      io.stdout.write(
        `vocab ${shape.vocab} · dim ${shape.dim} · ${shape.heads} heads · ${shape.layers} layers · context ${shape.seq} · batch ${shape.batch} · ` +
          `${result.parameters.toLocaleString('en-US')} parameters · ${result.threads} thread${result.threads === 1 ? '' : 's'}: ` +
          `${result.msPerStep.toFixed(1)} ms per training step (median of ${result.steps}; forward ${result.forwardMs.toFixed(1)}, ` +
          `backward ${result.backwardMs.toFixed(1)}, AdamW ${result.optimizerMs.toFixed(1)}), ` +
          `${Math.round(result.tokensPerSecond).toLocaleString('en-US')} tokens/s, ${result.gflops.toFixed(1)} GFLOP/s\n`,
      );
      return;
    }
    const trainOnly = ['vocab', 'layers', 'batch', 'dropout'].find((name) => values[name] !== undefined);
    if (trainOnly) throw new UsageError(`--${trainOnly} belongs to the training bench: add --train`);
    const shape = { seq: required('seq'), dim: required('dim'), heads: required('heads') };
    const { output, layer, ...result } = benchLayer({ ...shape, reps, threads, traced: values.traced === true, ...(seed !== undefined && { seed }) });
    if (typeof values.save === 'string') saveBenchLayer(values.save, layer, output);
    if (values.json) {
      io.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    io.stdout.write(
      `T ${result.seq} · dim ${result.dim} · ${result.heads} heads × ${result.headDim} · ${result.threads} thread${result.threads === 1 ? '' : 's'} · ${result.form}: ` +
        `${result.msPerLayer.toFixed(2)} ms per layer (median of ${result.reps}), ${result.gflops.toFixed(1)} GFLOP/s\n`,
    );
  },
};

/** The bench layer as tensors another runtime can load: input, weights in PyTorch layouts, output. */
function saveBenchLayer(file: string, layer: BenchLayer, output: Matrix): void {
  const matrix = (m: Matrix) => ({ shape: [m.rows, m.cols], data: m.data });
  const vector = (v: Float32Array) => ({ shape: [v.length], data: v });
  const { mha, norm } = layer;
  const tensors = new Map([
    ['input', matrix(layer.input)],
    ['mha.W_query.weight', matrix(mha.query.weight)],
    ['mha.W_key.weight', matrix(mha.key.weight)],
    ['mha.W_value.weight', matrix(mha.value.weight)],
    ['mha.out_proj.weight', matrix(mha.outProj.weight)],
    ['mha.out_proj.bias', vector(mha.outProj.bias ?? new Float32Array(layer.input.cols))],
    ['norm.scale', vector(norm.scale)],
    ['norm.shift', vector(norm.shift)],
    ['output', matrix(output)],
  ]);
  try {
    fs.writeFileSync(file, writeSafetensors(tensors, { heads: String(layer.heads) }));
  } catch (err) {
    throw new UsageError(`cannot write --save ${file}: ${fsErrorReason(err)}`);
  }
}
