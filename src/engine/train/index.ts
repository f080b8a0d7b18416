// Training the book's GPTModel from scratch, the engine's part: what the CLI's
// `llm101 train`, the engine worker and `llm101 bench --train` call.
//
//   const trainer = new Trainer({ config, weights: initGptWeights(config, seed), ids, batchSize, lr, ... });
//   for (...) { const { step, loss, tokensPerSecond } = trainer.step(); ... trainer.evaluate() ... }
//   trainer.weights / trainer.namedParameters()  -> checkpoint;  trainer.model -> generate / trace
//
// Files: layers.ts (each layer's training forward and backward), model.ts (the whole model's
// forward with activations and backward), adamw.ts (AdamW, clipping, schedule), data.ts (split,
// sampled and given batches), trainer.ts (the loop), bench.ts (one step timed).

export { AdamW, type AdamWOptions, type AdamWState, clipGradNorm, globalGradNorm, type LrSchedule, scheduledLr } from './adamw';
export { BatchSampler, batchFromRows, batchFromStarts, evaluationStarts, splitTokens, type TokenSplit } from './data';
export {
  type ForwardOptions,
  type GptActivations,
  type NamedParameter,
  type TokenBatch,
  createGptActivations,
  gptBackward,
  gptTrainingForward,
  gptParameters,
  zeroGptWeights,
} from './model';
export { type EvalResult, type StepResult, Trainer, type TrainerOptions } from './trainer';
export { benchTrain, type TrainBenchOptions, type TrainBenchResult } from './bench';
