// What the engine process sends the panel's experiment sections (src/worker/experimentsView.ts),
// on the experiments' fixture model loaded through the pipeline as the panel loads it: the same
// numbers as torch's, with token texts; the lens's last row is the next-token section's; each
// head's strongest role; ablation, scan and patching with progress and Cancel; the errors a learner
// can fix name the fix.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { CancelledError, DEFAULT_CONFIG, EngineError } from '../../src/engine/config';
import { Analyzer, type AnalyzeRequest } from '../../src/engine/pipeline';
import * as v from 'valibot';
import { ExperimentQuerySchema, ExperimentResultSchema, type ExperimentQuery } from '../../src/shared/experimentsProtocol';
import { ablationView, attributionView, checkCacheSize, headRolesView, lensView, LENS_POSITIONS, MAX_CACHED_LOGITS, patchingView, runExperiment, scanView } from '../../src/worker/experimentsView';
import { modelRun, nextTokenView } from '../../src/worker/modelView';
import { assertClose } from './assertClose';
import { EXPERIMENT_FIXTURES, type ExperimentCase } from './experiments-fixtures';
import { readJson } from './gpt-fixtures';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-experiments-view-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));
const fixture = readJson<ExperimentCase>(path.join(EXPERIMENT_FIXTURES, 'case.json'));
const analyzer = new Analyzer(scratch);
const request = (text: string): AnalyzeRequest => ({
  ...DEFAULT_CONFIG, text, weightsPath: path.join(EXPERIMENT_FIXTURES, 'model'), tokenizer: 'bpe', bpeVocabSize: 256, tokenizerExplicit: true,
  corpusPath: path.join(__dirname, '..', '..', 'media', 'corpus'),
});
const run = modelRun(analyzer.analyzeModel(request(fixture.text)));
const T = fixture.ids.length;

test('the lens view: the last positions of the text, token texts, the readings named; its last row is the next-token section', () => {
  assert.deepEqual(run.ids, fixture.ids);
  const lens = lensView(run);
  const from = T - LENS_POSITIONS;
  assert.deepEqual(lens.positions, Array.from({ length: LENS_POSITIONS }, (_, i) => from + i));
  assert.deepEqual(lens.tokens, lens.positions.map((t) => String.fromCharCode(fixture.ids[t]!)));
  assert.deepEqual(lens.readings, ['embeddings', 'after block 1', 'after block 2', 'after block 3']);
  assertClose(lens.top.map((row) => row.map((cell) => cell.map((c) => c.p))), fixture.lens.top.map((row) => row.slice(from).map((cell) => cell.map((c) => c.p))), { atol: 1e-4, label: 'lens' });
  const next = nextTokenView(run, T - 1, 1, null, 5);
  assert.deepEqual(lens.top.at(-1)!.at(-1)!.map((c) => c.id), next.tokens.map((t) => t.id));
  assertClose(lens.top.at(-1)!.at(-1)!.map((c) => c.p), next.tokens.map((t) => t.probability), { atol: 1e-6, label: 'last row against the next-token bars' });
});

test('head roles: the scores, and each head badged with its strongest role above the threshold', () => {
  const roles = headRolesView(run);
  assertClose(roles.scores.map((row) => row.map((s) => [s.previousToken!, s.firstToken!, s.selfToken])), fixture.headScores.map((row) => row.map((s) => [s.previousToken!, s.firstToken!, s.selfToken])), { atol: 1e-4, label: 'scores on the text' });
  roles.strongest.forEach((row, l) => row.forEach((role, h) => {
    const score = roles.scores[l]![h]!;
    const values = [score.previousToken ?? 0, score.firstToken ?? 0, score.selfToken, score.induction];
    if (role === null) assert.ok(Math.max(...values) < roles.threshold);
    else assert.equal(score[role], Math.max(...values));
  }));
});

test('ablation view: before and after bars with texts; the scan reports progress and stops when cancelled', () => {
  const expected = fixture.ablations[0]!;
  const view = ablationView(run, expected.heads.map(([layer, head]) => ({ layer, head })), expected.mode, expected.position);
  assert.deepEqual(view.after.map((b) => b.id), expected.after.map((b) => b.id));
  assert.equal(view.after[0]!.text, Buffer.from([expected.after[0]!.id]).toString('utf8'));
  assertClose([view.kl, view.lossBefore!, view.lossAfter!], [expected.kl, expected.lossBefore, expected.lossAfter], { atol: 1e-4, label: 'kl, losses' });
  const signal = { aborted: false };
  const seen: number[] = [];
  assert.throws(() => scanView(run, 'zero', signal, (done) => {
    seen.push(done);
    if (done === 5) signal.aborted = true;
  }), CancelledError);
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  assertClose(scanView(run, 'zero', { aborted: false }, () => {}), fixture.scan.zero, { atol: 1e-4, label: 'scan' });
});

test('attribution view: the predicted token by default, its text, and the parts summing to the logit', () => {
  const expected = fixture.attributions[0]!;
  const view = attributionView(run, T - 1);
  assert.equal(view.id, expected.id);
  assertClose([view.logit, view.sum], [expected.logit, expected.logit], { atol: 1e-4, label: 'logit and the sum of the parts' });
  assert.equal(attributionView(run, 3, 's'.charCodeAt(0)).text, 's');
});

test('patching view: the grid, the tokens of both texts, and the fix for an answer of two tokens', () => {
  const { cleanText, corruptText, answer, wrong, grid } = fixture.patching;
  const cleanRun = modelRun(analyzer.analyzeModel(request(cleanText)));
  const progress: number[] = [];
  const view = patchingView(cleanRun, corruptText, answer, wrong, { aborted: false }, (done, total) => progress.push(done / total));
  assertClose(view.grid, grid, { atol: 1e-4, label: 'grid' });
  assert.deepEqual([view.tokens.length, view.corruptTokens.length, view.answer.text, view.wrong.text], [cleanText.length, corruptText.length, answer, wrong]);
  assert.equal(progress.at(-1), 1);
  assert.throws(() => patchingView(cleanRun, corruptText, 'zz', wrong, { aborted: false }, () => {}), (err: Error) => err instanceof EngineError && err.message === 'the answer "zz" is 2 tokens ("z", "z") for the bpe tokenizer; give one token, e.g. "z"');
  assert.throws(() => patchingView(cleanRun, corruptText, answer, wrong, { aborted: true }, () => {}), CancelledError);
});

test('every query kind answers what the contract\'s schema accepts; a malformed query is refused', () => {
  const queries: ExperimentQuery[] = [
    { kind: 'lens' },
    { kind: 'headRoles' },
    { kind: 'ablate', heads: [{ layer: 0, head: 1 }], mode: 'mean', position: 3 },
    { kind: 'scan', mode: 'zero' },
    { kind: 'attribute', position: 2, token: 'e' },
    { kind: 'patch', corrupt: fixture.text.replace('sea', 'sky'), answer: 'e', wrong: 'a' },
  ];
  for (const query of queries) {
    assert.ok(v.safeParse(ExperimentQuerySchema, query).success);
    const result = runExperiment(run, query, { aborted: false }, () => {});
    const parsed = v.safeParse(ExperimentResultSchema, result);
    assert.ok(parsed.success, `${query.kind}: ${parsed.issues?.[0]?.message ?? ''}`);
    assert.equal(result.kind, query.kind);
  }
  assert.equal(v.safeParse(ExperimentQuerySchema, { kind: 'ablate', heads: [], mode: 'zero', position: 0 }).success, false);
  assert.equal(v.safeParse(ExperimentQuerySchema, { kind: 'ablate', heads: [{ layer: -1, head: 0 }], mode: 'zero', position: 0 }).success, false);
  assert.equal(v.safeParse(ExperimentQuerySchema, { kind: 'scan', mode: 'half' }).success, false);
});

test('a text too long for the cache of every position\'s logits is refused with the longest that fits', () => {
  assert.doesNotThrow(() => checkCacheSize(1335, 50257));
  assert.throws(() => checkCacheSize(2048, 50257), (err: Error) => err instanceof EngineError &&
    err.message === 'ablation and attribution keep the logits of every position: 2,048 tokens × 50,257 would take 393 MB; select at most 1,335 tokens');
  assert.equal(MAX_CACHED_LOGITS, 64 * 2 ** 20);
});
