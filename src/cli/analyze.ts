// `llm101 analyze` and `llm101 tokenize`: a text through the one pipeline, as JSON, a summary or a report.
import * as fs from 'node:fs';
import { DEFAULT_CONFIG } from '../engine/config';
import { journeyExample } from '../engine/examples';
import { fsErrorReason } from '../engine/io/fsErrors';
import { writeGptCheckpoint } from '../engine/io/gptCheckpoint';
import { modelToJson, traceToJson, writeJson } from '../engine/serialize';
import { runTrace } from '../engine/trace';
import type { GptModel } from '../engine/gpt/types';
import type { Tokenizer, Trace } from '../engine/types';
import { Analyzer, traceResult, type AnalyzeRequest, type ModelAnalysis, type TraceResult } from '../engine/pipeline';
import { TOKENIZER_METADATA_KEY } from '../engine/tokenizer';
import { buildReport } from '../report';
import { UsageError, optionalInteger, optionalNumber, type Values } from './args';
import { summarize, tokenJson, tokenTable } from './format';
import { type CliIo, type Command, COMMON_OPTIONS, INPUT_HELP, INPUT_OPTIONS, MODEL_HELP, MODEL_OPTIONS, PACKAGE_ROOT, TOKENIZER_HELP, TOKENIZER_OPTIONS, cliBpeCacheDir, readInput, tokenizerRequest } from './command';

export const tokenize: Command = {
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

export const analyze: Command = {
  summary: 'run every stage (embeddings, attention, multi-head, layer norm) and show the trace',
  usage: 'llm101 analyze (--text STR | --file PATH | - | --example journey) [options] [--json]',
  help: [
    ...INPUT_HELP,
    '  --example journey     the book\'s chapter 3 example ("Your journey starts with one step")',
    ...TOKENIZER_HELP,
    ...MODEL_HELP,
    '  --window-from N       a text longer than the context: the window of context-length tokens',
    '                        starts at token N (default: the last tokens, as generation crops)',
    `  --dropout P           dropout on attention weights, 0 <= P < 1 (default ${DEFAULT_CONFIG.dropout})`,
    "  --save-weights FILE   write the model (whose block 1 the stages are) as a GPT checkpoint",
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
    dropout: { type: 'string' },
    'save-weights': { type: 'string' },
    'window-from': { type: 'string' },
    html: { type: 'string' },
    ...COMMON_OPTIONS,
  },
  async run(values, io, positionals) {
    const { result, trace, weights, tokenizer, model, input } =
      values.example !== undefined ? await analyzeExample(values, positionals) : await analyzeText(values, io, positionals);
    if (typeof values['save-weights'] === 'string') {
      if (!weights) throw new UsageError("--example journey is the book's chapter 3 modules, not a model: drop --save-weights");
      writeGptCheckpoint(values['save-weights'], weights);
    }
    if (typeof values.html === 'string') {
      // the input itself, so the report's window strip finds the text outside the window by offset
      const text = input ?? trace.tokens.map((t) => t.text).join(' ');
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
      // window: which of the text's tokens the trace holds, when the text is longer than the context
      const json = { ...traceToJson(trace), ...(result.window && { window: result.window }), ...(model && { model: modelToJson(model.model, model.forward) }) };
      writeJson(json, (chunk) => io.stdout.write(chunk));
      io.stdout.write('\n');
    } else {
      io.stdout.write(summarize(trace, tokenizer, model, result.window));
    }
  },
};

const EXAMPLES = ['journey'] as const;

interface Analysis {
  /** The trace with what the report shows beside it (PCA, unknown tokens, weights source). */
  result: TraceResult;
  trace: Trace;
  /** The model whose block 1 the stages are, for --save-weights (absent for the book's example). */
  weights?: GptModel;
  /** Absent for the book example, whose tokens are hand-made. */
  tokenizer?: Tokenizer;
  /** The GPT's forward pass on the same tokens: with --layers or a GPT checkpoint. */
  model?: ModelAnalysis;
  /** The text analyzed (absent for the book example): the tokens' offsets are into it. */
  input?: string;
}

async function analyzeExample(values: Values, positionals: readonly string[]): Promise<Analysis> {
  if (!(EXAMPLES as readonly string[]).includes(String(values.example))) {
    throw new UsageError(`unknown example ${JSON.stringify(values.example)}; use --example ${EXAMPLES.join(' | ')}`);
  }
  // The example fixes its text, tokenizer and weights; only dropout and seed can vary.
  const fixed = ['text', 'file', 'tokenizer', 'corpus', 'vocab-size', 'dim', 'heads', 'context-length', 'qkv-bias', 'weights', 'layers', 'save-weights', 'window-from'];
  const clash = positionals.includes('-') ? '' : fixed.find((name) => values[name] !== undefined);
  if (clash !== undefined) {
    const flag = clash === '' ? '-' : `--${clash}`;
    throw new UsageError(`--example journey brings its own input and weights; drop ${flag} (only --dropout and --seed apply)`);
  }
  const dropout = optionalNumber(values, 'dropout');
  const seed = optionalInteger(values, 'seed');
  const example = journeyExample({ ...(dropout !== undefined && { dropout }), ...(seed !== undefined && { seed }) });
  const started = performance.now();
  const trace = runTrace(example.tokens, example.source, example.run);
  return { result: traceResult(trace, 0, started), trace };
}

async function analyzeText(values: Values, io: CliIo, positionals: readonly string[]): Promise<Analysis> {
  const text = await readInput(values, io, positionals, 'analyze');
  const { request, analyzer, withModel } = modelRequest(values, text);
  // The extension's pipeline: the same checks before work starts, caches and weight-file checks.
  const result = analyzer.analyze(request);
  if (result.kind !== 'trace') throw new Error('analyze has no token limit on the command line');
  const tokenizer = analyzer.tokenizer(request);
  return {
    result, trace: result.trace, weights: analyzer.model(request), tokenizer, input: text,
    ...(withModel && { model: analyzer.analyzeModel(request) }),
  };
}

/**
 * The pipeline's request from the model flags, the analyzer that serves it, and whether a GPT is
 * asked for: --layers (seeded) or --weights naming a GPT checkpoint.
 */
export function modelRequest(values: Values, text: string): { request: AnalyzeRequest; analyzer: Analyzer; withModel: boolean } {
  const dim = optionalInteger(values, 'dim');
  const contextLength = optionalInteger(values, 'context-length');
  const layers = optionalInteger(values, 'layers');
  const windowFrom = optionalInteger(values, 'window-from');
  const qkvBias = values['qkv-bias'] === true;
  const tokenizerOptions = tokenizerRequest(values);
  const weightsPath = typeof values.weights === 'string' ? values.weights : undefined;
  const request: AnalyzeRequest = {
    ...tokenizerOptions,
    tokenizerExplicit: values.tokenizer !== undefined,
    text,
    dim: dim ?? DEFAULT_CONFIG.dim,
    heads: optionalInteger(values, 'heads') ?? DEFAULT_CONFIG.heads,
    dropout: optionalNumber(values, 'dropout') ?? DEFAULT_CONFIG.dropout,
    seed: optionalInteger(values, 'seed') ?? DEFAULT_CONFIG.seed,
    contextLength: contextLength ?? DEFAULT_CONFIG.contextLength,
    qkvBias,
    ...(layers !== undefined && { layers }),
    ...(windowFrom !== undefined && { windowFrom }),
    ...(weightsPath !== undefined && {
      weightsPath,
      // The file decides the sizes; any size given on the command line must agree with it.
      explicit: {
        sizes: {
          ...(dim !== undefined && { dim }),
          ...(contextLength !== undefined && { contextLength }),
          ...(qkvBias && { qkvBias }),
        },
        sources: { dim: '--dim', contextLength: '--context-length', qkvBias: '--qkv-bias' },
      },
    }),
  };
  const analyzer = new Analyzer(cliBpeCacheDir());
  const header = weightsPath !== undefined ? analyzer.layoutOf(weightsPath) : undefined;
  const checkpoint = header !== undefined;
  if (checkpoint && layers !== undefined) {
    throw new UsageError(`--layers sets the blocks of a seeded model; checkpoint ${weightsPath} has its own, so drop --layers`);
  }
  if (header?.layout === 'book' && header.metadata[TOKENIZER_METADATA_KEY] !== undefined && values.corpus !== undefined && values.tokenizer === undefined) {
    throw new UsageError(`checkpoint ${weightsPath} carries the tokenizer it was trained with, so --corpus is not used: drop --corpus (or name --tokenizer to build another from it)`);
  }
  return { request, analyzer, withModel: checkpoint || layers !== undefined };
}
