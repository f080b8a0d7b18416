// `llm101`: the engine on the command line. Same tokenizers, weights and trace as the panel.
//
//   llm101 analyze  [input] [model options] [--json]   one trace of every stage (and the GPT's forward)
//   llm101 generate [input] [model options] --max-new-tokens N [--temperature T] [--top-k K] [--json]
//   llm101 tokenize [input] [tokenizer options] [--json]
//   llm101 train --corpus PATH --out FILE.safetensors [model and training options] [--log LOG.jsonl]
//   llm101 export --pytorch DIR --weights FILE   a PyTorch project (model.py, generate.py, train.py)
//   llm101 bench --seq T --dim D --heads H [--reps N] [--threads N] [--json]   time one layer
//   llm101 bench --train --vocab V --dim D --heads H --layers L --seq C --batch B [--json]   one training step
//
// Each subcommand is one entry of COMMANDS (options + handler), so adding one (e.g. `bench`) is
// adding an entry. runCli() does the work and returns the exit code, so tests call it in-process;
// only the last lines of this file touch `process`.
//
// Exit codes: 0 success, 2 a problem the user can fix (one line on stderr saying how),
// 1 an internal error (one line, please report), 130 generation stopped by Ctrl+C (train: 0, the
// checkpoint at the last completed step is written).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { version } from '../package.json';
import { benchLayer, type BenchLayer } from './engine/bench';
import { DEFAULT_CONFIG, DEFAULT_LAYERS, EngineError, MAX_LAYERS, TOKENIZER_KINDS } from './engine/config';
import { resolveCorpusPath } from './engine/corpus';
import { journeyExample } from './engine/examples';
import { kernelThreads } from './engine/kernels';
import { fsErrorReason } from './engine/io/fsErrors';
import { writeSafetensors } from './engine/io/safetensors';
import { writeWeightsFile } from './engine/io/weightsFile';
import { modelToJson, traceToJson, writeJson } from './engine/serialize';
import { checkGenerateOptions, streamTokens, type GenerateOptions } from './engine/gpt/generate';
import { BPE_DEFAULT_VOCAB, BPE_MAX_VOCAB, BPE_MIN_VOCAB } from './engine/tokenizer';
import { runTrace } from './engine/trace';
import type { Matrix, Tokenizer, TokenizerKind, Trace, Weights } from './engine/types';
import { Analyzer, traceResult, type AnalyzeRequest, type ModelAnalysis, type TokenizeRequest, type TraceResult } from './engine/pipeline';
import { benchTrain } from './engine/train/bench';
import { TOKENIZER_METADATA_KEY } from './engine/tokenizer';
import { TRAIN_DEFAULTS, runTrain } from './cli/train';
import { exportPytorchProject } from './export/pytorchProject';
import { buildReport } from './report';
import { UsageError, closest, oneLine, optionalInteger, optionalNumber, parseCommandArgs, type Options, type Values } from './cli/args';
import { show, summarize, tokenJson, tokenTable, TextStream } from './cli/format';

export { UsageError, summarize };

/** Where output goes; process.stdout/stderr/stdin in the binary, buffers in tests. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  /** isTTY: train draws a progress bar in place on a terminal, plain lines otherwise. */
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  /** Read only for the `-` input. */
  stdin?: AsyncIterable<string | Uint8Array>;
  /**
   * Calls `stop` on Ctrl+C while generation or training runs (the binary: SIGINT) and returns the
   * function that stops listening; other commands keep Ctrl+C's default (the process ends at once).
   */
  onInterrupt?: (stop: () => void) => () => void;
}

interface Command {
  summary: string;
  usage: string;
  /** Lines of option help, shown by `llm101 <cmd> --help`. */
  help: string[];
  options: Options;
  /** `positionals` holds only `-` (read standard input), if given. Resolves to the exit code when not 0. */
  run(values: Values, io: CliIo, positionals: readonly string[]): Promise<void | number>;
}

// ---------------------------------------------------------------------------------------------
// options shared by the subcommands

const INPUT_OPTIONS: Options = {
  text: { type: 'string' },
  file: { type: 'string' },
};
const TOKENIZER_OPTIONS: Options = {
  tokenizer: { type: 'string' },
  corpus: { type: 'string' },
  'vocab-size': { type: 'string' },
};
const COMMON_OPTIONS: Options = { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } };

const INPUT_HELP = [
  '  --text STR            the text to use',
  '  --file PATH           read the text from a file (UTF-8)',
  '  -                     read the text from standard input',
];
const TOKENIZER_HELP = [
  `  --tokenizer KIND      ${TOKENIZER_KINDS.join(' | ')} (default ${DEFAULT_CONFIG.tokenizer})`,
  '  --corpus PATH         a .txt file or a folder of .txt files to build the word/bpe vocabulary',
  '                        (default: the bundled poems)',
  `  --vocab-size N        bpe vocabulary size, ${BPE_MIN_VOCAB} to ${BPE_MAX_VOCAB} (default ${BPE_DEFAULT_VOCAB})`,
];

/** The model's sizes and weights: the stages' and the GPT's (analyze), the GPT's (generate). */
const MODEL_OPTIONS: Options = {
  dim: { type: 'string' },
  heads: { type: 'string' },
  seed: { type: 'string' },
  'context-length': { type: 'string' },
  'qkv-bias': { type: 'boolean' },
  layers: { type: 'string' },
  weights: { type: 'string' },
};
const MODEL_HELP = [
  `  --dim N               embedding size (default ${DEFAULT_CONFIG.dim})`,
  `  --heads N             attention heads, must divide the attention size (default ${DEFAULT_CONFIG.heads})`,
  `  --seed N              seed for the initial weights and dropout masks (default ${DEFAULT_CONFIG.seed})`,
  `  --context-length N    most tokens the model takes (default ${DEFAULT_CONFIG.contextLength})`,
  '  --qkv-bias            give the query/key/value projections a bias',
  `  --layers N            transformer blocks of the seeded GPT, 1 to ${MAX_LAYERS} (generate: default ${DEFAULT_LAYERS})`,
  '  --weights FILE|DIR    a .safetensors file: the stages\' weights, or a GPT checkpoint in the',
  "                        book's layout or Hugging Face GPT-2's (a file or its folder with config.json);",
  '                        sizes (and heads, layers) come from it; GPT-2 brings the gpt2 tokenizer',
];

// ---------------------------------------------------------------------------------------------
// tokenize

const tokenize: Command = {
  summary: 'show the tokens of a text with their ids and offsets',
  usage: 'llm101 tokenize (--text STR | --file PATH | -) [--tokenizer KIND] [--corpus PATH] [--vocab-size N] [--json]',
  help: [...INPUT_HELP, ...TOKENIZER_HELP, '  --json                print {tokenizer, vocabSize, tokens: [{id, text, start, end}]}'],
  options: { ...INPUT_OPTIONS, ...TOKENIZER_OPTIONS, ...COMMON_OPTIONS },
  async run(values, io, positionals) {
    const text = await readInput(values, io, positionals, 'tokenize');
    const tokenizer = new Analyzer(cliBpeCacheDir()).tokenizer(tokenizerRequest(values));
    const tokens = tokenizer.encode(text);
    if (values.json) {
      const json = { tokenizer: tokenizer.kind, vocabSize: tokenizer.vocabSize, tokens: tokens.map(tokenJson) };
      io.stdout.write(`${JSON.stringify(json)}\n`);
      return;
    }
    io.stdout.write(`${tokens.length} tokens · ${tokenizer.kind} tokenizer (vocabulary ${tokenizer.vocabSize})\n`);
    io.stdout.write(tokenTable(tokens, tokenizer));
  },
};

// ---------------------------------------------------------------------------------------------
// analyze

const analyze: Command = {
  summary: 'run every stage (embeddings, attention, multi-head, layer norm) and show the trace',
  usage: 'llm101 analyze (--text STR | --file PATH | - | --example journey) [options] [--json]',
  help: [
    ...INPUT_HELP,
    '  --example journey     the book\'s chapter 3 example ("Your journey starts with one step")',
    ...TOKENIZER_HELP,
    ...MODEL_HELP,
    '  --attn-dim N          output size of the attention modules (default: dim)',
    `  --dropout P           dropout on attention weights, 0 <= P < 1 (default ${DEFAULT_CONFIG.dropout})`,
    "  --save-weights FILE   write the stages' weights used to a .safetensors file",
    '  --json                print the whole trace as one JSON object; with --layers or a GPT',
    '                        checkpoint it has `model`: config, blocks (attention weights, output),',
    '                        finalNorm, logits',
    '  --html OUT.html       write a standalone report (the panel, offline, in any browser)',
  ],
  options: {
    ...INPUT_OPTIONS,
    ...TOKENIZER_OPTIONS,
    ...MODEL_OPTIONS,
    example: { type: 'string' },
    'attn-dim': { type: 'string' },
    dropout: { type: 'string' },
    'save-weights': { type: 'string' },
    html: { type: 'string' },
    ...COMMON_OPTIONS,
  },
  async run(values, io, positionals) {
    const { result, trace, weights, tokenizer, model } =
      values.example !== undefined ? await analyzeExample(values, positionals) : await analyzeText(values, io, positionals);
    if (typeof values['save-weights'] === 'string') writeWeightsFile(values['save-weights'], weights);
    if (typeof values.html === 'string') {
      const text = trace.tokens.map((t) => t.text).join(' ');
      const html = buildReport({ result, title: text, text, ...(model && { model }) }, PACKAGE_ROOT); // report model sections (webview engineer)
      try {
        fs.writeFileSync(values.html, html);
      } catch (err) {
        throw new UsageError(`cannot write ${values.html}: ${fsErrorReason(err)}`);
      }
      if (!values.json) io.stdout.write(`wrote ${values.html} (${(html.length / 1024).toFixed(0)} KiB): open it in a browser\n`);
      if (!values.json) return;
    }
    if (values.json) {
      const json = model ? { ...traceToJson(trace), model: modelToJson(model.model, model.forward) } : traceToJson(trace);
      writeJson(json, (chunk) => io.stdout.write(chunk));
      io.stdout.write('\n');
    } else {
      io.stdout.write(summarize(trace, tokenizer, model));
    }
  },
};

const EXAMPLES = ['journey'] as const;

interface Analysis {
  /** The trace with what the report shows beside it (PCA, unknown tokens, weights source). */
  result: TraceResult;
  trace: Trace;
  /** The weights the trace used, for --save-weights. */
  weights: Weights;
  /** Absent for the book example, whose tokens are hand-made. */
  tokenizer?: Tokenizer;
  /** The GPT's forward pass on the same tokens: with --layers or a GPT checkpoint. */
  model?: ModelAnalysis;
}

async function analyzeExample(values: Values, positionals: readonly string[]): Promise<Analysis> {
  if (!(EXAMPLES as readonly string[]).includes(String(values.example))) {
    throw new UsageError(`unknown example ${JSON.stringify(values.example)}; use --example ${EXAMPLES.join(' | ')}`);
  }
  // The example fixes its text, tokenizer and weights; only dropout and seed can vary.
  const fixed = ['text', 'file', 'tokenizer', 'corpus', 'vocab-size', 'dim', 'attn-dim', 'heads', 'context-length', 'qkv-bias', 'weights', 'layers'];
  const clash = positionals.includes('-') ? '' : fixed.find((name) => values[name] !== undefined);
  if (clash !== undefined) {
    const flag = clash === '' ? '-' : `--${clash}`;
    throw new UsageError(`--example journey brings its own input and weights; drop ${flag} (only --dropout and --seed apply)`);
  }
  const dropout = optionalNumber(values, 'dropout');
  const seed = optionalInteger(values, 'seed');
  const example = journeyExample({ ...(dropout !== undefined && { dropout }), ...(seed !== undefined && { seed }) });
  const started = performance.now();
  const trace = runTrace(example.tokens, example.config, example.weights);
  return { result: traceResult(trace, 0, started), trace, weights: example.weights };
}

async function analyzeText(values: Values, io: CliIo, positionals: readonly string[]): Promise<Analysis> {
  const text = await readInput(values, io, positionals, 'analyze');
  const { request, analyzer, withModel } = modelRequest(values, text);
  // The extension's pipeline: the same checks before work starts, caches and weight-file checks.
  const result = analyzer.analyze(request);
  if (result.kind !== 'trace') throw new Error('analyze has no token limit on the command line');
  const tokenizer = analyzer.tokenizer(request);
  return {
    result, trace: result.trace, weights: analyzer.weightsFor(request, tokenizer.vocabSize).weights, tokenizer,
    ...(withModel && { model: analyzer.analyzeModel(request) }),
  };
}

/**
 * The pipeline's request from the model flags, the analyzer that serves it, and whether a GPT is
 * asked for: --layers (seeded) or --weights naming a GPT checkpoint.
 */
function modelRequest(values: Values, text: string): { request: AnalyzeRequest; analyzer: Analyzer; withModel: boolean } {
  const dim = optionalInteger(values, 'dim');
  const attnDim = optionalInteger(values, 'attn-dim');
  const contextLength = optionalInteger(values, 'context-length');
  const layers = optionalInteger(values, 'layers');
  const qkvBias = values['qkv-bias'] === true;
  const tokenizerOptions = tokenizerRequest(values);
  const weightsPath = typeof values.weights === 'string' ? values.weights : undefined;
  const request: AnalyzeRequest = {
    ...tokenizerOptions,
    tokenizerExplicit: values.tokenizer !== undefined,
    text,
    dim: dim ?? DEFAULT_CONFIG.dim,
    attnDim: attnDim ?? dim ?? DEFAULT_CONFIG.attnDim,
    heads: optionalInteger(values, 'heads') ?? DEFAULT_CONFIG.heads,
    dropout: optionalNumber(values, 'dropout') ?? DEFAULT_CONFIG.dropout,
    seed: optionalInteger(values, 'seed') ?? DEFAULT_CONFIG.seed,
    contextLength: contextLength ?? DEFAULT_CONFIG.contextLength,
    qkvBias,
    ...(layers !== undefined && { layers }),
    ...(weightsPath !== undefined && {
      weightsPath,
      // The file decides the sizes; any size given on the command line must agree with it.
      explicit: {
        sizes: {
          ...(dim !== undefined && { dim }),
          ...(attnDim !== undefined && { attnDim }),
          ...(contextLength !== undefined && { contextLength }),
          ...(qkvBias && { qkvBias }),
        },
        sources: { dim: '--dim', attnDim: '--attn-dim', contextLength: '--context-length', qkvBias: '--qkv-bias' },
      },
    }),
  };
  const analyzer = new Analyzer(cliBpeCacheDir());
  const header = weightsPath !== undefined ? analyzer.layoutOf(weightsPath) : undefined;
  const checkpoint = header !== undefined && header.layout !== 'stages';
  if (checkpoint && layers !== undefined) {
    throw new UsageError(`--layers sets the blocks of a seeded model; checkpoint ${weightsPath} has its own, so drop --layers`);
  }
  if (header?.layout === 'book' && header.metadata[TOKENIZER_METADATA_KEY] !== undefined && values.corpus !== undefined && values.tokenizer === undefined) {
    throw new UsageError(`checkpoint ${weightsPath} carries the tokenizer it was trained with, so --corpus is not used: drop --corpus (or name --tokenizer to build another from it)`);
  }
  return { request, analyzer, withModel: checkpoint || layers !== undefined };
}

// ---------------------------------------------------------------------------------------------
// generate

const generateCommand: Command = {
  summary: 'continue a text with the GPT (seeded or a checkpoint), token by token',
  usage: 'llm101 generate (--text STR | --file PATH | -) (--weights FILE|DIR | --layers N ...) [--max-new-tokens N] [--temperature T] [--top-k K] [--json]',
  help: [
    ...INPUT_HELP,
    ...TOKENIZER_HELP,
    ...MODEL_HELP,
    '  --max-new-tokens N    tokens to add, at least 1 (default 20)',
    '  --temperature T       0 picks the most likely token (greedy, the default); above 0 samples',
    '                        from softmax(logits / T) with the seeded generator (--seed)',
    '  --top-k K             sample only among the K most likely tokens',
    '  --json                print {prompt: [ids], generated: [ids], text, reason} at the end',
    '                        (without it the new text is printed as it comes; Ctrl+C stops)',
  ],
  options: {
    ...INPUT_OPTIONS,
    ...TOKENIZER_OPTIONS,
    ...MODEL_OPTIONS,
    'max-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    ...COMMON_OPTIONS,
  },
  async run(values, io, positionals) {
    const topK = optionalInteger(values, 'top-k');
    const options: GenerateOptions = {
      maxNewTokens: optionalInteger(values, 'max-new-tokens') ?? 20,
      temperature: optionalNumber(values, 'temperature') ?? 0,
      seed: optionalInteger(values, 'seed') ?? DEFAULT_CONFIG.seed,
      ...(topK !== undefined && { topK }),
    };
    checkGenerateOptions(options); // before the text is read or a model loaded
    const text = await readInput(values, io, positionals, 'generate');
    const { request, analyzer } = modelRequest(values, text);
    const model = analyzer.model(request);
    const tokenizer = analyzer.tokenizer(request);
    const prompt = tokenizer.encode(text).map((t) => t.id);
    if (prompt.length === 0) throw new UsageError(`the ${tokenizer.kind} tokenizer finds no tokens in the text; give it some words`);

    const controller = new AbortController();
    const stopListening = io.onInterrupt?.(() => controller.abort()) ?? (() => {});
    const stream = values.json ? undefined : new TextStream(tokenizer, (chunk) => io.stdout.write(chunk));
    const generated: number[] = [];
    let end;
    try {
      const tokens = streamTokens(model, prompt, { ...options, signal: controller.signal });
      for (let step = await tokens.next(); ; step = await tokens.next()) {
        if (step.done) {
          end = step.value;
          break;
        }
        generated.push(step.value.id);
        stream?.push(step.value.id);
      }
    } finally {
      stopListening();
    }
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ prompt, generated, text: tokenizer.decode(generated), reason: end.reason })}\n`);
    } else {
      stream?.end();
      io.stdout.write('\n');
    }
    if (end.reason !== 'cancelled') return;
    io.stderr.write(`llm101: stopped after ${generated.length} token${generated.length === 1 ? '' : 's'} (Ctrl+C)\n`);
    return 130;
  },
};

// ---------------------------------------------------------------------------------------------
// train

const train: Command = {
  summary: 'train the GPT from scratch on a corpus (or go on from a checkpoint) and write a checkpoint',
  usage: 'llm101 train --corpus PATH --out FILE.safetensors [--tokenizer KIND] [--dim D --heads H --layers L --context-length C] [--batch B --steps N --lr X ...] [--log LOG.jsonl]',
  help: [
    '  --corpus PATH         a .txt file or a folder of .txt files; several as a comma list (a,b)',
    `  --tokenizer KIND      ${TOKENIZER_KINDS.join(' | ')}, learned from the corpus (gpt2: fixed) and saved in the`,
    `                        checkpoint (default ${TRAIN_DEFAULTS.tokenizer}; with --init, the one it carries)`,
    `  --vocab-size N        bpe vocabulary size, ${BPE_MIN_VOCAB} to ${BPE_MAX_VOCAB} (default ${BPE_DEFAULT_VOCAB})`,
    `  --dim D               embedding size (default ${TRAIN_DEFAULTS.dim})`,
    `  --heads H             attention heads, must divide dim (default ${TRAIN_DEFAULTS.heads})`,
    `  --layers L            transformer blocks (default ${TRAIN_DEFAULTS.layers})`,
    `  --context-length C    tokens per training window (default ${TRAIN_DEFAULTS.contextLength})`,
    '  --qkv-bias            give the query/key/value projections a bias',
    `  --batch B             windows per step (default ${TRAIN_DEFAULTS.batch})`,
    `  --steps N             training steps (default ${TRAIN_DEFAULTS.steps})`,
    `  --lr X                AdamW learning rate, above 0 (default ${TRAIN_DEFAULTS.lr})`,
    `  --weight-decay W      AdamW weight decay on every parameter, as the book (default ${TRAIN_DEFAULTS.weightDecay})`,
    `  --seed S              seeds the weights, the batches and the dropout masks (default ${TRAIN_DEFAULTS.seed})`,
    `  --dropout P           dropout while training, 0 <= P < 1 (default ${TRAIN_DEFAULTS.dropout})`,
    `  --val-fraction F      the corpus's last share kept for validation (default ${TRAIN_DEFAULTS.validationFraction})`,
    `  --eval-every N        train and validation loss every N steps and at the end; 0: only at the end (default ${TRAIN_DEFAULTS.evalEvery})`,
    '  --clip-grad-norm X    clip the gradients\' global norm to X (default: off)',
    '  --warmup-steps N      linear warm-up for N steps, then cosine decay to lr/10 (default: constant lr)',
    '  --out FILE            the checkpoint: book names, F32, with the config, tokenizer, step and losses',
    '  --log FILE.jsonl      one JSON line per step {step, loss (before the update), lr, gradNorm, tokens,',
    '                        tokensSeen, ms, tokensPerSecond} and per evaluation {step, trainLoss, valLoss}',
    '  --init FILE           start from these weights (the book\'s names or GPT-2\'s); its sizes are the',
    '                        model\'s; a file without heads in its metadata needs --heads',
    '  --batches FILE.json   exact batches instead of sampling: {"batches": [[[ids × (context+1)] × batch] × count]};',
    '                        step i uses batches[i % count], inputs row[:-1], targets row[1:]',
    '  --grads-out FILE      write the first step\'s gradients under the same names (after clipping, if on)',
    '',
    'Progress goes to stderr: a bar with the loss and tokens/s on a terminal, plain lines otherwise.',
    'Ctrl+C finishes the step in progress, writes the checkpoint of that step and exits with code 0',
    '(a second Ctrl+C ends at once, code 130, without a checkpoint).',
  ],
  options: {
    corpus: { type: 'string' },
    tokenizer: { type: 'string' },
    'vocab-size': { type: 'string' },
    dim: { type: 'string' },
    heads: { type: 'string' },
    layers: { type: 'string' },
    'context-length': { type: 'string' },
    'qkv-bias': { type: 'boolean' },
    batch: { type: 'string' },
    steps: { type: 'string' },
    lr: { type: 'string' },
    'weight-decay': { type: 'string' },
    seed: { type: 'string' },
    dropout: { type: 'string' },
    'val-fraction': { type: 'string' },
    'eval-every': { type: 'string' },
    'clip-grad-norm': { type: 'string' },
    'warmup-steps': { type: 'string' },
    out: { type: 'string' },
    log: { type: 'string' },
    init: { type: 'string' },
    batches: { type: 'string' },
    'grads-out': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  run: (values, io) => runTrain(values, io, PACKAGE_ROOT),
};

// ---------------------------------------------------------------------------------------------
// export

const exportCommand: Command = {
  summary: 'write a small PyTorch project for a checkpoint: model.py, generate.py, train.py (torchrun + DDP)',
  usage: 'llm101 export --pytorch DIR --weights FILE [--heads H]',
  help: [
    '  --pytorch DIR         a new or empty folder for the project: model.safetensors (the checkpoint,',
    "                        book names, F32), model.py (GPTModel, safetensors in plain Python: only",
    "                        torch needed), tokenizer.py (the checkpoint's; gpt2 needs tiktoken),",
    '                        generate.py (greedy by default, as llm101 generate), train.py (resumes',
    '                        training on a CPU or GPUs, torchrun + DistributedDataParallel), README.md',
    "  --weights FILE|DIR    the checkpoint: one llm101 train wrote (it carries its tokenizer) or GPT-2's",
    '  --heads H             heads, for a checkpoint that does not say',
  ],
  options: { pytorch: { type: 'string' }, weights: { type: 'string' }, heads: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  async run(values, io) {
    if (typeof values.pytorch !== 'string') throw new UsageError('--pytorch DIR is required: the folder the PyTorch project is written to');
    if (typeof values.weights !== 'string') throw new UsageError('--weights FILE is required: the checkpoint to export, e.g. one llm101 train wrote');
    const heads = optionalInteger(values, 'heads');
    const project = exportPytorchProject(values.pytorch, values.weights, heads !== undefined ? { heads } : {});
    io.stdout.write(
      `wrote ${project.dir}: ${project.files.join(', ')} (${project.tokenizer} tokenizer${project.step !== undefined ? `, step ${project.step}` : ''})\n` +
        `try: cd ${project.dir} && python3 generate.py --prompt "The sea" --max-new-tokens 20\n`,
    );
  },
};

// ---------------------------------------------------------------------------------------------
// bench

const bench: Command = {
  summary: 'time one attention layer (multi-head causal attention + layer norm), or with --train one training step',
  usage: 'llm101 bench --seq T --dim D --heads H [--reps N] [--threads N] [--traced] [--save FILE] [--json]\n' +
    '       llm101 bench --train --vocab V --dim D --heads H --layers L --seq C --batch B [--reps N] [--threads N] [--dropout P] [--json]',
  help: [
    '  --seq T               tokens (--train: per window, the context length)',
    '  --dim D               model width (input and attention size)',
    '  --heads H             attention heads, must divide dim',
    '  --reps N              timed runs (--train: steps) after a warm-up of at least 0.5 s; the median is reported (default 5)',
    `  --threads N           threads for the matrix products, 1 to 16 (default ${kernelThreads()})`,
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
    threads: { type: 'string' },
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
    const threads = optionalInteger(values, 'threads') ?? kernelThreads();
    if (threads < 1 || threads > 16) throw new UsageError(`--threads must be from 1 to 16, got ${threads}`);
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

// ---------------------------------------------------------------------------------------------
// input, tokenizer, numbers

/** The text from --text, --file or `-`; exactly one of them, and not empty. */
async function readInput(values: Values, io: CliIo, positionals: readonly string[], command: string): Promise<string> {
  const text = await readInputSource(values, io, positionals, command);
  if (text.length === 0) throw new UsageError(`the text is empty; give some words, e.g. llm101 ${command} --text "Hello, world"`);
  return text;
}

async function readInputSource(values: Values, io: CliIo, positionals: readonly string[], command: string): Promise<string> {
  const sources = [
    values.text !== undefined && '--text',
    values.file !== undefined && '--file',
    positionals.includes('-') && '-',
  ].filter((s): s is string => typeof s === 'string');
  if (sources.length === 0) {
    throw new UsageError(`no input; give --text "...", --file PATH or - (standard input), e.g. llm101 ${command} --text "Hello, world"`);
  }
  if (sources.length > 1) throw new UsageError(`give only one input, not ${sources.join(' and ')}`);
  if (typeof values.text === 'string') return values.text;
  if (typeof values.file === 'string') {
    try {
      return fs.readFileSync(values.file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --file ${values.file}: ${fsErrorReason(err)}`);
    }
  }
  if (!io.stdin) throw new UsageError('standard input is not available; use --text or --file');
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** The package's root: dist/cli.js (the bundle) and src/cli.ts (tests via tsx) are one level below. */
const PACKAGE_ROOT = path.resolve(__dirname, '..');

/** The tokenizer flags as the pipeline's request, after the checks that only the command line needs. */
function tokenizerRequest(values: Values): Omit<TokenizeRequest, 'text'> {
  const kind = (values.tokenizer ?? DEFAULT_CONFIG.tokenizer) as string;
  if (!(TOKENIZER_KINDS as readonly string[]).includes(kind)) {
    throw new UsageError(`unknown tokenizer ${show(kind)}; use --tokenizer ${TOKENIZER_KINDS.join(' | ')}`);
  }
  const vocabSize = optionalInteger(values, 'vocab-size');
  if (vocabSize !== undefined && kind !== 'bpe') {
    throw new UsageError(`--vocab-size sets the size of the bpe vocabulary; the ${kind} tokenizer's is fixed, so drop --vocab-size or add --tokenizer bpe`);
  }
  if (kind === 'gpt2' && values.corpus !== undefined) throw new UsageError('the gpt2 tokenizer has its own vocabulary and uses no corpus; drop --corpus');
  return {
    tokenizer: kind as TokenizerKind,
    bpeVocabSize: vocabSize ?? BPE_DEFAULT_VOCAB,
    // Relative paths are taken from the current folder; no --corpus means the bundled poems.
    corpusPath: resolveCorpusPath(PACKAGE_ROOT, typeof values.corpus === 'string' ? values.corpus : undefined),
  };
}

/**
 * Where the CLI keeps trained BPE models, as the extension keeps them in its global storage:
 * $LLM101_BPE_CACHE, else $XDG_CACHE_HOME/llm101/bpe, else ~/.cache/llm101/bpe.
 */
function cliBpeCacheDir(): string {
  if (process.env.LLM101_BPE_CACHE) return process.env.LLM101_BPE_CACHE;
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'llm101', 'bpe');
}

// ---------------------------------------------------------------------------------------------
// dispatch

const COMMANDS: Record<string, Command> = { analyze, generate: generateCommand, tokenize, train, export: exportCommand, bench };

function unknownCommand(name: string): string {
  const suggestion = closest(name, Object.keys(COMMANDS));
  return `unknown command ${show(name)}${suggestion ? `; did you mean ${suggestion}?` : ''} (commands: ${Object.keys(COMMANDS).join(', ')}; run "llm101 --help")`;
}


function mainHelp(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  return [
    `llm101 ${version}: what the first layers of a GPT-style model do with a text`,
    '',
    'Usage: llm101 <command> [options]',
    '',
    'Commands:',
    ...names.map((name) => `  ${name.padEnd(width)}  ${COMMANDS[name]?.summary ?? ''}`),
    '',
    'Run "llm101 <command> --help" for its options; "llm101 --version" prints the version.',
    'Example: llm101 analyze --text "Your journey starts with one step" --heads 4',
    '',
  ].join('\n');
}

function commandHelp(name: string, command: Command): string {
  return [`llm101 ${name}: ${command.summary}`, '', `Usage: ${command.usage}`, '', 'Options:', ...command.help, '  -h, --help            show this help', ''].join('\n');
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let commandName: string | undefined;
  try {
    const [first, ...rest] = argv;
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      const topic = first === 'help' ? rest[0] : undefined;
      const command = topic !== undefined ? COMMANDS[topic] : undefined;
      if (topic !== undefined && !command) throw new UsageError(unknownCommand(topic));
      io.stdout.write(command && topic ? commandHelp(topic, command) : mainHelp());
      return 0;
    }
    if (first === '--version' || first === '-v') {
      io.stdout.write(`${version}\n`);
      return 0;
    }
    const command = Object.prototype.hasOwnProperty.call(COMMANDS, first) ? COMMANDS[first] : undefined;
    if (!command) throw new UsageError(unknownCommand(first));
    commandName = first;

    const { values, positionals } = parseCommandArgs(first, command, rest);
    if (values.help) {
      io.stdout.write(commandHelp(first, command));
      return 0;
    }
    return (await command.run(values, io, positionals)) ?? 0;
  } catch (err) {
    const userError = err instanceof UsageError || err instanceof EngineError;
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(
      userError
        ? `llm101: ${oneLine(message)}\n`
        : `llm101: internal error${commandName ? ` in ${commandName}` : ''}: ${oneLine(message)} (please report this)\n`,
    );
    return userError ? 2 : 1;
  }
}

// ---------------------------------------------------------------------------------------------
// entry point (the bundle's main module only; tests import runCli)

if (require.main === module) {
  // `llm101 analyze --json | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const onInterrupt = (stop: () => void) => {
    let pressed = 0;
    // the first Ctrl+C asks the command to stop (a training step finishes and is saved); a second one ends at once
    const listener = () => (++pressed === 1 ? stop() : process.exit(130));
    process.on('SIGINT', listener);
    return () => process.off('SIGINT', listener);
  };
  void runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, onInterrupt }).then((code) => {
    // Exit once stdout has drained, so a large trace piped to another program is not cut short.
    process.stdout.write('', () => process.exit(code));
  });
}
