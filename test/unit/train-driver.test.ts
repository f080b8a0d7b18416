// The one training driver the CLI and the engine's training thread run: a checkpoint at every
// evaluation and when a step fails (the weights of the last completed step, bit for bit), the
// lowest-validation-loss checkpoint kept beside it, the overfitting hint after `patience`
// evaluations without a new lowest, a quick finish that only saves, and the bounded history.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { readGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { TrainingDriver, bestCheckpointFile, type OverfittingHint, type SavedCheckpoint } from '../../src/engine/train/driver';
import { DecimatedSeries } from '../../src/engine/train/history';
import { TrainingSession, type TrainRequest } from '../../src/engine/train/session';
import type { EvalResult } from '../../src/engine/train/trainer';

const poems = path.join(__dirname, '..', '..', 'media', 'corpus');
const request: TrainRequest = {
  corpusPaths: [poems], tokenizer: 'word', dim: 16, heads: 2, layers: 1, contextLength: 16, batchSize: 4, steps: 12, lr: 5e-3, seed: 7, dropout: 0,
};
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-driver-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

/** The step and the first weights a checkpoint holds, read back from the file. */
function readBack(file: string): { step: number; valLoss: number | undefined; weights: Float32Array } {
  const { model, metadata } = readGptCheckpoint(file);
  const valLoss = metadata['llm101.valLoss'];
  return { step: Number(metadata['llm101.step']), valLoss: valLoss === undefined ? undefined : Number(valLoss), weights: model.weights.tokEmb.data.slice() };
}

test('a checkpoint at every evaluation, each holding the weights of its step', () => {
  const out = path.join(scratch, 'every', 'model.safetensors');
  const session = TrainingSession.prepare(request);
  const saves: { saved: SavedCheckpoint; onDisk: ReturnType<typeof readBack>; weights: Float32Array }[] = [];
  const evals: EvalResult[] = [];
  const driver = new TrainingDriver(session, { out, evalEvery: 4 }, {
    evaluated: (e) => evals.push(e),
    saved: (saved) => saves.push({ saved, onDisk: readBack(saved.file), weights: session.trainer.weights.tokEmb.data.slice() }),
  });
  driver.begin();
  while (!driver.done) driver.advance();
  const result = driver.finish();
  assert.deepEqual(evals.map((e) => e.step), [0, 4, 8, 12]);
  const last = saves.filter((s) => !s.saved.best);
  assert.deepEqual(last.map((s) => s.saved.step), [4, 8, 12], 'the last step\'s checkpoint at every evaluation after step 0, and at the end');
  for (const { saved, onDisk, weights } of last) {
    assert.equal(onDisk.step, saved.step, `the file written at step ${saved.step} is that step's`);
    assert.deepEqual(onDisk.weights, weights);
    assert.equal(saved.valLoss, evals.find((e) => e.step === saved.step)!.valLoss);
  }
  assert.equal(result.step, 12);
  assert.equal(result.stopped, false);
  assert.equal(result.valLoss, evals.at(-1)!.valLoss);
});

test('a failing step saves the last completed step and says where; nothing after it is lost', () => {
  const out = path.join(scratch, 'fails', 'model.safetensors');
  // a learning rate far too large: the loss of step 5 is NaN, and that step never updates the weights
  const session = TrainingSession.prepare({ ...request, lr: 1e3, steps: 40 });
  const driver = new TrainingDriver(session, { out, evalEvery: 100 });
  driver.begin();
  let before: Float32Array | undefined;
  assert.throws(() => {
    for (;;) {
      before = session.trainer.weights.tokEmb.data.slice();
      driver.advance();
    }
  }, (err: Error) => {
    assert.equal(err.name, 'EngineError');
    assert.match(err.message, /^the loss became NaN at step 5: lower the learning rate \(1000\); the checkpoint of step 4, the last completed step, is saved in .*model\.safetensors$/);
    return true;
  });
  const saved = readBack(out);
  assert.equal(saved.step, 4, 'no evaluation was due before the failure, yet step 4 is on disk');
  assert.deepEqual(saved.weights, before, 'the weights of step 4, untouched by the failed step');
});

test('the lowest validation loss is kept in its own checkpoint, and the hint comes after `patience` evaluations without a new lowest', () => {
  const out = path.join(scratch, 'best', 'model.safetensors');
  const session = TrainingSession.prepare({ ...request, steps: 16 });
  // validation losses as an overfitting run has them: falling to step 6, then rising
  const valLosses = new Map([[0, 7], [2, 6], [4, 5], [6, 4.5], [8, 4.6], [10, 4.9], [12, 5.3], [14, 4.4], [16, 4.8]]);
  const measure = session.trainer.evaluate.bind(session.trainer);
  session.trainer.evaluate = () => ({ ...measure(), valLoss: valLosses.get(session.stepCount) });
  const weightsAt = new Map<number, Float32Array>();
  const hints: OverfittingHint[] = [];
  const bests: SavedCheckpoint[] = [];
  const driver = new TrainingDriver(session, { out, evalEvery: 2, patience: 3 }, {
    step: (r) => weightsAt.set(r.step, session.trainer.weights.tokEmb.data.slice()),
    saved: (s) => (s.best ? bests.push(s) : undefined),
    overfitting: (hint) => hints.push(hint),
  });
  const best = bestCheckpointFile(out);
  assert.equal(path.basename(best), 'model.best.safetensors');
  fs.mkdirSync(path.dirname(best), { recursive: true });
  fs.writeFileSync(best, 'a previous run\'s');
  driver.begin();
  assert.equal(fs.existsSync(best), false, 'a previous run under the same name leaves no best checkpoint behind');
  for (let step = 1; step <= 12; step++) driver.advance();
  assert.deepEqual(bests.map((b) => b.step), [2, 4, 6], 'written whenever an evaluation after step 0 lowers the validation loss');
  assert.deepEqual(hints, [{ step: 12, valLoss: 5.3, bestStep: 6, bestValLoss: 4.5, evaluations: 3 }]);
  const kept = readBack(best);
  assert.equal(kept.step, 6);
  assert.equal(kept.valLoss, 4.5);
  assert.deepEqual(kept.weights, weightsAt.get(6), 'the weights of step 6, not of a later step');
  // a new lowest (step 14) replaces it and allows a new hint later
  while (!driver.done) driver.advance();
  const result = driver.finish();
  assert.deepEqual(result.best, { file: best, step: 14, valLoss: 4.4 });
  assert.equal(readBack(best).step, 14);
  assert.equal(result.step, 16);
  assert.equal(readBack(out).step, 16);
  assert.equal(hints.length, 1);
});

test('without keepBest only the last step is saved; a quick finish saves without evaluating', () => {
  const out = path.join(scratch, 'quick', 'model.safetensors');
  const session = TrainingSession.prepare(request);
  let evaluations = 0;
  const driver = new TrainingDriver(session, { out, evalEvery: 4, keepBest: false, sampleEvery: 0, frameEvery: 0 }, {
    evaluated: () => evaluations++,
  });
  driver.begin();
  for (let i = 0; i < 6; i++) driver.advance();
  const result = driver.finish({ quick: true });
  assert.equal(evaluations, 2, 'step 0 and step 4; none at the quick finish');
  assert.equal(result.stopped, true);
  assert.equal(result.best, undefined);
  assert.equal(fs.existsSync(bestCheckpointFile(out)), false);
  assert.equal(readBack(out).step, 6);
  assert.equal(result.valLoss, null, 'the last step was not evaluated');
});

test('a decimated series keeps between max/2 and max points spread over the whole run', () => {
  const series = new DecimatedSeries<{ step: number }>(8);
  const kept: number[] = [];
  for (let step = 1; step <= 1000; step++) if (series.add({ step })) kept.push(step);
  assert.equal(series.stride, 128);
  assert.deepEqual(series.items.map((p) => p.step), [128, 256, 384, 512, 640, 768, 896]);
  assert.ok(kept.includes(896) && !kept.includes(897));
  assert.throws(() => new DecimatedSeries(1), /at least 2/);
  // a session keeps its history bounded too (the checkpoint's losses)
  const session = TrainingSession.prepare({ ...request, steps: 3 });
  assert.equal(session.history.steps.max, 2048);
});
