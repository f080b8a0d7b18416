// `llm101 inspect` in-process through runCli on the experiments' fixture model (a Hugging Face
// GPT-2 folder with a byte vocabulary, read by the bpe tokenizer at 256 entries): the JSON holds
// torch's numbers within 1e-4, and every bad input exits 2 with one line.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../src/cli';
import { assertClose } from './assertClose';
import { readJson } from './gpt-fixtures';
import { EXPERIMENT_FIXTURES, type ExperimentCase } from './experiments-fixtures';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-inspect-'));
process.env.LLM101_BPE_CACHE = scratch;
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

const fixture = readJson<ExperimentCase>(path.join(EXPERIMENT_FIXTURES, 'case.json'));
const MODEL = ['--weights', path.join(EXPERIMENT_FIXTURES, 'model'), '--tokenizer', 'bpe', '--vocab-size', '256'];
const ATOL = 1e-4;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['inspect', ...MODEL, ...args], { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { code, stdout, stderr };
}

async function inspectJson(args: string[]): Promise<Record<string, unknown>> {
  const { code, stdout, stderr } = await run([...args, '--json']);
  assert.equal(stderr, '');
  assert.equal(code, 0);
  return JSON.parse(stdout) as Record<string, unknown>;
}

interface Top {
  id: number;
  text?: string;
  p: number;
}

test('inspect --lens --head-scores: torch\'s lens (with token texts) and head scores', async () => {
  const json = await inspectJson(['--text', fixture.text, '--lens', '--head-scores', '--probe-length', String(fixture.probe.length), '--seed', String(fixture.probe.seed)]);
  const lens = json.lens as Top[][][];
  assert.deepEqual(lens.map((row) => row.map((cell) => cell.map((c) => c.id))), fixture.lens.top.map((row) => row.map((cell) => cell.map((c) => c.id))));
  assertClose(lens.map((row) => row.map((cell) => cell.map((c) => c.p))), fixture.lens.top.map((row) => row.map((cell) => cell.map((c) => c.p))), { atol: ATOL, label: 'lens' });
  // one byte a token: ASCII as itself, a lone byte of a longer UTF-8 character as U+FFFD
  for (const cell of lens.flat(2)) assert.equal(cell.text, cell.id < 128 ? String.fromCharCode(cell.id) : '\uFFFD');
  const scores = json.headScores as Record<string, number>[][];
  for (const role of ['previousToken', 'firstToken', 'selfToken', 'induction']) {
    assertClose(scores.map((row) => row.map((s) => s[role]!)), fixture.headScores.map((row) => row.map((s) => s[role as 'induction'])), { atol: ATOL, label: role });
  }
  // the same probe given as ids
  const byIds = await inspectJson(['--text', fixture.text, '--head-scores', '--probe-ids', fixture.probe.ids.slice(0, fixture.probe.length).join(',')]);
  assert.deepEqual(byIds.headScores, json.headScores);
});

test('inspect --ablate (1-based heads, zero and mean) and --attribute at a position', async () => {
  for (const expected of fixture.ablations) {
    const heads = expected.heads.map(([l, h]) => `${l + 1}.${h + 1}`).join(',');
    const json = await inspectJson(['--text', fixture.text, '--ablate', heads, '--ablation', expected.mode, '--position', String(expected.position)]);
    const ablation = json.ablation as { position: number; before: Top[]; after: Top[]; kl: number; lossBefore: number; lossAfter: number };
    assert.equal(ablation.position, expected.position);
    assert.deepEqual(ablation.after.map((b) => b.id), expected.after.map((b) => b.id));
    assertClose([...ablation.before.map((b) => b.p), ...ablation.after.map((b) => b.p)], [...expected.before.map((b) => b.p), ...expected.after.map((b) => b.p)], { atol: ATOL, label: 'bars' });
    assertClose([ablation.kl, ablation.lossBefore, ablation.lossAfter], [expected.kl, expected.lossBefore, expected.lossAfter], { atol: ATOL, label: 'kl, losses' });
  }
  const expected = fixture.attributions[1]!;
  const json = await inspectJson(['--text', fixture.text, '--attribute', String.fromCharCode(expected.id), '--position', String(expected.position)]);
  const parts = json.attribution as typeof expected;
  assert.deepEqual([parts.position, parts.id], [expected.position, expected.id]);
  assertClose([parts.logit, parts.embed, parts.finalNormBias, ...parts.heads.flat(), ...parts.attnBias, ...parts.mlps],
    [expected.logit, expected.embed, expected.finalNormBias, ...expected.heads.flat(), ...expected.attnBias, ...expected.mlps], { atol: ATOL, label: 'attribution' });
  const byId = await inspectJson(['--text', fixture.text, '--attribute-id', String(expected.id), '--position', String(expected.position)]);
  assert.deepEqual(byId.attribution, json.attribution);
});

test('inspect --corrupt --answer --wrong: the patching grid', async () => {
  const { cleanText, corruptText, answer, wrong } = fixture.patching;
  const json = await inspectJson(['--text', cleanText, '--corrupt', corruptText, '--answer', answer, '--wrong', wrong]);
  const patching = json.patching as { clean: number; corrupt: number; grid: number[][] };
  assertClose([patching.clean, patching.corrupt], [fixture.patching.clean, fixture.patching.corrupt], { atol: ATOL, label: 'm' });
  assertClose(patching.grid, fixture.patching.grid, { atol: ATOL, label: 'grid' });
});

test('inspect: bad input exits 2 with one line that says what to do', async () => {
  const cases: [string[], RegExp][] = [
    [['--text', 'the sea', '--ablate', '4.1'], /layer 4 does not exist: the model has layers 1 to 3/],
    [['--text', 'the sea', '--ablate', '1.5'], /head 5 does not exist: each layer has heads 1 to 4/],
    [['--text', 'the sea', '--ablate', '0.1'], /--ablate takes layer\.head pairs counted from 1, e\.g\. --ablate 1\.3,2\.1; got "0\.1"/],
    [['--text', 'the sea', '--ablate', '1.1', '--ablation', 'half'], /--ablation takes zero or mean, got "half"/],
    [['--text', 'the sea', '--corrupt', 'the seas', '--answer', 'a', '--wrong', 'b'], /the clean text has 7 tokens and the corrupted one 8; patching needs the same count/],
    [['--text', 'the sea', '--corrupt', 'the sky', '--answer', 'ab', '--wrong', 'b'], /--answer "ab" is 2 tokens \("a", "b"\) for the bpe tokenizer; give one token, e\.g\. "a"/],
    [['--text', 'the sea', '--corrupt', 'the sky', '--answer', 'a'], /needs all three of --corrupt TEXT, --answer TOKEN and --wrong TOKEN/],
    [['--text', 'the sea'], /choose what to inspect: --lens, --head-scores/],
    [['--text', 'the sea', '--lens', '--position', '7'], /position 7 is outside the text's 7 tokens; give 0 to 6/],
    [['--text', 'the sea', '--head-scores', '--probe-length', '40'], /probe's 80 tokens are more than the model's context length of 64; use a probe length of at most 32/],
    [['--text', 'the sea', '--probe-length', '4'], /add --head-scores/],
  ];
  for (const [args, pattern] of cases) {
    const { code, stdout, stderr } = await run(args);
    assert.equal(code, 2, `${args.join(' ')} → exit ${code}: ${stderr}`);
    assert.equal(stdout, '');
    assert.match(stderr, /^llm101: [^\n]+\n$/);
    assert.match(stderr, pattern);
  }
});

test('inspect without --json: a summary a person reads, the same numbers rounded', async () => {
  const { cleanText, corruptText, answer, wrong } = fixture.patching;
  const { code, stdout, stderr } = await run(['--text', cleanText, '--lens', '--head-scores', '--ablate', '2.3', '--attribute', answer, '--corrupt', corruptText, '--answer', answer, '--wrong', wrong]);
  assert.equal(stderr, '');
  assert.equal(code, 0);
  const json = (await inspectJson(['--text', cleanText, '--attribute', answer, '--corrupt', corruptText, '--answer', answer, '--wrong', wrong])) as { attribution: { logit: number }; patching: { clean: number } };
  assert.match(stdout, /^10 tokens; position 9 "m" is the one the lens, ablation and attribution look at \(--position\)\n/);
  assert.match(stdout, /\n {2}after block 3 \(output\) +"/);
  assert.match(stdout, /\n {2}head +previous +first +self +induction\n {2}1\.1 /);
  assert.match(stdout, /\nAblation \(zero\) of head 2\.3: KL\(before ‖ after\) at position 9 "m" \d\.\d{4}; the text's loss \d\.\d{3} → \d\.\d{3}\n/);
  assert.ok(stdout.includes(`Direct logit attribution of "z" at position 9 "m": logit ${json.attribution.logit.toFixed(3)}, the 20 parts sum to ${json.attribution.logit.toFixed(3)}`));
  assert.ok(stdout.includes(`is ${json.patching.clean.toFixed(3)} on the clean text`));
});
