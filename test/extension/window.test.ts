// Runs inside a real VS Code extension host: a text longer than the model's context is analyzed
// through its window (the editor's characters of each window position), the window moves,
// Continue Text past the context shows the slid window, and Compare with… puts two models side
// by side.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { createSeededGpt } from '../../src/engine/gpt/init';
import { writeGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { EXT_ID, analyzeInEditor, api, setting, until } from './host';

suite('The context window and Compare with…', () => {
  const file = path.join(os.tmpdir(), `llm101-window-${process.pid}.safetensors`);
  let poem = '';

  suiteSetup(async () => {
    const { engine } = await api();
    const ext = vscode.extensions.getExtension(EXT_ID);
    assert.ok(ext);
    const corpusPath = path.join(ext.extensionPath, 'media', 'corpus');
    poem = fs.readFileSync(path.join(corpusPath, '01-lighthouse-sonnet.txt'), 'utf8');
    const { vocabSize } = await engine.tokenize({ text: 'x', tokenizer: 'word', corpusPath, bpeVocabSize: 512 });
    // a book-layout model of 64 positions for the bundled poems' word vocabulary
    writeGptCheckpoint(file, createSeededGpt({ vocabSize, contextLength: 64, dim: 16, heads: 4, layers: 2, qkvBias: false, layerNormEps: 1e-5 }, 3));
    await setting('weightsPath', file);
  });
  suiteTeardown(async () => {
    (await api()).comparePanel()?.dispose();
    await setting('weightsPath', 'seeded');
    fs.rmSync(file, { force: true });
  });

  test('a sonnet longer than the context: the last 64 tokens, each mapped to its characters in the editor; the window moves', async () => {
    const { p, editor } = await analyzeInEditor(poem);
    const doc = editor.document;
    const result = await until('a trace of the window', () => (p.lastResult?.kind === 'trace' && p.lastResult.window ? p.lastResult : undefined));
    assert.equal(p.lastError, undefined);
    const { window, tokens } = result;
    assert.ok(window && window.of > 64, `the sonnet has more than 64 tokens (${window?.of})`);
    assert.deepEqual([window.from, window.to], [window.of - 64, window.of]);
    assert.equal(tokens.length, 64);
    for (const token of [tokens[0]!, tokens[31]!, tokens[63]!]) {
      assert.equal(doc.getText(new vscode.Range(doc.positionAt(token.start), doc.positionAt(token.end))), token.text, 'window position → editor range');
    }
    const moved = await p.analyze({ ...p.currentSource, windowFrom: 0 });
    assert.ok(moved?.kind === 'trace' && moved.window);
    assert.deepEqual([moved.window.from, moved.window.to], [0, 64]);
    assert.equal(moved.tokens[0]!.start, poem.search(/\S/), 'the first token of the text');
  });

  test('Continue Text past the context: the model writes, and the panel shows the slid window of the longer text', async () => {
    const doc = await vscode.workspace.openTextDocument({ content: `${poem}\n`, language: 'plaintext' });
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(doc.positionAt(0), doc.positionAt(poem.length));
    const p = (await api()).panel();
    assert.ok(p);
    const before = await p.analyze({ text: poem, title: 'sonnet', uri: doc.uri.toString(), offset: 0 });
    assert.ok(before?.kind === 'trace' && before.window);
    const result = await vscode.commands.executeCommand<{ tokens: number; inserted: string }>('llm101.continueText', { maxNewTokens: 5 });
    assert.ok(result && result.tokens === 5, `five tokens written (${JSON.stringify(result)})`);
    const after = await until('the re-analysis of the longer text', () =>
      p.lastResult?.kind === 'trace' && p.lastResult.window && p.lastResult.window.of > before.window!.of ? p.lastResult : undefined);
    assert.deepEqual([after.window!.to - after.window!.from, after.window!.to], [64, after.window!.of], 'the last 64 tokens, as generation read them');
  });

  test('Compare with… a seeded model of the same sizes: every map side by side with its difference', async () => {
    const panel = await vscode.commands.executeCommand<unknown>('llm101.compareWith', { label: 'seeded 7 (untrained)', seed: 7 });
    assert.ok(panel, 'the compare view opened');
    const compare = (await api()).comparePanel();
    assert.ok(compare);
    const view = await until('the comparison', () => compare.lastView ?? (compare.lastError !== undefined ? null : undefined), 60_000);
    assert.ok(view, `compared (${compare.lastError ?? ''})`);
    assert.match(view.a.label, /A · the playground's model: llm101-window-/);
    assert.equal(view.b.source, 'seeded 7 (untrained)');
    assert.deepEqual([view.b.config.dim, view.b.config.heads, view.b.config.layers, view.b.config.contextLength], [16, 4, 2, 64], 'B takes A’s sizes');
    assert.equal(view.sameTokens, true);
    assert.ok(view.maps.length >= 4 + 4 + 1 + 2 * 4, `${view.maps.length} maps`);
    for (const map of view.maps) assert.ok(map.diff && map.a && map.b, `${map.id}: A, B and A − B`);
    assert.ok(view.nextToken.both && view.nextToken.both.length >= 10);
  });
});
