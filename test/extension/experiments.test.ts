// Runs inside a real VS Code extension host: the panel's experiments asked as its webview asks
// them (the same messages, through the same check), on the model the panel shows. The logit
// lens's last row is the next-token section's top token; knocking a head out changes the bars;
// bad input (an answer of two tokens, a corrupted text of another length, a head that does not
// exist) gets the engine's message with its fix and the panel keeps working; Cancel stops a scan.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { createSeededGpt } from '../../src/engine/gpt/init';
import { writeGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import type { ExperimentQuery, ExperimentResult } from '../../src/shared/experimentsProtocol';
import type { PlaygroundPanel } from '../../src/panels/PlaygroundPanel';
import { EXT_ID, analyzeInEditor, api, setting } from './host';

let request = 1000;

/** Sends the webview's 'experiment' message and returns the panel's answer to it. */
async function ask(p: PlaygroundPanel, query: ExperimentQuery): Promise<{ result?: ExperimentResult; error?: string; cancelled?: boolean }> {
  const id = request++;
  await p.receive({ type: 'experiment', runId: p.currentRunId, request: id, query });
  const answer = p.experiments.answers.get(id);
  assert.ok(answer, `an answer to ${query.kind}`);
  return answer.type === 'experimentResult' ? { result: answer.result } : { error: answer.message, cancelled: answer.cancelled };
}

/** Analyzes `text` in the panel and returns the panel and its trace's id. */
async function analyzed(text: string): Promise<{ p: PlaygroundPanel; traceId: number; T: number }> {
  const { p } = await analyzeInEditor(text);
  const result = await p.analyze(p.currentSource);
  assert.ok(result?.kind === 'trace' && result.model && 'config' in result.model, `a trace with a model (${p.lastError ?? ''})`);
  return { p, traceId: result.traceId, T: result.tokens.length };
}

suite('Experiments in the panel', () => {
  const stanza = 'Each night the keeper climbs the iron stair\nand trims the wick, and winds the turning lens,';

  // the suites after this one find the model they started with
  let before: unknown;
  suiteSetup(async () => {
    before = vscode.workspace.getConfiguration('llm101').inspect('weightsPath')?.globalValue;
    await setting('weightsPath', 'poems');
  });
  suiteTeardown(() => setting('weightsPath', before));

  test('the lens grid\'s last row is the next-token section\'s top token at every position', async () => {
    const { p, traceId, T } = await analyzed(stanza);
    const { result } = await ask(p, { kind: 'lens' });
    assert.ok(result?.kind === 'lens');
    const lens = result.view;
    assert.equal(lens.top.length, 3, 'embeddings + 2 blocks of the poems model');
    assert.deepEqual(lens.positions, Array.from({ length: T }, (_, t) => t));
    const { engine } = await api();
    for (const t of lens.positions) {
      const next = await engine.nextToken(traceId, t, { temperature: 1, topK: null });
      const cell = lens.top.at(-1)![t]![0]!;
      assert.equal(cell.id, next.tokens[0]!.id, `position ${t}: the lens's output row and the next-token bars agree`);
      assert.ok(Math.abs(cell.p - next.tokens[0]!.probability) < 1e-5, `position ${t}: p ${cell.p} vs ${next.tokens[0]!.probability}`);
      assert.ok(Math.abs((lens.final.at(-1)![t] ?? 0) - cell.p) < 1e-6, 'the line chart ends at the prediction\'s own probability');
    }
  });

  test('knocking a head out changes the next-token bars; the loss and KL come with it', async () => {
    const { p, traceId, T } = await analyzed(stanza);
    const { result } = await ask(p, { kind: 'ablate', heads: [{ layer: 0, head: 1 }], mode: 'zero', position: T - 1 });
    assert.ok(result?.kind === 'ablate');
    const view = result.view;
    const next = await (await api()).engine.nextToken(traceId, T - 1, { temperature: 1, topK: 10 });
    assert.deepEqual(view.before.map((b) => b.id), next.tokens.map((t) => t.id), 'before: the next-token section\'s bars');
    const moved = view.before.some((b, i) => b.id !== view.after[i]?.id || Math.abs(b.p - (view.after[i]?.p ?? 0)) > 1e-4);
    assert.ok(moved, 'the bars after differ from those before');
    assert.ok(view.kl > 0, `KL ${view.kl}`);
    assert.ok(view.lossBefore !== null && view.lossAfter !== null && view.lossAfter !== view.lossBefore);
  });

  test('bad input gets the engine\'s message with its fix, and the panel keeps working', async () => {
    const { p, T } = await analyzed(stanza);
    const twoTokens = await ask(p, { kind: 'patch', corrupt: stanza.replace('keeper', 'sailor'), answer: 'iron stair', wrong: 'lens' });
    assert.match(twoTokens.error ?? '', /the answer "iron stair" is 2 tokens .*give one token/);
    const shorter = await ask(p, { kind: 'patch', corrupt: 'Each night the sailor', answer: 'the', wrong: 'lens' });
    assert.match(shorter.error ?? '', new RegExp(`the clean text has ${T} tokens and the corrupted one 4; patching needs the same count`));
    const noHead = await ask(p, { kind: 'ablate', heads: [{ layer: 0, head: 9 }], mode: 'zero', position: T - 1 });
    assert.match(noHead.error ?? '', /head 10 does not exist: each layer has heads 1 to 4/);
    const notOne = await ask(p, { kind: 'attribute', position: T - 1, token: 'turning lens' });
    assert.match(notOne.error ?? '', /is 2 tokens/);
    assert.equal(p.lastError, undefined, 'the panel shows no error of its own');
    const { result } = await ask(p, { kind: 'attribute', position: T - 1 });
    assert.ok(result?.kind === 'attribute', 'the next experiment runs');
    assert.ok(Math.abs(result.view.sum - result.view.logit) < 1e-3, `parts ${result.view.sum} sum to the logit ${result.view.logit}`);
    const patched = await ask(p, { kind: 'patch', corrupt: stanza.replace('keeper', 'sailor'), answer: result.view.text, wrong: 'sea' });
    assert.ok(patched.result?.kind === 'patch', patched.error);
    assert.equal(patched.result.view.grid.length, 2);
    assert.equal(patched.result.view.grid[0]!.length, T);
  });

  suite('a bigger model', () => {
    const file = path.join(os.tmpdir(), `llm101-experiments-${process.pid}.safetensors`);
    suiteSetup(async () => {
      const ext = vscode.extensions.getExtension(EXT_ID);
      assert.ok(ext);
      const corpusPath = path.join(ext.extensionPath, 'media', 'corpus');
      const { vocabSize } = await (await api()).engine.tokenize({ text: 'x', tokenizer: 'word', corpusPath, bpeVocabSize: 512 });
      // 8 × 8 heads of dim 256: a scan of 64 runs long enough to be cancelled part way
      writeGptCheckpoint(file, createSeededGpt({ vocabSize, contextLength: 256, dim: 256, heads: 8, layers: 8, qkvBias: false, layerNormEps: 1e-5 }, 5));
      await setting('weightsPath', file);
    });
    suiteTeardown(async () => {
      await setting('weightsPath', 'poems');
      fs.rmSync(file, { force: true });
    });

    test('Cancel stops a scan of every head part way, and the next experiment runs', async () => {
      const poem = fs.readFileSync(path.join(vscode.extensions.getExtension(EXT_ID)!.extensionPath, 'media', 'corpus', '01-lighthouse-sonnet.txt'), 'utf8');
      const { p } = await analyzed(poem);
      const id = request++;
      const scan = p.receive({ type: 'experiment', runId: p.currentRunId, request: id, query: { kind: 'scan', mode: 'zero' } });
      // what the webview does: the first progress report shows, then the learner presses Cancel
      const end = Date.now() + 60_000;
      while (p.experiments.lastProgress?.request !== id && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      await p.receive({ type: 'cancelExperiment' });
      await scan;
      const progress = p.experiments.lastProgress;
      const answer = p.experiments.answers.get(id);
      assert.ok(answer?.type === 'experimentError' && answer.cancelled, `cancelled (${JSON.stringify(answer?.type)})`);
      assert.ok(progress?.request === id && progress.done < progress.total && progress.total === 64, `stopped part way: ${JSON.stringify(progress)}`);
      const { result } = await ask(p, { kind: 'headRoles' });
      assert.ok(result?.kind === 'headRoles');
      assert.equal(result.view.scores.length, 8);
    });
  });
});
