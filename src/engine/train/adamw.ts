// AdamW as torch.optim.AdamW (torch 1.13, the single-tensor path it takes by default on the CPU),
// decoupled weight decay on every parameter as the book's AdamW(model.parameters(), lr,
// weight_decay=0.1) applies it; state in float32. Per element, with t the step (1, 2, …):
//   θ ← θ·(1 − lr·λ)
//   m ← β₁·m + (1 − β₁)·g                     v ← β₂·v + (1 − β₂)·g²
//   θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
// The scalars (bias corrections, step size) are doubles, as Python computes them, and rounded to
// float32 as torch's kernels take them; m, v and θ are float32 (see adamwUpdate).
//
// Also here: clip_grad_norm_ (global L2 norm over every gradient) and the book's learning-rate
// schedule (appendix D: linear warm-up, then cosine decay). Both are off unless asked for.

import { KernelArena, adamwInto } from '../kernels';
import type { NamedParameter } from './model';

export interface AdamWOptions {
  lr: number;
  /** (β₁, β₂), torch's default (0.9, 0.999). */
  betas?: readonly [number, number];
  /** torch's default 1e-8. */
  eps?: number;
  /** λ; torch's default is 0.01, the book trains with 0.1. */
  weightDecay?: number;
}

/** What the optimizer carries from step to step (torch's optimizer.state_dict()['state']). */
export interface AdamWState {
  /** Steps taken (torch's state['step']). */
  step: number;
  /** m per parameter, in the parameters' order. */
  expAvg: Float32Array[];
  /** v per parameter. */
  expAvgSq: Float32Array[];
}

export class AdamW {
  readonly state: AdamWState;
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;

  /** `params` are updated in place by step(); their order is the state's order. */
  constructor(
    readonly params: readonly NamedParameter[],
    options: AdamWOptions,
  ) {
    const { lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01 } = options;
    checkLearningRate(lr);
    if (!(betas[0] >= 0 && betas[0] < 1 && betas[1] >= 0 && betas[1] < 1)) throw new RangeError(`betas must be in [0, 1), got ${betas.join(', ')}`);
    if (!(eps >= 0)) throw new RangeError(`eps must be >= 0, got ${eps}`);
    if (!(weightDecay >= 0)) throw new RangeError(`weight decay must be >= 0, got ${weightDecay}`);
    this.lr = lr;
    [this.beta1, this.beta2] = betas;
    this.eps = eps;
    this.weightDecay = weightDecay;
    // the moments live in the kernel's memory, where each step updates them without copies
    const arena = new KernelArena();
    this.state = {
      step: 0,
      expAvg: params.map((p) => arena.floats(p.data.length)),
      expAvgSq: params.map((p) => arena.floats(p.data.length)),
    };
  }

  /** One update from `grads` (same order and sizes as the parameters), at `lr` (default this.lr; 0 is allowed, as a schedule's first step). */
  step(grads: readonly Float32Array[], lr = this.lr): void {
    if (grads.length !== this.params.length) throw new RangeError(`AdamW.step: ${grads.length} gradients for ${this.params.length} parameters`);
    if (!(lr >= 0 && Number.isFinite(lr))) throw new RangeError(`the learning rate must be a number >= 0, got ${lr}`);
    const f = Math.fround;
    const t = ++this.state.step;
    const decay = f(1 - lr * this.weightDecay);
    const beta1 = f(this.beta1);
    const beta2 = f(this.beta2);
    const oneMinusBeta1 = f(1 - this.beta1);
    const oneMinusBeta2 = f(1 - this.beta2);
    const biasCorrection1 = 1 - this.beta1 ** t;
    const biasCorrection2Sqrt = f(Math.sqrt(1 - this.beta2 ** t));
    const negStepSize = f(-(lr / biasCorrection1));
    const eps = f(this.eps);
    const constants = { decay, beta1, beta2, oneMinusBeta1, oneMinusBeta2, biasCorrection2Sqrt, negStepSize, eps };
    // each tensor's update in the kernel (adamwInto, rows.wat), the formula above op for op in
    // double: m and v are rounded to float32 when stored and read back as stored, and θ·(1 − lr·λ)
    // is rounded as torch's mul_ rounds it (without that, weights land an ulp off torch's); the
    // rest is double, rounded once into θ. Rounding every op of torch's chain as well agreed with
    // the fixtures no better (within 2.4e-7 either way) at twice the time.
    this.params.forEach((param, i) => {
      const g = grads[i]!;
      if (g.length !== param.data.length) throw new RangeError(`AdamW.step: ${param.name} has ${param.data.length} values, its gradient ${g.length}`);
      adamwInto(param.data, g, this.state.expAvg[i]!, this.state.expAvgSq[i]!, constants);
    });
  }
}

function checkLearningRate(lr: number): void {
  if (!(lr > 0 && Number.isFinite(lr))) throw new RangeError(`the learning rate must be a number > 0, got ${lr}`);
}

/**
 * The L2 norm of all gradients together as clip_grad_norm_ computes it: the norm of the
 * per-tensor norms, each a float32 (sums in double). Nothing is changed.
 */
export function globalGradNorm(grads: readonly Float32Array[]): number {
  const f = Math.fround;
  let squares = 0;
  for (const g of grads) {
    let sum = 0;
    for (let k = 0; k < g.length; k++) sum += g[k]! * g[k]!;
    const norm = f(Math.sqrt(sum)); // torch.norm(g): a float32 result
    squares += norm * norm;
  }
  return f(Math.sqrt(squares));
}

/**
 * torch.nn.utils.clip_grad_norm_(parameters, maxNorm): if the global norm exceeds maxNorm, every
 * gradient is scaled by maxNorm / (norm + 1e-6). In place; returns the norm before clipping.
 */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number): number {
  if (!(maxNorm > 0)) throw new RangeError(`the gradient clipping norm must be > 0, got ${maxNorm}`);
  const total = globalGradNorm(grads);
  const coef = Math.min(Math.fround(maxNorm / Math.fround(total + 1e-6)), 1);
  if (coef < 1) for (const g of grads) for (let k = 0; k < g.length; k++) g[k] = g[k]! * coef;
  return total;
}

/**
 * The book's schedule (appendix D): from initialLr, linear warm-up to peakLr over warmupSteps,
 * then cosine decay to minLr at totalSteps.
 */
export interface LrSchedule {
  peakLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Where the warm-up starts; default 0. */
  initialLr?: number;
  /** Where the cosine ends; default peakLr / 10 (nanoGPT's min_lr). */
  minLr?: number;
}

/** The learning rate of 0-based step `step` (the book's global_step). */
export function scheduledLr(step: number, schedule: LrSchedule): number {
  const { peakLr, warmupSteps, totalSteps, initialLr = 0, minLr = peakLr / 10 } = schedule;
  if (step < warmupSteps) return initialLr + (step * (peakLr - initialLr)) / warmupSteps;
  if (totalSteps <= warmupSteps) return peakLr;
  const progress = Math.min(1, (step - warmupSteps) / (totalSteps - warmupSteps));
  return minLr + (peakLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
