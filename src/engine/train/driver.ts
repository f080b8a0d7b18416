// One training run from its first evaluation to its last checkpoint: the loop that the CLI's
// `llm101 train` and the engine process's training thread both run (they differ only in how they
// report, pause and stop). Around the session's steps it decides what is due:
//   - an evaluation (train and validation loss) at step 0, every `evalEvery` steps and at the end,
//     each followed by a checkpoint of that step at `out`, so a run that dies loses at most
//     `evalEvery` steps;
//   - with keepBest, a second checkpoint (bestCheckpointFile) whenever an evaluation after step 0
//     lowers the validation loss: the weights from before the model started to overfit;
//   - the hint that the validation loss has not improved on its lowest for `patience` evaluations
//     in a row (where early stopping would stop);
//   - samples and timelapse frames, for callers that show them.
// A step that throws leaves the weights of the last completed step (trainer.ts): they are
// evaluated and saved, and the error says where.
import * as fs from 'node:fs';
import { EngineError } from '../config';
import type { ProbeFrame, TrainingSession } from './session';
import type { EvalResult, StepResult } from './trainer';

export interface DrivePlan {
  /** The checkpoint of the last completed step: written at every evaluation and when the run ends, stops or fails. */
  out: string;
  /** Evaluate and save every N steps; 0: only at step 0 and at the end. */
  evalEvery: number;
  /** Sample the fixed prompt every N steps, at step 0 and at the end (0: only then; absent: never). */
  sampleEvery?: number;
  /** Keep the probe's attention maps every N steps, at step 0 and at the end (0: only then; absent: never). */
  frameEvery?: number;
  /** Also keep the checkpoint of the lowest validation loss (bestCheckpointFile(out)); default true. */
  keepBest?: boolean;
  /** Evaluations in a row without a new lowest validation loss before the overfitting hint; default 3. */
  patience?: number;
}

export const DEFAULT_PATIENCE = 3;

export interface SavedCheckpoint {
  step: number;
  file: string;
  /** The lowest-validation-loss checkpoint (keepBest), or the last step's. */
  best: boolean;
  valLoss: number | null;
}

/** The validation loss has not gone below its lowest for `evaluations` evaluations in a row. */
export interface OverfittingHint {
  step: number;
  valLoss: number;
  bestStep: number;
  bestValLoss: number;
  evaluations: number;
}

export interface DriveHooks {
  step?(result: StepResult): void;
  evaluated?(result: EvalResult): void;
  sampled?(step: number, text: string): void;
  frame?(frame: ProbeFrame): void;
  saved?(checkpoint: SavedCheckpoint): void;
  overfitting?(hint: OverfittingHint): void;
}

export interface DriveResult {
  /** The checkpoint of the last completed step. */
  file: string;
  step: number;
  /** Ended before its steps (stopped, interrupted or failed). */
  stopped: boolean;
  trainLoss: number | null;
  valLoss: number | null;
  /** The lowest-validation-loss checkpoint, when keepBest found one. */
  best?: { file: string; step: number; valLoss: number };
}

/** Where the lowest-validation-loss checkpoint of `out` goes: NAME.best.safetensors beside NAME.safetensors. */
export function bestCheckpointFile(out: string): string {
  return out.endsWith('.safetensors') ? `${out.slice(0, -'.safetensors'.length)}.best.safetensors` : `${out}.best`;
}

export class TrainingDriver {
  /** The step each was last done at (a stop right after an evaluation does not evaluate twice). */
  private readonly doneAt = { eval: -1, frame: -1, sample: -1, save: -1 };
  private best: { file: string; step: number; valLoss: number } | undefined;
  private sinceBest = 0;
  private hinted = false;
  private readonly keepBest: boolean;
  private readonly patience: number;

  constructor(readonly session: TrainingSession, readonly plan: DrivePlan, private readonly hooks: DriveHooks = {}) {
    this.keepBest = plan.keepBest ?? true;
    this.patience = plan.patience ?? DEFAULT_PATIENCE;
    if (!Number.isSafeInteger(plan.evalEvery) || plan.evalEvery < 0) throw new EngineError(`evaluate every N steps: N must be a whole number from 0, got ${plan.evalEvery}`);
    if (!Number.isSafeInteger(this.patience) || this.patience < 1) throw new EngineError(`the patience must be a whole number of evaluations from 1 (default ${DEFAULT_PATIENCE}), got ${this.patience}`);
  }

  /** The run has done all its steps. */
  get done(): boolean {
    return this.session.done;
  }

  /** Step 0: the seeded (or loaded) model's losses, sample and attention, before any training. */
  begin(): void {
    // a new run under an old name: the old run's best checkpoint is not this run's
    if (this.keepBest) fs.rmSync(bestCheckpointFile(this.plan.out), { force: true });
    this.evaluate();
    this.frame();
    this.sample();
  }

  /** One step and what is due after it. A step that fails saves the last completed one and throws an EngineError saying so. */
  advance(): StepResult {
    let result: StepResult;
    try {
      result = this.session.step();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.finish();
      throw new EngineError(`${reason}; the checkpoint of step ${this.session.stepCount}, the last completed step, is saved in ${this.plan.out}`);
    }
    this.hooks.step?.(result);
    if (!this.done) {
      if (due(this.plan.evalEvery, result.step)) {
        this.evaluate();
        this.save();
      }
      if (due(this.plan.sampleEvery, result.step)) this.sample();
      if (due(this.plan.frameEvery, result.step)) this.frame();
    }
    return result;
  }

  /**
   * Ends the run at the last completed step: evaluated, sampled, its attention kept and saved.
   * quick: only the checkpoint (the window is closing and waits for nothing else).
   */
  finish(options: { quick?: boolean } = {}): DriveResult {
    if (!options.quick) {
      this.evaluate();
      this.frame();
      this.sample();
    }
    this.save();
    const last = this.session.history.evals.at(-1);
    const final = last?.step === this.session.stepCount ? last : undefined;
    return {
      file: this.plan.out, step: this.session.stepCount, stopped: !this.done,
      trainLoss: final?.trainLoss ?? null, valLoss: final?.valLoss ?? null,
      ...(this.keepBest && this.best && { best: { ...this.best } }),
    };
  }

  private evaluate(): void {
    const step = this.session.stepCount;
    if (this.doneAt.eval === step) return;
    this.doneAt.eval = step;
    const result = this.session.evaluate();
    this.hooks.evaluated?.(result);
    const { valLoss } = result;
    // step 0's seeded weights are no model to keep; without a validation part there is nothing to compare
    if (step === 0 || valLoss === undefined) return;
    if (!this.best || valLoss < this.best.valLoss) {
      this.sinceBest = 0;
      this.hinted = false;
      const file = bestCheckpointFile(this.plan.out);
      this.best = { file, step, valLoss };
      if (this.keepBest) {
        this.session.save(file);
        this.hooks.saved?.({ step, file, best: true, valLoss });
      }
      return;
    }
    this.sinceBest++;
    if (this.sinceBest >= this.patience && !this.hinted) {
      this.hinted = true;
      this.hooks.overfitting?.({ step, valLoss, bestStep: this.best.step, bestValLoss: this.best.valLoss, evaluations: this.sinceBest });
    }
  }

  private save(): void {
    const step = this.session.stepCount;
    if (this.doneAt.save === step) return;
    this.doneAt.save = step;
    this.session.save(this.plan.out);
    const last = this.session.history.evals.at(-1);
    this.hooks.saved?.({ step, file: this.plan.out, best: false, valLoss: last?.step === step ? last.valLoss ?? null : null });
  }

  private sample(): void {
    const step = this.session.stepCount;
    if (this.plan.sampleEvery === undefined || this.doneAt.sample === step) return;
    this.doneAt.sample = step;
    this.hooks.sampled?.(step, this.session.sample());
  }

  private frame(): void {
    const step = this.session.stepCount;
    if (this.plan.frameEvery === undefined || this.doneAt.frame === step) return;
    this.doneAt.frame = step;
    this.hooks.frame?.(this.session.probeFrame());
  }
}

/** Whether something done every `every` steps (0 or absent: never in between) is due after `step`. */
const due = (every: number | undefined, step: number) => every !== undefined && every > 0 && step % every === 0;
