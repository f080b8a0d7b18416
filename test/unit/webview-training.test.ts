// The training panel's bookkeeping without a browser: a run built from the host's messages as they
// arrive or are replayed (src/shared/trainingRun.ts, bounded however long the run), the sample
// split into prompt and continuation, the status and end wording, and the overfitting hint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  endText, modelLine, formatDuration, frameAt, overfittingText, rolesText, splitSample, stateText, uniformLoss,
} from '../../webview/training/run';
import { MAX_FRAMES, MAX_SAMPLES, apply, replayMessages, type RunState } from '../../src/shared/trainingRun';
import { parseTrainingHostMessage, type TrainInfo, type TrainingHostMessage } from '../../src/shared/trainingProtocol';
import { assertClose } from './assertClose';

const info = {
  config: { vocabSize: 972, contextLength: 32, dim: 32, heads: 2, layers: 1, qkvBias: false, layerNormEps: 1e-5 },
  tokenizer: 'word', corpusChars: 15000, corpusTokens: 3200, trainTokens: 2880, validationTokens: 320, parameters: 90000,
  samplePrompt: 'The lighthouse keeps', probe: ['The', 'sea', 'reads'],
} satisfies TrainInfo;

const runId = 3;
const start: TrainingHostMessage = { type: 'start', runId, name: 'poems-tiny', corpus: 'the bundled poems', preset: 'Tiny' };
const ev = (event: Extract<TrainingHostMessage, { type: 'event' }>['event'], id = runId): TrainingHostMessage => ({ type: 'event', runId: id, event });
const step = (n: number, loss: number, stride = 1) => ev({
  kind: 'steps', step: n, steps: 150, loss, lr: 5e-3, tokensPerSecond: 4000, elapsedMs: n * 100, etaMs: (150 - n) * 100, points: n % stride === 0 ? [[n, loss]] : [], stride,
});
const evaluation = (n: number, trainLoss: number, valLoss: number | null, stride = 1) => ev({ kind: 'eval', step: n, trainLoss, valLoss, stride });
const frame = (n: number) => ev({ kind: 'frame', step: n, heads: [[{ rows: 3, cols: 3, scale: { kind: 'sequential', min: 0, max: 1 }, lower: true, codes: new Uint8Array(6) }]], roles: [[{ previousToken: 0.5, induction: null }]] });

function replay(messages: TrainingHostMessage[]): RunState | undefined {
  let run: RunState | undefined;
  for (const m of messages) run = apply(run, m).run;
  return run;
}

test('a run is built from its messages in order: losses per step, evaluations, samples, frames, the last save', () => {
  const run = replay([
    start,
    ev({ kind: 'prepared', info, steps: 150, out: '/w/.llm101/models/poems-tiny.safetensors' }),
    evaluation(0, 6.9, 6.95),
    ev({ kind: 'sample', step: 0, text: 'The lighthouse keeps tide tide' }),
    frame(0),
    step(1, 6.88), step(2, 6.5), step(3, 6.1),
    ev({ kind: 'saved', step: 3, file: '/w/.llm101/models/poems-tiny.safetensors', best: false, valLoss: null }),
    frame(3),
  ])!;
  assert.equal(run.name, 'poems-tiny');
  assert.equal(run.steps, 150);
  assert.deepEqual(run.lossSteps, [1, 2, 3]);
  assert.deepEqual(run.losses, [6.88, 6.5, 6.1]);
  assert.equal(run.evals.length, 1);
  assert.equal(run.samples.length, 1);
  assert.deepEqual(run.frames.map((f) => f.step), [0, 3]);
  assert.equal(run.saved?.step, 3);
  assert.equal(run.last?.step, 3);
  assert.equal(stateText(run), 'running');
});

test('a new start forgets the previous run, and late messages of an old run are ignored', () => {
  let run = replay([start, step(1, 6.9)]);
  const restarted = apply(run, { ...start, runId: runId + 1 });
  assert.equal(restarted.change, 'start');
  run = restarted.run;
  assert.equal(run?.losses.length, 0);
  const late = apply(run, step(2, 6.0));
  assert.equal(late.change, 'none');
  assert.equal(run?.losses.length, 0);
  assert.equal(apply(undefined, step(1, 6.9)).change, 'none', 'an event before any start is dropped');
});

test('an evaluation or frame repeated at one step (the final one after Stop) replaces the first', () => {
  const run = replay([start, evaluation(40, 4, 4.5), evaluation(40, 3.9, 4.4), frame(40), frame(40)])!;
  assert.deepEqual(run.evals, [{ step: 40, trainLoss: 3.9, valLoss: 4.4 }]);
  assert.equal(run.frames.length, 1);
});

test('pause, resume and the end change the state the status shows', () => {
  const run = replay([start])!;
  assert.match(stateText(run), /preparing/);
  apply(run, ev({ kind: 'prepared', info, steps: 150, out: '/m.safetensors' }));
  assert.match(stateText(run), /starting/);
  apply(run, step(1, 6.9));
  apply(run, ev({ kind: 'paused', paused: true, step: 1, askedAt: 0 }));
  assert.equal(stateText(run), 'paused');
  apply(run, ev({ kind: 'paused', paused: false, step: 1 }));
  assert.equal(stateText(run), 'running');
  apply(run, { type: 'end', runId, end: { state: 'stopped', step: 57, file: '/m.safetensors', trainLoss: 4.1, valLoss: 4.6, elapsedMs: 6500 } });
  assert.equal(stateText(run), 'stopped');
});

test('messages replayed through the protocol validator rebuild the same run', () => {
  const messages = [start, ev({ kind: 'prepared', info, steps: 150, out: '/m.safetensors' }), step(1, 6.9), frame(0), { type: 'end', runId, end: { state: 'done', step: 150, file: '/m.safetensors', trainLoss: 3, valLoss: 3.5, elapsedMs: 9000 } } as TrainingHostMessage];
  const parsed = messages.map((m) => parseTrainingHostMessage(m));
  assert.ok(parsed.every(Boolean), 'every message the panel draws passes the validator');
  assert.deepEqual(replay(parsed as TrainingHostMessage[]), replay(messages));
});

test('a sample is split into the given prompt and what the model wrote', () => {
  assert.deepEqual(splitSample('The lighthouse keeps tide of night', 'The lighthouse keeps'), { prompt: 'The lighthouse keeps', continuation: ' tide of night' });
  // The word tokenizer rejoins punctuation without the space the prompt had.
  assert.deepEqual(splitSample('Each night , the sea', 'Each night, the'), { prompt: 'Each night , the', continuation: ' sea' });
  assert.deepEqual(splitSample('something else entirely', 'The lighthouse'), { prompt: '', continuation: 'something else entirely' });
  assert.deepEqual(splitSample('no prompt', ''), { prompt: '', continuation: 'no prompt' });
});

test('durations read as m:ss and h:mm:ss; unknown ones as a dash', () => {
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(65_400), '1:05');
  assert.equal(formatDuration(3_723_000), '1:02:03');
  assert.equal(formatDuration(Number.NaN), '–');
  assert.equal(formatDuration(-1), '–');
});

test('the end message says what happened and names the checkpoint that is kept', () => {
  const stopped = endText({ state: 'stopped', step: 57, file: '/w/m.safetensors', trainLoss: 4.1234, valLoss: 4.6, elapsedMs: 6500 }, 150);
  assert.match(stopped, /^Stopped at step 57 of 150/);
  assert.match(stopped, /the checkpoint at step 57, the last completed step, is saved: \/w\/m\.safetensors/);
  assert.match(stopped, /train loss 4\.123, validation loss 4\.600/);
  assert.match(endText({ state: 'done', step: 150, file: '/w/m.safetensors', trainLoss: 3, valLoss: null, elapsedMs: 61_000 }, 150), /^Done: 150 steps in 1:01; train loss 3\.000, validation loss –\. The checkpoint is saved: \/w\/m\.safetensors$/);
  const failed = endText({ state: 'error', step: 0, trainLoss: null, valLoss: null, elapsedMs: 0, message: 'the corpus has 12 tokens' }, 150);
  assert.match(failed, /^Training failed at step 0: the corpus has 12 tokens\. No checkpoint was saved\.$/);
});

test('the overfitting hint names the lowest validation loss and what Stop keeps', () => {
  const hint = { kind: 'overfitting' as const, step: 400, valLoss: 5.2, bestStep: 250, bestValLoss: 4.31, evaluations: 3 };
  const run = replay([start, ev(hint)])!;
  assert.deepEqual(run.overfitting, hint);
  assert.match(overfittingText(hint, true), /stayed above its lowest \(4\.310 at step 250\) for 3 evaluations and is 5\.200 at step 400/);
  assert.match(overfittingText(hint, true), /the checkpoint of step 250 is kept/);
  assert.match(overfittingText(hint, false), /keeps only its last step/);
  assert.match(overfittingText(hint, true, true), /Early stopping would have stopped there; the checkpoint of step 250, the best one, is kept\.$/);
});

test('a long run stays bounded: the curve thins out as the engine says, the first and newest samples and spread frames stay', () => {
  const messages: TrainingHostMessage[] = [start, ev({ kind: 'prepared', info, steps: 100_000, out: '/m.safetensors', best: '/m.best.safetensors' })];
  // the engine doubles the curve's stride past its bound: the receiver drops the points it held that are off the new stride
  for (let n = 1; n <= 40; n++) messages.push(step(n, 10 - n / 10));
  for (let n = 41; n <= 80; n++) messages.push(step(n, 10 - n / 10, 4));
  for (let n = 0; n <= 200; n++) messages.push(ev({ kind: 'sample', step: n * 10, text: `sample ${n}` }), frame(n * 10));
  messages.push(evaluation(40, 6, 6.1), evaluation(80, 5, 5.5, 2), evaluation(82, 4.9, 5.6, 2));
  messages.push(ev({ kind: 'saved', step: 80, file: '/m.best.safetensors', best: true, valLoss: 5.5 }), ev({ kind: 'saved', step: 82, file: '/m.safetensors', best: false, valLoss: 5.6 }));
  const run = replay(messages)!;
  assert.equal(run.lossStride, 4);
  assert.ok(run.lossSteps.every((s) => s % 4 === 0));
  assert.deepEqual(run.lossSteps.slice(0, 3), [4, 8, 12]);
  assert.equal(run.lossSteps.at(-1), 80);
  assert.equal(run.losses.length, run.lossSteps.length);
  assert.deepEqual(run.evals.map((e) => e.step), [40, 80, 82]);
  assert.equal(run.samples.length, MAX_SAMPLES);
  assert.equal(run.samples[0]!.step, 0, 'the untrained model\'s sample stays');
  assert.equal(run.samples.at(-1)!.step, 2000);
  assert.ok(run.frames.length <= MAX_FRAMES);
  assert.equal(run.frames[0]!.step, 0);
  assert.equal(run.frames.at(-1)!.step, 2000);
  assert.deepEqual(run.best, { step: 80, file: '/m.best.safetensors', valLoss: 5.5 });
  assert.equal(run.saved?.step, 82);
  // a panel that reloads gets a few messages, not one per step, and draws the same run
  const again = replayMessages(run);
  assert.ok(again.length < 2 + MAX_SAMPLES + MAX_FRAMES + 10, `${again.length} messages`);
  assert.ok(again.every((m) => parseTrainingHostMessage(m)), 'every replayed message passes the validator');
  assert.deepEqual(replay(again), run);
});

test('the uniform-guess loss is ln(vocabulary); the slider index is clamped to the frames', () => {
  assertClose(uniformLoss(972), 6.879355804460439, { atol: 1e-12 });
  assert.equal(frameAt([10, 20, 30], 5), 30);
  assert.equal(frameAt([10, 20, 30], -1), 10);
  assert.equal(frameAt([], 0), undefined);
});

test('the model line counts layers and heads in words that agree with the number', () => {
  assert.match(modelLine(info), /^1 layer · dim 32 · 2 heads · context 32 · vocabulary 972 \(word\) · 90,000 parameters$/);
  const big = { ...info, config: { ...info.config, layers: 2, heads: 1 } } as TrainInfo;
  assert.match(modelLine(big), /^2 layers · dim 32 · 1 head · /);
});

test('the timelapse names the head\'s role from the same scores and threshold as the playground\'s badges', () => {
  const formed = rolesText({ previousToken: 0.04, induction: 0.92 }, 12, 900);
  assert.match(formed, /previous-token 0\.04 \(its mean weight on the word just before\); induction 0\.92 \(in the probe's second copy, .*11 back\)/);
  assert.match(formed, /At step 900 this is an induction head\.$/);
  assert.match(rolesText({ previousToken: 0.97, induction: null }, 1.5, 300), /^Scores on the probe: previous-token 0\.97 [^;]*\. At step 300 this is a previous-token head\.$/);
  assert.match(rolesText({ previousToken: 0.1, induction: 0.05 }, 12, 0), /At step 0 no score reaches 0\.3, where the playground names a role\.$/);
});
