// "Continue Text" and "Load Model…": the model writes after the selection, and a checkpoint
// becomes the panel's model.
import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EngineClient } from '../host/engineClient';
import { PlaygroundPanel } from '../panels/PlaygroundPanel';
import { readSettings, SECTION } from '../settings';
import { editorForCommand } from './analyze';

export interface ContinueOptions {
  maxNewTokens?: number;
  temperature?: number;
  topK?: number | null;
}

export interface ContinueResult {
  /** The text inserted (possibly cut short by Cancel). */
  inserted: string;
  tokens: number;
  reason: 'length' | 'eos' | 'cancelled';
}

/**
 * The text a generation continues: the selection (or, without one, the document up to the
 * cursor), and the offset after which the new tokens go.
 */
function promptOf(editor: vscode.TextEditor): { prompt: string; at: vscode.Position } | string {
  const doc = editor.document;
  const selection = editor.selection;
  const range = selection.isEmpty ? new vscode.Range(new vscode.Position(0, 0), selection.active) : selection;
  const prompt = doc.getText(range);
  if (!prompt.trim()) return 'LLM 101: select the text to continue (or put the cursor after it), then run Continue Text.';
  return { prompt, at: range.end };
}

/**
 * Appends generated tokens after the selection as they come, as one undoable edit: the first
 * insertion opens an undo stop, later ones join it, so one Undo removes the whole continuation.
 * A progress notification offers Cancel; what was generated until then stays.
 */
export async function continueText(engine: EngineClient, extensionPath: string, options: ContinueOptions = {}): Promise<ContinueResult | undefined> {
  const editor = editorForCommand();
  if (!editor) {
    void vscode.window.showInformationMessage('LLM 101: open a file and select some text, then run Continue Text.');
    return undefined;
  }
  const source = promptOf(editor);
  if (typeof source === 'string') {
    void vscode.window.showInformationMessage(source);
    return undefined;
  }
  if (editor.document.isClosed || editor.document.uri.scheme === 'output') return undefined;
  const settings = readSettings(extensionPath);
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const maxNewTokens = options.maxNewTokens ?? cfg.get<number>('maxNewTokens', 30);
  const temperature = options.temperature ?? cfg.get<number>('temperature', 0);
  const topK = options.topK !== undefined ? options.topK : cfg.get<number>('topK', 0) || null;
  const doc = editor.document;
  const start = doc.offsetAt(source.at);
  let inserted = '';
  let version = doc.version;
  let edits: Promise<unknown> = Promise.resolve();
  let stoppedByUser = '';
  const panel = PlaygroundPanel.current;

  /** Inserts what is new in `text` (the decoded continuation so far) at the end of what was inserted. */
  const follow = (text: string, count: number) => {
    // A BPE piece can end inside a UTF-8 character (decoded as U+FFFD until the rest arrives).
    const ready = text.replace(/\uFFFD+$/, '');
    if (!ready.startsWith(inserted) || ready.length === inserted.length) return;
    const piece = ready.slice(inserted.length);
    const first = inserted === '';
    const offset = start + inserted.length; // where this piece goes, fixed now: `inserted` grows before the edit runs
    inserted = ready;
    edits = edits.then(async () => {
      if (stoppedByUser) return;
      if (doc.isClosed || doc.version !== version) {
        stoppedByUser = 'the document changed while the model was writing';
        engine.cancelGeneration();
        return;
      }
      const at = doc.positionAt(offset);
      const target = vscode.window.visibleTextEditors.find((e) => e.document === doc) ?? editor;
      const ok = await target.edit((b) => b.insert(at, piece), { undoStopBefore: first, undoStopAfter: false });
      version = doc.version;
      if (!ok) {
        stoppedByUser = 'the editor refused the edit';
        engine.cancelGeneration();
      }
    });
    panel?.postGeneration({ state: 'running', text: inserted, tokens: count });
  };

  const request = { ...settings, text: source.prompt };
  const run = vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'LLM 101: continuing the text', cancellable: true },
    async (progress, token) => {
      token.onCancellationRequested(() => engine.cancelGeneration());
      let last = 0;
      return engine.generate(request, { maxNewTokens, temperature, topK, seed: settings.seed }, ({ text, count }) => {
        progress.report({ message: `${count} of ${maxNewTokens} tokens`, increment: ((count - last) / maxNewTokens) * 100 });
        last = count;
        follow(text, count);
      });
    },
  );
  try {
    const result = await run;
    follow(result.text, result.generated.length);
    await edits;
    if (stoppedByUser) void vscode.window.showWarningMessage(`LLM 101: generation stopped: ${stoppedByUser}. What was written stays (Undo removes it).`);
    panel?.postGeneration({ state: result.reason === 'cancelled' ? 'cancelled' : 'done', text: inserted, tokens: result.generated.length });
    // the panel follows: it shows the prompt with its continuation
    if (panel && !panel.disposed && inserted) {
      void panel.analyze({ text: source.prompt + inserted, title: source.prompt + inserted, uri: doc.uri.toString(), offset: start - source.prompt.length });
    }
    return { inserted, tokens: result.generated.length, reason: result.reason };
  } catch (err) {
    await edits;
    const message = err instanceof Error ? err.message : String(err);
    panel?.postGeneration({ state: 'error', text: inserted, tokens: 0, message });
    void vscode.window.showErrorMessage(`LLM 101: ${message}`);
    return undefined;
  }
}

/** The model trained on the bundled poems that ships with the extension (npm run train:sample). */
export function bundledModelPath(extensionPath: string): string {
  return path.join(extensionPath, 'media', 'models', 'poems.safetensors');
}

/**
 * Picks the model: the bundled trained one, seeded and untrained (the setting cleared), or a
 * checkpoint (a .safetensors file or a Hugging Face folder); writes llm101.weightsPath.
 */
export async function loadModel(extensionPath: string): Promise<string | undefined> {
  const bundled = bundledModelPath(extensionPath);
  const items: (vscode.QuickPickItem & { id: 'bundled' | 'seeded' | 'file' })[] = [
    ...(fs.existsSync(bundled) ? [{ id: 'bundled' as const, label: 'The bundled model', detail: 'a small GPT trained on the bundled poems (word tokenizer)' }] : []),
    { id: 'seeded', label: 'Seeded, untrained', detail: 'random weights from llm101.seed: the shapes are real, the numbers are not learned' },
    { id: 'file', label: 'A checkpoint file or folder…', detail: 'the book\'s GPTModel (.safetensors), a Hugging Face GPT-2 folder, or a model trained here' },
  ];
  const choice = await vscode.window.showQuickPick(items, { title: 'LLM 101: Load Model', placeHolder: 'Which weights should the playground use?' });
  if (!choice) return undefined;
  const scope = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  if (choice.id !== 'file') {
    const value = choice.id === 'bundled' ? bundled : undefined;
    await vscode.workspace.getConfiguration(SECTION).update('weightsPath', value, scope);
    void vscode.window.showInformationMessage(`LLM 101: the playground now uses ${choice.id === 'bundled' ? 'the bundled model' : 'seeded, untrained weights'}.`);
    return value;
  }
  const picked = await vscode.window.showOpenDialog({
    title: 'LLM 101: Load Model (a .safetensors checkpoint, or a folder with model.safetensors and config.json)',
    canSelectFiles: true,
    canSelectFolders: true,
    canSelectMany: false,
    filters: { 'safetensors checkpoints': ['safetensors'] },
    openLabel: 'Load Model',
  });
  const target = picked?.[0];
  if (!target) return undefined;
  const target0 = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration(SECTION).update('weightsPath', target.fsPath, target0);
  void vscode.window.showInformationMessage(`LLM 101: the panel now uses ${vscode.workspace.asRelativePath(target)} (llm101.weightsPath).`);
  return target.fsPath;
}
