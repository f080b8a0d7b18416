// Runs inside a real VS Code extension host (code-server 4.100 = VS Code 1.100).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Llm101Api } from '../../src/extension';
import { createSeededGpt } from '../../src/engine/gpt/init';
import { readGptCheckpoint, writeGptCheckpoint } from '../../src/engine/io/gptCheckpoint';
import { EXT_ID, analyzeInEditor, api, setting, until } from './host';

interface Manifest {
  contributes: {
    walkthroughs: { steps: { id: string; description: string; media: { markdown: string } }[] }[];
    commands: { command: string }[];
    configuration: { properties: Record<string, { default?: unknown; description?: string; markdownDescription?: string }> };
  };
}

function manifest(): Manifest {
  const ext = vscode.extensions.getExtension(EXT_ID);
  assert.ok(ext);
  return JSON.parse(fs.readFileSync(path.join(ext.extensionPath, 'package.json'), 'utf8')) as Manifest;
}

async function openPoem(): Promise<vscode.TextEditor> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the test workspace is open');
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder.uri, 'poem.txt'));
  return vscode.window.showTextDocument(doc);
}

suite('LLM 101 Playground in the extension host', () => {
  suiteTeardown(async () => {
    for (const key of ['heads', 'dropout']) await setting(key, undefined);
  });

  test('activates', async () => {
    const ext = vscode.extensions.getExtension(EXT_ID);
    assert.ok(ext);
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  test('every command in contributes.commands is registered', async () => {
    await api();
    const registered = new Set(await vscode.commands.getCommands(true));
    const declared = manifest().contributes.commands.map((c) => c.command);
    assert.ok(declared.length >= 2);
    const missing = declared.filter((c) => !registered.has(c));
    assert.deepEqual(missing, [], `declared but not registered: ${missing.join(', ')}`);
  });

  test('every setting has a default and a description', () => {
    const properties = manifest().contributes.configuration.properties;
    const keys = Object.keys(properties);
    assert.ok(keys.length >= 10, `only ${keys.length} settings`);
    for (const key of keys) {
      const p = properties[key];
      assert.ok(p && 'default' in p, `${key} has no default`);
      assert.ok(p.description || p.markdownDescription, `${key} has no description`);
      assert.deepEqual(vscode.workspace.getConfiguration().inspect(key)?.defaultValue, p.default, `${key}: VS Code sees another default`);
    }
  });

  test('the walkthrough starts with downloading GPT-2, then teaches the seven stages in order, each step opening its section', async () => {
    const ext = vscode.extensions.getExtension(EXT_ID);
    assert.ok(ext);
    const [download, ...steps] = manifest().contributes.walkthroughs[0]?.steps ?? [];
    assert.equal(download?.id, 'download-gpt2');
    assert.match(download.description, /\(command:llm101\.downloadModel\?%5B%7B%22repo%22%3A%22gpt2%22%7D%5D\)/);
    assert.ok(fs.existsSync(path.join(ext.extensionPath, download.media.markdown)));
    assert.deepEqual(steps.map((s) => s.id), ['tokens', 'embeddings', 'attention-simple', 'attention-self', 'attention-causal', 'attention-heads', 'layernorm']);
    const registered = new Set(await vscode.commands.getCommands(true));
    for (const step of steps) {
      assert.ok(fs.existsSync(path.join(ext.extensionPath, step.media.markdown)), `${step.media.markdown} is missing`);
      const link = /\(command:([\w.]+)\?([^)]+)\)/.exec(step.description);
      assert.ok(link, `${step.id} has no command link`);
      assert.ok(registered.has(link[1] ?? ''), `${link[1]} is not registered`);
      assert.deepEqual(JSON.parse(decodeURIComponent(link[2] ?? '')), [step.id]);
    }
  });

  test('analyze with no editor open shows a message and does not throw', async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const result = await vscode.commands.executeCommand('llm101.analyzeSelection');
    assert.equal(result, undefined);
  });

  test('analyze on a whitespace-only selection shows a message and opens no panel', async () => {
    const editor = await openPoem();
    const blankLine = editor.document.lineAt(2).range; // the poem ends with a blank line
    editor.selection = new vscode.Selection(blankLine.start, editor.document.lineAt(2).rangeIncludingLineBreak.end);
    (await api()).panel()?.dispose();
    const result = await vscode.commands.executeCommand('llm101.analyzeSelection');
    assert.equal(result, undefined);
    assert.equal((await api()).panel(), undefined);
  });

  test('analyze on a selection opens the panel and posts a trace with one row per token', async () => {
    const editor = await openPoem();
    const line = editor.document.lineAt(0);
    editor.selection = new vscode.Selection(line.range.start, line.range.end);
    await vscode.commands.executeCommand('llm101.analyzeSelection');
    const p = (await api()).panel();
    assert.ok(p, 'the command opened the panel');
    const result = await until('a trace', () => (p.lastResult?.kind === 'trace' ? p.lastResult : undefined));
    // "The sea reads the shore one wave at a time." -> 10 word tokens + "." = 11 with the word tokenizer.
    assert.equal(result.tokens.length, 11);
    assert.equal(result.config.heads, vscode.workspace.getConfiguration('llm101').get('heads'));
    // The engine process keeps the trace; the host asks it for cells, as a hover does.
    const { engine } = await api();
    const cells = await engine.cells(result.traceId, { paths: ['causal.weights', 'multiHead.heads.0.weights'], r0: 0, c0: 0, rows: 11, cols: 11 });
    assert.ok(cells, 'the engine still has the trace');
    assert.equal(cells.values.length, 2);
    for (const weights of cells.values) {
      for (let r = 0; r < 11; r++) {
        const row = weights.subarray(r * 11, r * 11 + 11);
        assert.ok(Math.abs(row.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-5, `row ${r} of the causal weights sums to 1`);
        assert.ok(row.subarray(r + 1).every((w: number) => w === 0), `row ${r} is 0 above the diagonal`);
      }
    }
    await p.whenRendered(); // the webview painted it
  });

  test('a settings change re-renders the open panel', async () => {
    const p = (await api()).panel();
    assert.ok(p);
    await setting('heads', 4);
    const result = await until('a trace with 4 heads', () =>
      p.lastResult?.kind === 'trace' && p.lastResult.config.heads === 4 ? p.lastResult : undefined);
    assert.equal(result.config.headDim, 7);
  });

  test('an invalid setting shows the inline error with the fix, and the panel keeps working', async () => {
    const p = (await api()).panel();
    assert.ok(p);
    await setting('heads', 5);
    const error = await until('the inline error', () => p.lastError);
    assert.match(error, /heads \(5\) must divide dim \(28\)/);
    assert.match(error, /\(setting llm101\.heads\)$/, 'the panel words the fix with the setting');
    assert.match(error, /1, 2, 4, 7, 14, 28/);
    assert.equal(p.lastErrorSection, 'attention-heads', 'shown at the top of the multi-head section too');
    await setting('heads', 7);
    await until('a trace with 7 heads again', () =>
      p.lastResult?.kind === 'trace' && p.lastResult.config.heads === 7 && p.lastError === undefined ? p.lastResult : undefined);
  });
});

suite('Tokens in the editor', () => {
  test('the status bar counts the selection\'s tokens with the current tokenizer', async () => {
    const { tokens } = await api();
    const editor = await openPoem();
    const line = editor.document.lineAt(1); // "Every token remembers the tokens before it."
    editor.selection = new vscode.Selection(line.range.start, line.range.end);
    await tokens.update();
    assert.deepEqual(tokens.lastCount, { tokens: 8, tokenizer: 'word', chars: line.text.length });
    await setting('tokenizer', 'gpt2');
    await tokens.update();
    assert.equal(tokens.lastCount?.tokenizer, 'gpt2');
    // GPT-2: "Every", " token", " remembers", " the", " tokens", " before", " it", "." = 8 as well;
    // the whole document differs between the two tokenizers.
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    await tokens.update();
    const gpt2Count = tokens.lastCount?.tokens;
    await setting('tokenizer', undefined);
    await tokens.update();
    assert.equal(tokens.lastCount?.tokenizer, 'word');
    assert.ok(gpt2Count && tokens.lastCount && gpt2Count !== tokens.lastCount.tokens + 1000, 'both counted');
    assert.equal(tokens.lastCount.chars, editor.document.getText().length);
    // A GPT-2 checkpoint brings its tokenizer: the status bar counts what the panel analyzes.
    await setting('weightsPath', path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'gpt', 'gpt2-tiny'));
    await tokens.update();
    assert.deepEqual([tokens.lastCount?.tokenizer, tokens.lastCount?.tokens], ['gpt2', gpt2Count]);
    await setting('weightsPath', 'seeded');
    await tokens.update();
    assert.equal(tokens.lastCount?.tokenizer, 'word');
  });

  test('Show Token Boundaries decorates every token of the selection, and toggles off', async () => {
    const { tokens } = await api();
    const editor = await openPoem();
    const line = editor.document.lineAt(0); // "The sea reads the shore one wave at a time."
    editor.selection = new vscode.Selection(line.range.start, line.range.end);
    const on = await vscode.commands.executeCommand<boolean>('llm101.showTokenBoundaries');
    assert.equal(on, true);
    await tokens.update();
    const texts = tokens.lastBoundaries.map((r) => editor.document.getText(r));
    assert.deepEqual(texts.sort(), ['.', 'The', 'a', 'at', 'one', 'reads', 'sea', 'shore', 'the', 'time', 'wave'].sort());
    const off = await vscode.commands.executeCommand<boolean>('llm101.showTokenBoundaries');
    assert.equal(off, false);
    assert.equal(tokens.lastBoundaries.length, 0);
  });
});

suite('Bad input leaves the editor and the panel working', () => {
  const scratch = path.join(os.tmpdir(), `llm101-ext-${process.pid}`);
  suiteSetup(() => fs.mkdirSync(scratch, { recursive: true }));
  suiteTeardown(async () => {
    for (const key of ['maxTokens', 'corpusPath', 'dropout', 'tokenizer']) await setting(key, undefined);
    await setting('weightsPath', 'seeded');
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  const analyzeText = async (text: string) => (await analyzeInEditor(text)).p;

  async function nextOutcome(p: NonNullable<ReturnType<Llm101Api['panel']>>) {
    const run = p.currentRunId;
    await until('the run to finish', () => (p.settledRunId >= run ? true : undefined));
    return { error: p.lastError, result: p.lastResult };
  }

  test('5,000 tokens with maxTokens 1,024: a message with the limit and no trace for them', async () => {
    await setting('maxTokens', 1024);
    const words = Array.from({ length: 5000 }, (_, i) => ['sea', 'tide', 'light', 'page'][i % 4]).join(' ');
    const p = await analyzeText(words);
    const { error } = await nextOutcome(p);
    assert.match(error ?? '', /5,000 tokens, more than the 1,024 analyzed without asking\. .* \(setting llm101\.maxTokens\)$/);
    const result = await p.analyze({ text: words, title: 'words' });
    assert.equal(result?.kind, 'tooManyTokens');
    if (result?.kind === 'tooManyTokens') {
      // The offered cut ends exactly after token 1,024.
      assert.equal(words.slice(0, result.cutAt).split(' ').length, 1024);
    }
    await setting('maxTokens', undefined);
  });

  test('a missing corpusPath names the path and the setting', async () => {
    await setting('corpusPath', path.join(scratch, 'no-such-corpus'));
    const p = await analyzeText('The tide returns.');
    const { error } = await nextOutcome(p);
    assert.match(error ?? '', /no-such-corpus/);
    await setting('corpusPath', undefined);
    await nextOutcome(p);
    assert.equal(p.lastError, undefined, 'working again with the bundled poems');
  });

  test('a broken weights file gives a clear message, then the panel recovers', async () => {
    const broken = path.join(scratch, 'broken.safetensors');
    fs.writeFileSync(broken, Buffer.from([1, 2, 3, 4, 5]));
    await setting('weightsPath', broken);
    const p = await analyzeText('The tide returns.');
    const { error } = await nextOutcome(p);
    assert.match(error ?? '', /broken\.safetensors/);
    await setting('weightsPath', 'seeded');
    await nextOutcome(p);
    assert.equal(p.lastError, undefined);
  });

  test('closing the panel during a run neither throws nor breaks the next run', async () => {
    const p = await analyzeText('Night shift, seventh floor, the city hums.');
    p.dispose();
    assert.equal((await api()).panel(), undefined);
    const again = await analyzeText('The kitchen at six.');
    const { error, result } = await nextOutcome(again);
    assert.equal(error, undefined);
    assert.equal(result?.kind, 'trace');
  });

  test('Open Playground shows a sample poem and can jump to a section', async () => {
    (await api()).panel()?.dispose();
    await vscode.commands.executeCommand('llm101.openPlayground', 'layernorm');
    const p = (await api()).panel();
    assert.ok(p);
    const { result } = await nextOutcome(p);
    assert.equal(result?.kind, 'trace');
    assert.ok(p.currentSource.text.length > 20, 'a poem, not a fragment');
  });
});

suite('The model: next to the stages, in the editor, from a checkpoint', () => {
  const fixtures = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'gpt');
  suiteTeardown(async () => {
    for (const key of ['layers', 'tokenizer']) await setting(key, undefined);
    await setting('weightsPath', 'seeded');
  });

  const analyzeText = analyzeInEditor;

  test('the seeded model runs beside the stages with llm101.layers blocks, untrained', async () => {
    await setting('layers', 3);
    const { p } = await analyzeText('The sea reads the shore one wave at a time.');
    const result = await until('a trace with a model', () =>
      p.lastResult?.kind === 'trace' && p.lastResult.model && 'config' in p.lastResult.model && p.lastResult.model.config.layers === 3 ? p.lastResult : undefined);
    assert.ok(result.model && 'config' in result.model);
    assert.match(result.model.source, /seeded 123 \(untrained\)/);
    const view = await (await api()).engine.nextToken(result.traceId, 10, { temperature: 1, topK: 5 });
    assert.equal(view.tokens.length, 5);
    const sum = view.tokens.reduce((a, t) => a + t.probability, 0);
    assert.ok(sum > 0.99 && sum < 1.0001, `top-5 at k = 5 is the whole distribution: ${sum}`);
  });

  test('Continue Text writes after the selection and one Undo removes it all', async () => {
    await setting('layers', 2);
    const text = 'The lamp in the kitchen window';
    const doc = await vscode.workspace.openTextDocument({ content: `${text}\nlast line\n`, language: 'plaintext' });
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(0, 0, 0, text.length);
    const before = doc.getText();
    const result = await vscode.commands.executeCommand<{ inserted: string; tokens: number; reason: string }>('llm101.continueText', { maxNewTokens: 6 });
    assert.ok(result, 'the command returned what it wrote');
    assert.equal(result.tokens, 6);
    assert.equal(result.reason, 'length');
    assert.ok(result.inserted.trim().length > 0);
    assert.equal(doc.getText(), `${text}${result.inserted}\nlast line\n`, 'inserted right after the selection');
    await vscode.window.showTextDocument(doc);
    await vscode.commands.executeCommand('undo');
    assert.equal(doc.getText(), before, 'one Undo removes the whole continuation');
  });

  test('Cancel stops the writing: the editor holds exactly the tokens reported, and nothing comes after', async () => {
    await setting('layers', 2);
    const text = 'The lamp in the kitchen window';
    const open = async () => {
      const doc = await vscode.workspace.openTextDocument({ content: `${text}\nlast line\n`, language: 'plaintext' });
      const editor = await vscode.window.showTextDocument(doc);
      editor.selection = new vscode.Selection(0, 0, 0, text.length);
      return doc;
    };
    const doc = await open();
    const before = doc.getText();
    const { engine } = await api();
    // Cancel as soon as the editor holds the first tokens (the model writes faster than the editor takes them)
    let cancelledAt = 0;
    const firstEdit = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document !== doc || cancelledAt) return;
      cancelledAt = performance.now();
      engine.cancelGeneration();
    });
    const result = await vscode.commands.executeCommand<{ inserted: string; tokens: number; reason: string }>('llm101.continueText', { maxNewTokens: 1000, temperature: 0 });
    const stopMs = performance.now() - cancelledAt;
    firstEdit.dispose();
    assert.ok(result);
    const version = doc.version;
    console.log(`    Cancel after ${result.tokens} of 1,000 tokens: the command ended ${stopMs.toFixed(0)} ms after the cancel`);
    assert.equal(result.reason, 'cancelled');
    assert.ok(cancelledAt > 0 && result.tokens > 0 && result.tokens < 1000, `${result.tokens} tokens`);
    assert.equal(doc.getText(), `${text}${result.inserted}\nlast line\n`, 'the editor holds what the command reports');
    // exactly that many tokens: a run of result.tokens tokens (temperature 0) writes the same text. It runs on the
    // engine's thread after the cancelled one, so every token message of that one has arrived by its end.
    const again = await open();
    const exact = await vscode.commands.executeCommand<{ inserted: string; tokens: number; reason: string }>('llm101.continueText', { maxNewTokens: result.tokens, temperature: 0 });
    assert.equal(exact?.reason, 'length');
    assert.equal(exact.inserted, result.inserted, `the text of ${result.tokens} tokens`);
    assert.equal(doc.version, version, 'nothing was written after the cancel was acknowledged');
    assert.notEqual(again, doc);
    await vscode.window.showTextDocument(doc);
    await vscode.commands.executeCommand('undo');
    assert.equal(doc.getText(), before, 'one Undo removes what was written before the cancel');
  });

  test('a continuation written at the start of a line takes its own line; after a space it does not start with another', async () => {
    await setting('layers', 2);
    const first = 'The lamp in the kitchen window';
    const doc = await vscode.workspace.openTextDocument({ content: `${first}\nThe light does not move\n`, language: 'plaintext' });
    const editor = await vscode.window.showTextDocument(doc);
    editor.selection = new vscode.Selection(1, 0, 1, 0); // the cursor at the start of line 2: the prompt is line 1 and its break
    const result = await vscode.commands.executeCommand<{ inserted: string; tokens: number }>('llm101.continueText', { maxNewTokens: 5 });
    assert.ok(result && result.tokens === 5);
    assert.match(result.inserted, /^\S/, 'the new line starts with the continuation, not a space');
    assert.ok(result.inserted.endsWith('\n'), 'a line break keeps the next line below it');
    assert.equal(doc.getText(), `${first}\n${result.inserted}The light does not move\n`);
    // inside a line, before a space: a space after the prompt's last word, none doubled before " in"
    editor.selection = new vscode.Selection(0, 0, 0, 'The lamp'.length);
    const mid = await vscode.commands.executeCommand<{ inserted: string; tokens: number }>('llm101.continueText', { maxNewTokens: 3 });
    assert.ok(mid);
    assert.match(mid.inserted, /^ \S.*\S$/, 'one space before the continuation, none after it');
    assert.ok(doc.getText().startsWith(`The lamp${mid.inserted} in the kitchen window`));
  });

  test('a book-layout checkpoint through llm101.weightsPath is the model of every section', async () => {
    const { engine } = await api();
    const ext = vscode.extensions.getExtension(EXT_ID);
    assert.ok(ext);
    const corpusPath = path.join(ext.extensionPath, 'media', 'corpus');
    const { vocabSize } = await engine.tokenize({ text: 'x', tokenizer: 'word', corpusPath, bpeVocabSize: 512 });
    // a checkpoint in the book's names for the word vocabulary of the bundled poems: 3 blocks, 4 heads
    const file = path.join(os.tmpdir(), `llm101-book-${process.pid}.safetensors`);
    const config = { vocabSize, contextLength: 64, dim: 16, heads: 4, layers: 3, qkvBias: false, layerNormEps: 1e-5 };
    writeGptCheckpoint(file, createSeededGpt(config, 7));
    await setting('weightsPath', file);
    const { p } = await analyzeText('The tide returns.');
    const result = await until('a trace with the checkpoint', () =>
      p.lastResult?.kind === 'trace' && p.lastResult.weightsPath === file ? p.lastResult : undefined);
    assert.ok(result.model && 'config' in result.model, 'the model ran');
    assert.deepEqual([result.model.config.layers, result.model.config.heads, result.model.config.dim], [3, 4, 16]);
    assert.equal(result.model.source, path.basename(file));
    assert.equal(result.config.heads, 4, 'the stages take the checkpoint heads');
    // a checkpoint without heads in its metadata, whose dim 32 the default 7 heads do not divide:
    // the message says what to set, and the panel keeps working
    await setting('weightsPath', path.join(fixtures, 'book-small', 'weights.safetensors'));
    const error = await until('the message for the other checkpoint', () => p.lastError);
    assert.match(error, /heads \(7\) must divide dim \(32\); valid head counts: 1, 2, 4, 8, 16, 32 \(setting llm101\.heads\)$/);
    await setting('weightsPath', 'seeded');
    await until('a seeded trace again', () => (p.lastResult?.kind === 'trace' && p.lastError === undefined && p.lastResult.weightsPath === undefined ? true : undefined));
    fs.rmSync(file, { force: true });
  });

  test('with llm101.weightsPath unset the panel runs the bundled poems model, names it and says how far it was trained', async () => {
    assert.equal(vscode.workspace.getConfiguration('llm101').inspect<string>('weightsPath')?.defaultValue, 'poems', 'the default is the trained model');
    await setting('weightsPath', undefined); // as in a fresh profile
    try {
      const { p } = await analyzeText('Each night the keeper climbs the iron stair');
      const bundled = path.join('media', 'models', 'poems.safetensors');
      const result = await until('a trace of the bundled model', () =>
        p.lastResult?.kind === 'trace' && p.lastResult.weightsPath?.endsWith(bundled) ? p.lastResult : undefined);
      assert.equal(result.model && 'source' in result.model ? result.model.source : undefined, 'poems (bundled)', 'the panel names the bundled model');
      assert.ok(result.trained && result.trained.step > 0 && result.trained.trainLoss !== undefined && result.trained.valLoss !== undefined,
        `the checkpoint's training reaches the panel: ${JSON.stringify(result.trained)}`);
      assert.ok(result.trained.trainLoss! < Math.log(result.config.vocabSize), 'it learned: its train loss is below a uniform guess');
    } finally {
      await setting('weightsPath', 'seeded');
    }
  });

  test('a knob value that does not fit is refused before it is written', async () => {
    const { p } = await analyzeText('The tide returns.');
    await until('a trace', () => (p.lastResult?.kind === 'trace' ? true : undefined));
    assert.match(p.knobProblem('heads', 5) ?? '', /heads \(5\) must divide dim \(28\); valid head counts: 1, 2, 4, 7, 14, 28/);
    assert.match(p.knobProblem('heads', 2.5) ?? '', /whole number/);
    assert.match(p.knobProblem('tokenizer', 'foo') ?? '', /must be one of word, bpe, gpt2/);
    assert.equal(p.knobProblem('heads', 4), undefined);
    const inspected = vscode.workspace.getConfiguration('llm101').inspect('heads');
    assert.notEqual(inspected?.globalValue, 5);
    assert.notEqual(inspected?.workspaceValue, 5);
  });
});

suite('Train Model', () => {
  suiteTeardown(async () => {
    await setting('layers', undefined);
    await setting('weightsPath', 'seeded');
    // a finished run makes its checkpoint the workspace's model
    await vscode.workspace.getConfiguration('llm101').update('weightsPath', undefined, vscode.ConfigurationTarget.Workspace);
  });

  test('the tiny preset on the bundled poems trains, saves a checkpoint that becomes the model, and the loss falls', async () => {
    type End = { state: string; file?: string; step: number; trainLoss: number | null; model?: string; best?: { file: string; step: number; valLoss: number } };
    const end = await vscode.commands.executeCommand<End>('llm101.trainModel', { preset: 'tiny', steps: 60, name: `test-${process.pid}` });
    assert.ok(end, 'the command returned how the run ended');
    assert.equal(end.state, 'done', JSON.stringify(end));
    assert.equal(end.step, 60);
    assert.ok(end.file && fs.existsSync(end.file), 'the checkpoint exists');
    // the best validation checkpoint is kept beside it; it is the model when training went on past it
    assert.ok(end.best && fs.existsSync(end.best.file) && end.best.file.endsWith('.best.safetensors'), JSON.stringify(end.best));
    assert.equal(end.model, end.best.step < end.step ? end.best.file : end.file);
    assert.equal(vscode.workspace.getConfiguration('llm101').get('weightsPath'), end.model, 'it became the playground\'s model');
    // the panel's events: the loss at the last evaluation is below the first
    const evals = ((await api()).trainingPanel()?.messages ?? []).flatMap((m) => (m.type === 'event' && m.event.kind === 'eval' ? [m.event] : []));
    assert.ok(evals.length >= 2);
    assert.ok((evals.at(-1)!.trainLoss ?? Infinity) < (evals[0]!.trainLoss ?? 0) - 0.3, `train loss ${evals[0]!.trainLoss} -> ${evals.at(-1)!.trainLoss}`);
    // Analyze Selection now runs the trained model
    const { p } = await analyzeInEditor('The sea reads the shore');
    const result = await until('a trace with the trained model', () =>
      p.lastResult?.kind === 'trace' && p.lastResult.weightsPath === end.model ? p.lastResult : undefined);
    assert.ok(result.model && 'config' in result.model);
    assert.equal(result.model.source, path.basename(end.model));
    fs.rmSync(end.file, { force: true });
    fs.rmSync(end.best.file, { force: true });
  });

  test('the copying task trains with its own recipe (one head a block) on the generated corpus, and the panel names it', async () => {
    type End = { state: string; file?: string; step: number; best?: { file: string } };
    const end = await vscode.commands.executeCommand<End>('llm101.trainModel', { task: 'copying', steps: 20, name: `copying-${process.pid}` });
    assert.ok(end?.file, JSON.stringify(end));
    assert.equal(end.state, 'done', JSON.stringify(end));
    const { model, metadata } = readGptCheckpoint(end.file);
    assert.deepEqual([model.config.layers, model.config.heads, model.config.dim, model.config.contextLength], [2, 1, 64, 64]);
    assert.equal(metadata['llm101.corpus'], 'the copying task (generated)');
    const messages = (await api()).trainingPanel()?.messages ?? [];
    const started = messages.find((m) => m.type === 'start');
    assert.ok(started && JSON.stringify(started).includes('the copying task (generated)'), JSON.stringify(started)?.slice(0, 300));
    fs.rmSync(end.file, { force: true });
    if (end.best) fs.rmSync(end.best.file, { force: true });
  });

  test('Stop keeps what was learned: a checkpoint of the last completed step', async () => {
    const started = vscode.commands.executeCommand<{ state: string; file?: string; step: number }>(
      'llm101.trainModel', { preset: 'tiny', steps: 100_000, name: `stop-${process.pid}` },
    );
    const { trainingPanel, stopTraining } = await api();
    await until('some steps', () => ((trainingPanel()?.messages ?? []).some((m) => m.type === 'event' && m.event.kind === 'steps' && m.event.step >= 20) ? true : undefined), 60_000);
    stopTraining();
    const end = await started;
    assert.ok(end);
    assert.equal(end.state, 'stopped');
    assert.ok(end.step >= 20 && end.file && fs.existsSync(end.file));
    fs.rmSync(end.file!, { force: true });
  });
});
