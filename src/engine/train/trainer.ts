// The training loop the engine worker and the CLI drive, one step at a time (the book's
// chapter 5 train_model_simple, as an object): each step() draws a batch (or takes the next given
// one), runs the forward with dropout, the backward, optional clipping and one AdamW update, and
// returns the loss. Nothing runs between steps, so the caller pauses, stops, evaluates, samples
// (gpt/generate.ts on trainer.model) or saves a checkpoint whenever it likes: step() is
// synchronous and only its last phase (the AdamW update) writes the weights, so after any
// completed step the weights are exactly that step's, and a step that throws before its update
// leaves the previous step's weights untouched.
//
// Memory: the activations of one batch (GptActivations), the gradients (one model's worth) and
// AdamW's two moments (two more), allocated once.

import { KernelArena } from '../kernels';
import type { GptConfig, GptModel, GptWeights } from '../gpt/types';
import { TorchGenerator } from '../rng';
import { AdamW, type LrSchedule, clipGradNorm, globalGradNorm, scheduledLr } from './adamw';
import { BatchSampler, batchFromRows, batchFromStarts, evaluationStarts, splitTokens } from './data';
import {
  type GptActivations,
  type NamedParameter,
  type TokenBatch,
  createGptActivations,
  gptBackward,
  gptTrainingForward,
  gptParameters,
  zeroGptWeights,
} from './model';

export interface TrainerOptions {
  config: GptConfig;
  /** The starting weights (a seeded init or a checkpoint); trained in place. */
  weights: GptWeights;
  /** The tokenized corpus, split into training and validation parts by position. */
  ids?: Int32Array | readonly number[];
  /** The validation part's share of `ids`, at the end; default 0.1 (the book's 90/10). */
  validationFraction?: number;
  /**
   * Exact batches instead of sampling (for comparisons with torch): step i uses
   * batches[i mod count], each a list of rows of T + 1 token ids (inputs row[:-1], targets row[1:]).
   */
  batches?: readonly (readonly (readonly number[])[])[];
  /** Windows per batch (ignored with `batches`). */
  batchSize: number;
  /** Tokens per window; default config.contextLength. */
  windowLength?: number;
  /** Peak learning rate (ignored when `schedule` is given). */
  lr: number;
  /** AdamW's λ on every parameter; default 0.1 as the book trains. */
  weightDecay?: number;
  betas?: readonly [number, number];
  eps?: number;
  /** Dropout of drop_emb, the attention weights and drop_shortcut during training; default 0. */
  dropout?: number;
  /** Seeds the one generator batches and dropout masks are drawn from; default 123. */
  seed?: number;
  /** Clip the global gradient norm to this value (torch's clip_grad_norm_); default off. */
  clipGradNorm?: number;
  /** Warm-up + cosine learning rate; default off (constant lr). */
  schedule?: LrSchedule;
  /** Windows per split that evaluate() averages over; default 5 batches' worth (the book's eval_iter). */
  evalWindows?: number;
}

export interface StepResult {
  /** Steps completed, 1-based: this step's number. */
  step: number;
  /** The batch's mean cross-entropy before this step's update (what the book logs). */
  loss: number;
  /** The learning rate this step used. */
  lr: number;
  /** The gradients' global L2 norm (before clipping). */
  gradNorm: number;
  /** Tokens in this batch (B·T) and in all steps so far. */
  tokens: number;
  tokensSeen: number;
  /** Wall time of this step and its throughput. */
  ms: number;
  tokensPerSecond: number;
}

export interface EvalResult {
  step: number;
  /** Mean loss over fixed windows of the training part (undefined when it has none). */
  trainLoss: number | undefined;
  /** Mean loss over fixed windows of the validation part (undefined when it is shorter than a window + 1). */
  valLoss: number | undefined;
}

export class Trainer {
  readonly config: GptConfig;
  readonly weights: GptWeights;
  /** The last step's gradients, same layout as the weights (clipped when clipping is on). */
  readonly grads: GptWeights;
  readonly optimizer: AdamW;
  readonly generator: TorchGenerator;
  readonly train: Int32Array;
  readonly validation: Int32Array;
  readonly batchSize: number;
  readonly windowLength: number;
  private readonly options: TrainerOptions;
  private readonly params: NamedParameter[];
  private readonly gradList: Float32Array[];
  private readonly sampler: BatchSampler | undefined;
  private readonly given: TokenBatch[] | undefined;
  private activations: GptActivations | undefined;
  private evalActivations: GptActivations | undefined;
  private tokensSeen = 0;

  constructor(options: TrainerOptions) {
    const { config, weights } = options;
    this.options = options;
    this.config = config;
    this.weights = weights;
    this.windowLength = options.windowLength ?? config.contextLength;
    const dropout = options.dropout ?? 0;
    if (!(dropout >= 0 && dropout < 1)) throw new RangeError(`dropout must be in [0, 1), got ${dropout}`);
    this.generator = new TorchGenerator(options.seed ?? 123);
    const ids = options.ids instanceof Int32Array ? options.ids : Int32Array.from(options.ids ?? []);
    for (const id of ids) if (!(id >= 0 && id < config.vocabSize)) throw new RangeError(`token id ${id} is outside the model's vocabulary of ${config.vocabSize}`);
    const split = splitTokens(ids, options.validationFraction ?? 0.1);
    this.train = split.train;
    this.validation = split.validation;
    if (options.batches) {
      if (options.batches.length === 0) throw new RangeError('batches: give at least one batch');
      this.given = options.batches.map((rows) => batchFromRows(rows));
      this.batchSize = this.given[0]!.B;
    } else {
      if (!Number.isSafeInteger(options.batchSize) || options.batchSize < 1) throw new RangeError(`the batch size must be a whole number >= 1, got ${options.batchSize}`);
      this.batchSize = options.batchSize;
      this.sampler = new BatchSampler(this.train, this.windowLength, this.batchSize, this.generator);
    }
    this.params = gptParameters(weights);
    const gradients = new KernelArena(); // where the backward writes them and AdamW reads them, without copies
    this.grads = zeroGptWeights(config, (count) => gradients.floats(count));
    this.gradList = gptParameters(this.grads).map((p) => p.data);
    this.optimizer = new AdamW(this.params, { lr: options.schedule?.peakLr ?? options.lr, betas: options.betas, eps: options.eps, weightDecay: options.weightDecay ?? 0.1 });
  }

  /** Steps completed so far. */
  get stepCount(): number {
    return this.optimizer.state.step;
  }

  /** The model being trained (for sampling, the panel's maps, or a checkpoint). */
  get model(): GptModel {
    return { config: this.config, weights: this.weights, source: `training, step ${this.stepCount}` };
  }

  /** The weights by state_dict name, as torch's model.parameters() orders them. */
  namedParameters(): NamedParameter[] {
    return this.params;
  }

  /** The batch step `index` (0-based) trains on: the next sampled one, or batches[index mod count]. */
  private nextBatch(index: number): TokenBatch {
    if (this.given) return this.given[index % this.given.length]!;
    return this.sampler!.next();
  }

  private activationsFor(batch: TokenBatch, withDropout: boolean): GptActivations {
    const acts = this.activations;
    if (acts && acts.B === batch.B && acts.T === batch.T && (acts.withDropout || !withDropout)) return acts;
    acts?.arena.release();
    this.activations = createGptActivations(this.config, batch.B, batch.T, withDropout);
    return this.activations;
  }

  /**
   * Gives back the activations' kernel memory (KernelArena) now instead of when the trainer is
   * collected; a later step or evaluation allocates them again.
   */
  releaseActivations(): void {
    this.activations?.arena.release();
    this.evalActivations?.arena.release();
    this.activations = undefined;
    this.evalActivations = undefined;
  }

  /** One training step: batch, forward (with dropout), backward, clipping, AdamW. */
  step(): StepResult {
    const started = performance.now();
    const index = this.stepCount;
    const lr = this.options.schedule ? scheduledLr(index, this.options.schedule) : this.options.lr;
    const batch = this.nextBatch(index);
    const dropout = this.options.dropout ?? 0;
    const acts = this.activationsFor(batch, dropout > 0);
    const loss = gptTrainingForward(this.weights, this.config, acts, batch, { dropout, generator: this.generator });
    if (!Number.isFinite(loss)) throw new Error(`the loss became ${loss} at step ${index + 1}: lower the learning rate (${lr})`);
    gptBackward(this.weights, this.config, acts, this.grads);
    const maxNorm = this.options.clipGradNorm;
    const gradNorm = maxNorm === undefined ? globalGradNorm(this.gradList) : clipGradNorm(this.gradList, maxNorm);
    this.optimizer.step(this.gradList, lr);
    const tokens = batch.B * batch.T;
    this.tokensSeen += tokens;
    const ms = performance.now() - started;
    return { step: this.stepCount, loss, lr, gradNorm, tokens, tokensSeen: this.tokensSeen, ms, tokensPerSecond: (tokens * 1000) / ms };
  }

  /** Mean loss (no dropout, as model.eval()) of both parts over their fixed windows. */
  evaluate(maxWindows = this.options.evalWindows ?? 5 * this.batchSize): EvalResult {
    return { step: this.stepCount, trainLoss: this.lossOn(this.train, maxWindows), valLoss: this.lossOn(this.validation, maxWindows) };
  }

  /**
   * Mean cross-entropy over the windows 0, T, 2T, … of `ids` (at most maxWindows of them), in
   * chunks of the batch size; undefined when ids is too short for one window. No dropout, no
   * draws from the generator: evaluating does not change what training does next.
   */
  lossOn(ids: Int32Array, maxWindows = Infinity): number | undefined {
    const T = this.windowLength;
    const starts = evaluationStarts(ids.length, T, maxWindows);
    if (starts.length === 0) return undefined;
    let total = 0;
    for (let first = 0; first < starts.length; first += this.batchSize) {
      const chunk = starts.slice(first, first + this.batchSize);
      const batch = batchFromStarts(ids, chunk, T);
      let acts = this.activations;
      if (!acts || acts.B !== batch.B || acts.T !== T) {
        if (!this.evalActivations || this.evalActivations.B !== batch.B || this.evalActivations.T !== T) {
          this.evalActivations?.arena.release();
          this.evalActivations = createGptActivations(this.config, batch.B, T, false);
        }
        acts = this.evalActivations;
      }
      total += gptTrainingForward(this.weights, this.config, acts, batch) * chunk.length;
    }
    return total / starts.length;
  }
}
