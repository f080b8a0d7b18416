// `llm101 train`: the flags as a TrainRequest, then the one training path the engine process also
// takes (TrainingSession): prepare, steps with a progress bar (a terminal) or plain lines, the
// JSON-lines log, evaluations, the first step's gradients, Ctrl+C, and the checkpoint.
//
// The log (--log FILE.jsonl) holds one JSON object per line:
//   a step        {"step": 1-based, "loss": the batch's loss before the update, "lr", "gradNorm",
//                  "tokens", "tokensSeen", "ms", "tokensPerSecond"}
//   an evaluation {"step", "trainLoss", "valLoss"} (null when a part is too short for one window)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../engine/config';
import { resolveCorpusPath } from '../engine/corpus';
import { fsErrorReason } from '../engine/io/fsErrors';
import { gptToTensors, weightsLayoutOf } from '../engine/io/gptCheckpoint';
import { writeSafetensors } from '../engine/io/safetensors';
import { TOKENIZER_METADATA_KEY } from '../engine/tokenizer';
import { DEFAULT_PATIENCE, TrainingDriver, type DriveResult, type OverfittingHint } from '../engine/train/driver';
import { TrainingSession, checkTrainRequest, type TrainRequest } from '../engine/train/session';
import { TRAIN_TASKS, type TrainTask } from '../engine/types';
import type { StepResult } from '../engine/train/trainer';
import type { TokenizerKind } from '../engine/types';
import { TOKENIZER_KINDS } from '../engine/config';
import { UsageError, optionalInteger, optionalNumber, type Values } from './args';
import { counted } from '../shared/counted';

/** What `llm101 train` needs of the CLI's input and output. */
export interface TrainIo {
  stdout: { write(text: string): unknown };
  /** Progress goes here: a bar redrawn in place when it is a terminal, plain lines otherwise. */
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  onInterrupt?: (stop: () => void) => () => void;
}

/** The defaults of `llm101 train`: the preset `npm run train:sample` trains the shipped model with. */
export const TRAIN_DEFAULTS = {
  tokenizer: 'word' as TokenizerKind,
  dim: 64,
  heads: 4,
  layers: 2,
  contextLength: 64,
  batch: 8,
  steps: 150,
  lr: 1e-3,
  weightDecay: 0.1,
  seed: 123,
  dropout: 0.1,
  validationFraction: 0.1,
  evalEvery: 50,
} as const;

/** Plain progress lines (not a terminal): one every this many steps, besides the first, the last and each evaluation. */
const PLAIN_EVERY = 10;

/** `--corpus a.txt,poems/`: one path when it exists as given (a comma in a name), else a comma list. */
export function corpusPaths(value: string): string[] {
  if (fs.existsSync(value)) return [value];
  return value.split(',').map((part) => part.trim()).filter(Boolean);
}

/** The request the flags describe, checked as the engine checks it (exit 2 with the fix). */
export function trainRequestFrom(values: Values, packageRoot: string): { request: TrainRequest; out: string; evalEvery: number; keepBest: boolean; patience: number } {
  const out = typeof values.out === 'string' ? values.out : undefined;
  if (out === undefined) throw new UsageError('--out FILE.safetensors is required: where the trained checkpoint is written');
  const init = typeof values.init === 'string' ? values.init : undefined;
  const initHeader = init !== undefined ? initCheckpoint(init, values.heads !== undefined) : undefined;
  const kind = (values.tokenizer ?? initHeader?.tokenizer ?? TRAIN_DEFAULTS.tokenizer) as string;
  if (!(TOKENIZER_KINDS as readonly string[]).includes(kind)) throw new UsageError(`unknown tokenizer ${JSON.stringify(kind)}; use --tokenizer ${TOKENIZER_KINDS.join(' | ')}`);
  const vocabSize = optionalInteger(values, 'vocab-size');
  if (vocabSize !== undefined && kind !== 'bpe') throw new UsageError(`--vocab-size sets the bpe vocabulary's size; the ${kind} tokenizer's comes from the corpus, so drop --vocab-size or add --tokenizer bpe`);
  const corpus = typeof values.corpus === 'string' ? corpusPaths(values.corpus) : [];
  const task = typeof values.task === 'string' ? values.task : undefined;
  if (task !== undefined && !(TRAIN_TASKS as readonly string[]).includes(task)) throw new UsageError(`unknown task ${JSON.stringify(task)}; use --task ${TRAIN_TASKS.join(' | ')}`);
  if (task !== undefined && corpus.length > 0) throw new UsageError(`--task ${task} generates the corpus: drop --corpus, or drop --task to train on files`);
  if (corpus.length === 0 && values.batches === undefined && task === undefined) {
    throw new UsageError(`--corpus PATH is required: a .txt file or a folder of .txt files (several: a,b), e.g. --corpus ${path.join(packageRoot, 'media', 'corpus')}; or --task ${TRAIN_TASKS.join(' | ')}`);
  }
  const evalEvery = optionalInteger(values, 'eval-every') ?? TRAIN_DEFAULTS.evalEvery;
  if (evalEvery < 0) throw new UsageError(`--eval-every takes a number of steps (0: only at the end), got ${evalEvery}`);
  const patience = optionalInteger(values, 'patience') ?? DEFAULT_PATIENCE;
  if (patience < 1) throw new UsageError(`--patience takes a number of evaluations, at least 1 (default ${DEFAULT_PATIENCE}), got ${patience}`);
  const number = (name: string) => optionalNumber(values, name);
  const integer = (name: string) => optionalInteger(values, name);
  const clip = number('clip-grad-norm');
  const warmup = integer('warmup-steps');
  if (clip !== undefined && !(clip > 0)) throw new UsageError(`--clip-grad-norm must be above 0 (e.g. 1), got ${clip}`);
  if (warmup !== undefined && warmup < 0) throw new UsageError(`--warmup-steps must be 0 or more, got ${warmup}`);
  const request: TrainRequest = {
    corpusPaths: corpus.map((p) => resolveCorpusPath(packageRoot, p)),
    ...(task !== undefined && { task: task as TrainTask }),
    tokenizer: kind as TokenizerKind,
    ...(kind === 'bpe' && { bpeVocabSize: vocabSize ?? 512 }),
    dim: integer('dim') ?? initHeader?.sizes.dim ?? TRAIN_DEFAULTS.dim,
    heads: integer('heads') ?? initHeader?.sizes.heads ?? TRAIN_DEFAULTS.heads,
    layers: integer('layers') ?? initHeader?.sizes.layers ?? TRAIN_DEFAULTS.layers,
    contextLength: integer('context-length') ?? initHeader?.sizes['context-length'] ?? TRAIN_DEFAULTS.contextLength,
    qkvBias: values['qkv-bias'] === true,
    batchSize: integer('batch') ?? TRAIN_DEFAULTS.batch,
    steps: integer('steps') ?? TRAIN_DEFAULTS.steps,
    lr: number('lr') ?? TRAIN_DEFAULTS.lr,
    weightDecay: number('weight-decay') ?? TRAIN_DEFAULTS.weightDecay,
    seed: integer('seed') ?? TRAIN_DEFAULTS.seed,
    dropout: number('dropout') ?? TRAIN_DEFAULTS.dropout,
    validationFraction: number('val-fraction') ?? TRAIN_DEFAULTS.validationFraction,
    ...(clip !== undefined && { clipGradNorm: clip }),
    ...(warmup !== undefined && warmup > 0 && { warmupSteps: warmup }),
    ...(init !== undefined && { init }),
    ...(typeof values.batches === 'string' && { batches: readBatches(values.batches) }),
  };
  if (initHeader) {
    // the checkpoint decides the model's sizes; one given on the command line must be its own
    const given = { dim: integer('dim'), heads: integer('heads'), layers: integer('layers'), 'context-length': integer('context-length') };
    for (const [flag, value] of Object.entries(given)) {
      const has = initHeader.sizes[flag as keyof typeof given];
      if (value !== undefined && has !== undefined && value !== has) throw new UsageError(`--${flag} ${value} disagrees with --init ${init}, whose ${flag} is ${has}; drop --${flag} (the checkpoint's sizes are its own)`);
    }
    if (values['qkv-bias'] === true && initHeader.qkvBias === false) throw new UsageError(`--qkv-bias: --init ${init} has no query/key/value bias; drop --qkv-bias`);
    if (initHeader.qkvBias !== undefined) request.qkvBias = initHeader.qkvBias;
  }
  try {
    checkTrainRequest(request);
  } catch (err) {
    if (err instanceof EngineError) throw new UsageError(flagNames(err.message));
    throw err;
  }
  return { request, out, evalEvery, keepBest: values['no-best'] !== true, patience };
}

/** The engine's messages name settings; on the command line, name the flag to change. */
function flagNames(message: string): string {
  return message
    .replace(/^steps must/, '--steps must')
    .replace(/^the batch size must/, '--batch must')
    .replace(/^the learning rate must/, '--lr must')
    .replace(/^the weight decay must/, '--weight-decay must')
    .replace(/^the validation fraction must/, '--val-fraction must');
}

interface InitHeader {
  tokenizer?: TokenizerKind;
  /** Undefined when the file does not say (a state_dict without our metadata: its tensors decide). */
  qkvBias?: boolean;
  /** What its __metadata__ says (ours), by flag name. */
  sizes: { dim?: number; heads?: number; layers?: number; 'context-length'?: number };
}

/** --init must be a GPT checkpoint (the book's names or GPT-2's) whose heads are known. */
function initCheckpoint(file: string, headsGiven: boolean): InitHeader {
  let header: ReturnType<typeof weightsLayoutOf>;
  try {
    header = weightsLayoutOf(file);
  } catch (err) {
    throw new UsageError(`--init ${file} is not a GPT checkpoint (${err instanceof Error ? err.message : String(err)}): give a .safetensors file in the book's GPTModel names, e.g. one llm101 train wrote`);
  }
  const { metadata } = header;
  const whole = (key: string) => (metadata[key] !== undefined && /^\d+$/.test(metadata[key] ?? '') ? Number(metadata[key]) : undefined);
  const heads = whole('heads');
  if (header.layout === 'book' && heads === undefined && !headsGiven) {
    throw new UsageError(`--init ${file} does not say how many heads its attention has (no heads in its __metadata__): add --heads H`);
  }
  let tokenizer: TokenizerKind | undefined;
  const saved = metadata[TOKENIZER_METADATA_KEY];
  if (saved !== undefined) {
    try {
      const kind = (JSON.parse(saved) as { kind?: unknown }).kind;
      if ((TOKENIZER_KINDS as readonly unknown[]).includes(kind)) tokenizer = kind as TokenizerKind;
    } catch {
      // an unreadable tokenizer entry: the user's --tokenizer (or the default) decides
    }
  }
  // the tensors' shapes fix dim, layers, context and the qkv bias, with or without our metadata
  const shapes = header.sizes;
  return {
    ...(tokenizer !== undefined && { tokenizer }),
    qkvBias: shapes?.qkvBias ?? (header.layout === 'gpt2' || metadata.qkvBias === 'true'),
    sizes: { dim: shapes?.dim ?? whole('dim'), heads, layers: shapes?.layers || whole('layers'), 'context-length': shapes?.contextLength ?? whole('contextLength') },
  };
}

/** `{"batches": [[[ids × (T + 1)] × B] × count]}`; every row of a batch the same length, at least 2. */
export function readBatches(file: string): number[][][] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read --batches ${file}: ${err instanceof SyntaxError ? `not JSON (${err.message})` : fsErrorReason(err)}`);
  }
  const batches = (parsed as { batches?: unknown } | null)?.batches;
  const shapeHint = 'expected {"batches": [[[token ids × (context + 1)] × batch] × count]}';
  if (!Array.isArray(batches) || batches.length === 0) throw new UsageError(`--batches ${file}: no "batches" list; ${shapeHint}`);
  batches.forEach((batch: unknown, i) => {
    if (!Array.isArray(batch) || batch.length === 0) throw new UsageError(`--batches ${file}: batches[${i}] is not a list of rows; ${shapeHint}`);
    const width = Array.isArray(batch[0]) ? (batch[0] as unknown[]).length : -1;
    batch.forEach((row: unknown, b) => {
      if (!Array.isArray(row) || row.length < 2 || row.length !== width) {
        throw new UsageError(`--batches ${file}: batches[${i}][${b}] must be a list of ${width >= 2 ? width : 'at least 2'} token ids like every row of its batch; ${shapeHint}`);
      }
      row.forEach((id: unknown, t) => {
        if (!Number.isSafeInteger(id) || (id as number) < 0) throw new UsageError(`--batches ${file}: batches[${i}][${b}][${t}] is ${JSON.stringify(id)}, not a token id (a whole number from 0)`);
      });
    });
  });
  return batches as number[][][];
}

/** The given batches must fit the model: ids inside its vocabulary, rows at most context + 1 long. */
function checkBatchesFit(file: string, batches: readonly (readonly (readonly number[])[])[], vocabSize: number, contextLength: number): void {
  batches.forEach((batch, i) => {
    const width = batch[0]?.length ?? 0;
    if (width - 1 > contextLength) throw new UsageError(`--batches ${file}: batches[${i}] has rows of ${width} ids, more than context length ${contextLength} + 1; use shorter rows or a longer --context-length`);
    batch.forEach((row, b) => row.forEach((id, t) => {
      if (id >= vocabSize) throw new UsageError(`--batches ${file}: batches[${i}][${b}][${t}] is ${id}, outside the model's vocabulary of ${vocabSize} (ids 0 to ${vocabSize - 1})`);
    }));
  });
}

export async function runTrain(values: Values, io: TrainIo, packageRoot: string): Promise<number> {
  const { request, out, evalEvery, keepBest, patience } = trainRequestFrom(values, packageRoot);
  const log = typeof values.log === 'string' ? openLog(values.log) : undefined;
  const gradsOut = typeof values['grads-out'] === 'string' ? values['grads-out'] : undefined;
  const progress = new Progress(io.stderr, request.steps);
  const session = TrainingSession.prepare(request, { onProgress: (stage) => progress.status(stage) });
  const { info } = session;
  if (request.batches) checkBatchesFit(String(values.batches), request.batches, info.config.vocabSize, info.config.contextLength);
  const c = info.config;
  progress.line(
    `training ${counted(c.layers, 'layer')} · dim ${c.dim} · ${counted(c.heads, 'head')} · context ${c.contextLength} · vocabulary ${c.vocabSize.toLocaleString('en-US')} · ` +
      `${info.parameters.toLocaleString('en-US')} parameters${info.init ? ` from ${info.init}` : ''} · ${info.tokenizer} tokenizer · ` +
      `${info.corpusTokens.toLocaleString('en-US')} tokens (${info.trainTokens.toLocaleString('en-US')} train, ${info.validationTokens.toLocaleString('en-US')} validation)`,
  );

  let interrupted = false;
  const stopListening = io.onInterrupt?.(() => {
    interrupted = true;
  }) ?? (() => {});
  const started = performance.now();
  let last: StepResult | undefined;
  const driver = new TrainingDriver(session, { out, evalEvery, keepBest, patience }, {
    step: (result) => {
      last = result;
      log?.write({ ...result });
      if (result.step === 1 && gradsOut !== undefined) writeGradients(gradsOut, session);
      progress.step(result, performance.now() - started);
    },
    evaluated: (e) => {
      log?.write({ step: e.step, trainLoss: e.trainLoss ?? null, valLoss: e.valLoss ?? null });
      progress.line(`step ${e.step}: train loss ${fmt(e.trainLoss)}, validation loss ${fmt(e.valLoss)}`);
    },
    overfitting: (hint) => progress.line(overfittingLine(hint, keepBest)),
  });
  let result: DriveResult;
  try {
    driver.begin();
    while (!driver.done && !interrupted) {
      driver.advance();
      // let a Ctrl+C (SIGINT) arrive between steps: the step in progress always completes
      await new Promise((resolve) => setImmediate(resolve));
    }
    result = driver.finish();
  } finally {
    stopListening();
    log?.close();
    progress.end();
  }
  const seconds = (performance.now() - started) / 1000;
  const tokensPerSecond = last ? last.tokensSeen / seconds : 0;
  const size = fs.statSync(out).size;
  const best = result.best && result.best.step !== result.step
    ? `the lowest validation loss, ${result.best.valLoss.toFixed(4)} at step ${result.best.step}, is kept in ${result.best.file}\n`
    : '';
  io.stdout.write(
    `${interrupted ? `stopped by Ctrl+C after ${result.step} of ${request.steps} steps` : `trained ${result.step} steps`} in ${seconds.toFixed(1)} s ` +
      `(${Math.round(tokensPerSecond).toLocaleString('en-US')} tokens/s): train loss ${fmt(result.trainLoss ?? undefined)}, validation loss ${fmt(result.valLoss ?? undefined)}\n` +
      `wrote ${out} (${(size / 1024).toFixed(0)} KiB); try: llm101 generate --weights ${out} --text ${JSON.stringify(info.samplePrompt)}\n${best}`,
  );
  return 0;
}

/** The early-stopping hint, as the CLI prints it. */
export function overfittingLine(hint: OverfittingHint, keepBest: boolean): string {
  return `step ${hint.step}: the validation loss (${hint.valLoss.toFixed(4)}) has stayed above its lowest (${hint.bestValLoss.toFixed(4)} at step ${hint.bestStep}) ` +
    `for ${hint.evaluations} evaluations: the model is learning its training text by heart (overfitting); ` +
    `${keepBest ? 'the best checkpoint is kept, so ' : ''}Ctrl+C now loses nothing${keepBest ? '' : ' (--no-best: only the last step is kept)'}`;
}

const fmt = (loss: number | undefined) => (loss === undefined ? 'n/a' : loss.toFixed(4));

/** The first step's gradients under the book's names (after clipping, when --clip-grad-norm is on). */
function writeGradients(file: string, session: TrainingSession): void {
  const bytes = writeSafetensors(gptToTensors(session.trainer.grads), { 'llm101.gradientsOf': `step ${session.stepCount}`, heads: String(session.info.config.heads) });
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, bytes);
  } catch (err) {
    throw new UsageError(`cannot write --grads-out ${file}: ${fsErrorReason(err)}`);
  }
}

/** A JSON-lines file written a line at a time (so `tail -f` follows a run). */
function openLog(file: string): { write(entry: object): void; close(): void } {
  let fd: number;
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fd = fs.openSync(file, 'w');
  } catch (err) {
    throw new UsageError(`cannot write --log ${file}: ${fsErrorReason(err)}`);
  }
  return {
    write: (entry) => fs.writeSync(fd, `${JSON.stringify(entry)}\n`),
    close: () => fs.closeSync(fd),
  };
}

/**
 * Progress on stderr: on a terminal, one bar redrawn in place (at most 10 times a second) with
 * lines such as evaluations printed above it; otherwise plain lines, every PLAIN_EVERY steps.
 */
class Progress {
  private readonly tty: boolean;
  private drawnAt = 0;
  private barShown = false;
  constructor(private readonly stream: TrainIo['stderr'], private readonly total: number) {
    this.tty = stream.isTTY === true;
  }

  status(stage: string): void {
    if (this.tty) this.draw(`${stage}…`);
  }

  line(text: string): void {
    if (this.tty && this.barShown) this.stream.write('\r\x1b[K');
    this.barShown = false;
    this.stream.write(`${text}\n`);
  }

  step(result: StepResult, elapsedMs: number): void {
    const left = ((this.total - result.step) * elapsedMs) / result.step / 1000;
    const numbers = `loss ${result.loss.toFixed(4)} · ${Math.round(result.tokensPerSecond).toLocaleString('en-US')} tokens/s`;
    if (!this.tty) {
      if (result.step === 1 || result.step === this.total || result.step % PLAIN_EVERY === 0) this.stream.write(`step ${result.step}/${this.total} ${numbers}\n`);
      return;
    }
    const now = performance.now();
    if (now - this.drawnAt < 100 && result.step !== this.total) return;
    this.drawnAt = now;
    const width = 24;
    const filled = Math.round((width * result.step) / this.total);
    this.draw(`step ${result.step}/${this.total} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${numbers} · ${clock(left)} left`);
  }

  /** Leaves the bar on its own line. */
  end(): void {
    if (this.tty && this.barShown) this.stream.write('\n');
    this.barShown = false;
  }

  private draw(text: string): void {
    const columns = this.stream.columns || 100; // 0 when the terminal reports no size
    this.stream.write(`\r\x1b[K${text.slice(0, Math.max(20, columns - 1))}`);
    this.barShown = true;
  }
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
