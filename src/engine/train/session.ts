// A training run from a request to a checkpoint: the one path the CLI's `llm101 train` and the
// engine process's training thread both take. It reads the corpus, learns the tokenizer from it
// (or uses gpt2's), tokenizes it once, starts the weights (seeded as torch.manual_seed(seed);
// GPTModel(cfg) draws them, or from a checkpoint), and then trains one step at a time while the
// caller decides when to evaluate, sample, take a timelapse frame, pause, stop and save.
// A checkpoint is written in the book's GPTModel names with the config, the tokenizer (so the
// checkpoint alone tokenizes), the step and the losses in its __metadata__.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError, validateGptConfig, validateSettings, type CancelSignal } from '../config';
import { loadCorpus } from '../corpus';
import { copyTaskProbe, copyTaskText } from '../copyTask';
import { gptParameterCount } from '../gpt/config';
import { generate } from '../gpt/generate';
import { initGptWeights } from '../gpt/init';
import type { GptConfig, GptModel } from '../gpt/types';
import { readGptCheckpoint, writeGptCheckpoint } from '../io/gptCheckpoint';
import { gptForward, traceGptBlock } from '../layers/gptModel';
import { inductionScore, isRepeatedProbe, previousTokenScore } from '../experiments/headScores';
import { BPE_DEFAULT_VOCAB, END_OF_TEXT, GPT2_VOCAB_SIZE, UNKNOWN, TOKENIZER_METADATA_KEY, createWordTokenizerFromVocab, learnTokenizer, parseSavedTokenizer, tokenizerFromSaved, type SavedTokenizer } from '../tokenizer';
import { TASK_LABELS, TRAIN_TASKS, type Matrix, type Tokenizer, type TokenizerKind, type TrainTask } from '../types';
import { DecimatedSeries } from './history';
import type { EvalResult, StepResult } from './trainer';
import { Trainer } from './trainer';

export interface TrainRequest {
  /** .txt files or folders of .txt files, read in this order and joined with a blank line. */
  corpusPaths: string[];
  /** A generated corpus instead of files: `copying`, the copying task (copyTask.ts). */
  task?: TrainTask;
  tokenizer: TokenizerKind;
  /** bpe only: the vocabulary it trains to. */
  bpeVocabSize?: number;
  dim: number;
  heads: number;
  layers: number;
  contextLength: number;
  qkvBias?: boolean;
  batchSize: number;
  steps: number;
  lr: number;
  weightDecay?: number;
  seed?: number;
  /** drop_emb, attention and drop_shortcut dropout while training (default 0.1, as the book). */
  dropout?: number;
  validationFraction?: number;
  clipGradNorm?: number;
  /** Linear warm-up for this many steps then cosine decay to lr/10 (off when absent). */
  warmupSteps?: number;
  /** Start from these weights (a checkpoint in the book's or GPT-2's names) instead of seeded ones. */
  init?: string;
  /** Exact batches (for comparisons with torch): step i uses batches[i mod count]. */
  batches?: number[][][];
  /** The prompt samples continue (default: the corpus's first few words). */
  samplePrompt?: string;
  /** A short sentence whose attention maps make the timelapse (default: the corpus's first line). */
  probe?: string;
}

/** What a run knows before its first step. */
export interface TrainInfo {
  config: GptConfig;
  tokenizer: TokenizerKind;
  corpusChars: number;
  corpusTokens: number;
  trainTokens: number;
  validationTokens: number;
  parameters: number;
  samplePrompt: string;
  probe: string[];
  /** Starting from a checkpoint (its path), or seeded (undefined). */
  init?: string;
}

/** One timelapse frame: the probe's attention weights per layer and head at a step. */
export interface ProbeFrame {
  step: number;
  heads: Matrix[][]; // [layer][head] (P, P), 0 above the diagonal
  /** [layer][head]: the head-role scores of the playground (headScores.ts) on the probe; induction only for a probe written twice. */
  roles: FrameRoles[][];
}

export interface FrameRoles {
  previousToken: number | null;
  induction: number | null;
}

/** At most this many step losses and evaluations are kept (checkpoint metadata, the panel's chart). */
export const HISTORY_POINTS = { steps: 2048, evals: 1024 } as const;

export const TRAIN_LIMITS = { maxSteps: 1_000_000, maxBatch: 4096, maxLayers: 48 } as const;

/** Throws an EngineError naming the first value that cannot work and what to set instead. */
export function checkTrainRequest(request: TrainRequest): void {
  validateSettings({
    tokenizer: request.tokenizer, dim: request.dim, heads: request.heads, dropout: request.dropout ?? 0,
    seed: request.seed ?? 123, contextLength: request.contextLength, qkvBias: request.qkvBias ?? false, layers: request.layers,
  });
  const whole = (name: string, value: number, max: number) => {
    if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new EngineError(`${name} must be a whole number from 1 to ${max.toLocaleString('en-US')}, got ${value}`);
  };
  whole('steps', request.steps, TRAIN_LIMITS.maxSteps);
  whole('the batch size', request.batchSize, TRAIN_LIMITS.maxBatch);
  if (!(request.lr > 0 && Number.isFinite(request.lr))) throw new EngineError(`the learning rate must be above 0 (e.g. 0.0004), got ${request.lr}`);
  if (request.weightDecay !== undefined && !(request.weightDecay >= 0)) throw new EngineError(`the weight decay must be 0 or more (the book uses 0.1), got ${request.weightDecay}`);
  const fraction = request.validationFraction ?? 0.1;
  if (!(fraction >= 0 && fraction < 1)) throw new EngineError(`the validation fraction must be at least 0 and below 1 (default 0.1), got ${fraction}`);
  if (request.task !== undefined && !(TRAIN_TASKS as readonly string[]).includes(request.task)) throw new EngineError(`the task must be one of ${TRAIN_TASKS.join(', ')}, got ${String(request.task)}`);
  if (request.task !== undefined && request.corpusPaths.length > 0) throw new EngineError(`give a corpus or the ${request.task} task, not both`);
  if (request.corpusPaths.length === 0 && !request.batches && request.task === undefined) throw new EngineError('give a corpus to train on: a .txt file or a folder of .txt files');
}

/**
 * The tokenizer of a run on given batches without a corpus: the batches bring their ids, so none is
 * learned. The gpt2 tokenizer when asked for or when the checkpoint has GPT-2's vocabulary; else
 * the ids themselves, a word vocabulary of the checkpoint's size whose entries are the ids written
 * as numbers ("0", "1", …) but the last two, the word tokenizer's end-of-text and unknown entries
 * (where the book's vocabulary has them), so samples and the saved checkpoint read as ids.
 */
function batchesTokenizer(request: TrainRequest, vocabSize: number | undefined): { tokenizer: Tokenizer; saved: SavedTokenizer } {
  if (request.tokenizer === 'gpt2' || vocabSize === GPT2_VOCAB_SIZE) return learnTokenizer('gpt2', '', 0);
  if (vocabSize === undefined) {
    throw new EngineError('given batches without a corpus need a checkpoint to start from (--init: the vocabulary is its own) or the gpt2 tokenizer');
  }
  if (vocabSize < 3) throw new EngineError(`the checkpoint's vocabulary of ${vocabSize} is too small to name its ids; give a corpus`);
  const vocab = [...Array.from({ length: vocabSize - 2 }, (_, id) => String(id)), END_OF_TEXT, UNKNOWN];
  return { tokenizer: createWordTokenizerFromVocab(vocab), saved: { kind: 'word', vocab } };
}

/** The corpus of a request as one text: its task's, generated, or its files'. */
function corpusText(request: TrainRequest): string {
  if (request.task === 'copying') return copyTaskText();
  return request.corpusPaths.map((p) => loadCorpus(p)).join('\n\n');
}

/** What a run learned from, as its checkpoint's metadata and the training panel name it. */
function corpusLabel(request: Pick<TrainRequest, 'task' | 'corpusPaths'>): string {
  if (request.task) return TASK_LABELS[request.task];
  return request.corpusPaths.map((p) => path.basename(p)).join(', ');
}

/** Words from the start of a text, for default prompts. */
function firstWords(text: string, count: number): string {
  return text.split(/\s+/).filter(Boolean).slice(0, count).join(' ');
}

export class TrainingSession {
  readonly info: TrainInfo;
  readonly tokenizer: Tokenizer;
  readonly trainer: Trainer;
  /** Losses so far, bounded (history.ts): steps' at a stride, and evaluations'. */
  readonly history = {
    steps: new DecimatedSeries<{ step: number; loss: number }>(HISTORY_POINTS.steps),
    evals: new DecimatedSeries<EvalResult>(HISTORY_POINTS.evals),
  };
  private readonly saved: SavedTokenizer;
  private readonly request: TrainRequest;
  private readonly probeIds: number[];
  private readonly promptIds: number[];

  private constructor(request: TrainRequest, tokenizer: Tokenizer, saved: SavedTokenizer, trainer: Trainer, info: TrainInfo, probeIds: number[], promptIds: number[]) {
    this.request = request;
    this.tokenizer = tokenizer;
    this.saved = saved;
    this.trainer = trainer;
    this.info = info;
    this.probeIds = probeIds;
    this.promptIds = promptIds;
  }

  /** Reads the corpus, learns the tokenizer, tokenizes once and starts the weights; nothing is trained yet. */
  static prepare(request: TrainRequest, hooks: { onProgress?: (stage: string) => void; signal?: CancelSignal } = {}): TrainingSession {
    checkTrainRequest(request);
    hooks.onProgress?.('reading the corpus');
    const corpus = request.corpusPaths.length > 0 || request.task ? corpusText(request) : '';
    // Going on from a checkpoint keeps its tokenizer (its ids are what the weights learned), on any corpus.
    const start = request.init ? readGptCheckpoint(request.init, { heads: request.heads }) : undefined;
    const savedJson = start?.metadata[TOKENIZER_METADATA_KEY];
    let learned: { tokenizer: Tokenizer; saved: SavedTokenizer };
    if (savedJson !== undefined && start) {
      const kept = parseSavedTokenizer(savedJson, request.init ?? '');
      learned = { tokenizer: tokenizerFromSaved(kept), saved: kept };
    } else if (corpus === '' && request.batches) {
      learned = batchesTokenizer(request, start?.model.config.vocabSize);
    } else {
      hooks.onProgress?.(request.tokenizer === 'bpe' ? 'training the BPE vocabulary' : 'building the vocabulary');
      if (corpus === '' && request.tokenizer !== 'gpt2') throw new EngineError(`the ${request.tokenizer} tokenizer learns from a corpus: give one (or use the gpt2 tokenizer)`, { setting: 'corpusPath' });
      learned = learnTokenizer(request.tokenizer, corpus, request.bpeVocabSize ?? BPE_DEFAULT_VOCAB);
    }
    const { tokenizer, saved } = learned;
    hooks.onProgress?.('tokenizing the corpus');
    const ids = Int32Array.from(tokenizer.encode(corpus), (t) => t.id);
    const config: GptConfig = {
      vocabSize: tokenizer.vocabSize, contextLength: request.contextLength, dim: request.dim, heads: request.heads,
      layers: request.layers, qkvBias: request.qkvBias ?? false, layerNormEps: 1e-5,
    };
    let model: GptModel;
    if (start) {
      model = start.model;
      const c = model.config;
      if (c.vocabSize !== config.vocabSize) {
        throw new EngineError(`--init ${request.init} has a vocabulary of ${c.vocabSize} but the ${tokenizer.kind} tokenizer has ${config.vocabSize}; use the tokenizer it was trained with`);
      }
      Object.assign(config, { ...c });
    } else {
      validateGptConfig(config);
      hooks.onProgress?.('initialising the weights');
      model = { config, weights: initGptWeights(config, request.seed ?? 123), source: `seeded ${request.seed ?? 123}` };
    }
    const windows = config.contextLength + 1;
    if (!request.batches && ids.length * (1 - (request.validationFraction ?? 0.1)) < windows) {
      throw new EngineError(
        `the corpus has ${ids.length.toLocaleString('en-US')} ${tokenizer.kind} tokens, too few for one training window of ${windows} ` +
          `(context length ${config.contextLength} + 1) after the validation split: use a longer corpus or a shorter context length`,
      );
    }
    const trainer = new Trainer({
      config, weights: model.weights, ids, batchSize: request.batchSize, lr: request.lr,
      weightDecay: request.weightDecay ?? 0.1, dropout: request.dropout ?? 0.1, seed: request.seed ?? 123,
      ...(request.validationFraction !== undefined && { validationFraction: request.validationFraction }),
      ...(request.clipGradNorm !== undefined && { clipGradNorm: request.clipGradNorm }),
      ...(request.batches && { batches: request.batches }),
      ...(request.warmupSteps !== undefined && { schedule: { peakLr: request.lr, warmupSteps: request.warmupSteps, totalSteps: request.steps } }),
    });
    // without a corpus the given batches' first row gives the prompt and the probe
    const firstRow = corpus === '' ? request.batches?.[0]?.[0] : undefined;
    const samplePrompt = request.samplePrompt ?? (firstRow ? tokenizer.decode(firstRow.slice(0, 3)) : firstWords(corpus, 3));
    const probeText = request.probe ?? (firstRow ? tokenizer.decode(firstRow.slice(0, 24)) : request.task === 'copying' ? copyTaskProbe()
      : corpus.split('\n').find((line) => line.trim().split(/\s+/).length >= 4)?.trim() ?? samplePrompt);
    const probeIds = tokenizer.encode(probeText).map((t) => t.id).slice(0, Math.min(24, config.contextLength));
    const promptIds = tokenizer.encode(samplePrompt).map((t) => t.id).slice(-config.contextLength);
    const info: TrainInfo = {
      config, tokenizer: tokenizer.kind, corpusChars: corpus.length, corpusTokens: ids.length,
      trainTokens: trainer.train.length, validationTokens: trainer.validation.length,
      parameters: gptParameterCount(trainer.model),
      samplePrompt, probe: probeIds.map((id) => tokenizer.decode([id])),
      ...(request.init && { init: request.init }),
    };
    return new TrainingSession(request, tokenizer, saved, trainer, info, probeIds, promptIds);
  }

  get stepCount(): number {
    return this.trainer.stepCount;
  }

  get done(): boolean {
    return this.stepCount >= this.request.steps;
  }

  step(): StepResult {
    const result = this.trainer.step();
    this.history.steps.add({ step: result.step, loss: result.loss });
    return result;
  }

  evaluate(): EvalResult {
    const result = this.trainer.evaluate();
    this.history.evals.replaceLast(result);
    return result;
  }

  /** A continuation of the sample prompt (temperature 1, top-k 25, a fixed seed: the same text at the same weights). */
  sample(newTokens = 20): string {
    if (this.promptIds.length === 0) return '';
    const ids = generate(this.trainer.model, this.promptIds, { maxNewTokens: newTokens, temperature: 1, topK: 25, seed: 123 });
    return this.tokenizer.decode([...this.promptIds, ...ids]);
  }

  /** The probe sentence's attention weights per layer and head, at the current step. */
  probeFrame(): ProbeFrame {
    const model = this.trainer.model;
    const forward = gptForward(model, this.probeIds, { logits: 'none', keepResiduals: true });
    const heads = Array.from({ length: model.config.layers }, (_, layer) => traceGptBlock(model, forward, layer).attention.heads.map((h) => h.weights));
    const repeated = isRepeatedProbe(this.probeIds);
    const half = this.probeIds.length / 2;
    const roles = heads.map((layer) => layer.map((w) => ({ previousToken: previousTokenScore(w), induction: repeated ? inductionScore(w, half) : null })));
    return { step: this.stepCount, heads, roles };
  }

  /** Writes the weights at the last completed step, with everything needed to load and tokenize them. */
  save(file: string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const last = this.history.evals.at(-1);
    writeGptCheckpoint(`${file}.tmp`, this.trainer.model, {
      [TOKENIZER_METADATA_KEY]: JSON.stringify(this.saved),
      'llm101.step': String(this.stepCount),
      'llm101.losses': JSON.stringify({
        steps: this.history.steps.items.map((s) => [s.step, Number(s.loss.toPrecision(6))]),
        evals: this.history.evals.items.map((e) => [e.step, e.trainLoss ?? null, e.valLoss ?? null]),
      }),
      ...(last?.trainLoss !== undefined && { 'llm101.trainLoss': String(last.trainLoss) }),
      ...(last?.valLoss !== undefined && { 'llm101.valLoss': String(last.valLoss) }),
      'llm101.corpus': corpusLabel(this.request),
    });
    fs.renameSync(`${file}.tmp`, file); // a checkpoint is whole or absent, even if the process dies mid-write
  }
}
